import type { PipelineMetrics } from '../metrics-contract.js';
import { errorList, formatCount, formatMs, windowLabel } from './metrics-format.js';
import type { GovernorReport } from '../governor/report.js';
import { governorRows } from './governor-format.js';

/** What one refresh of `top` shows, from either target. */
export interface TopSnapshot {
  stack: string;
  target: 'aws' | 'local';
  /** When it was read (epoch ms). */
  at: number;
  model?: string;
  queues: { name: string; visible: number; inFlight: number; delayed: number }[];
  mapping?: { state?: string; limit?: number; inFlight?: number | null };
  metrics: PipelineMetrics;
  /** AWS: when CloudWatch was last read (it has one-minute data, read once a minute). */
  metricsAt: number;
  governor?: GovernorReport;
}

export interface ScreenOptions {
  width: number;
  height: number;
  color: boolean;
  /** Between refreshes; undefined for a single frame (--once), which says nothing of refreshing. */
  intervalMs?: number;
  /** The screen reads keys (full screen on a terminal): it says that q quits. */
  keys?: boolean;
}

const BARS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled to the largest; a blank where there was no value. */
export function sparkline(values: (number | null)[]): string {
  const top = Math.max(0, ...values.map((v) => v ?? 0));
  return values.map((v) => (v === null ? ' ' : top === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((v / top) * (BARS.length - 1)))])).join('');
}

const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - text.length));
const padLeft = (text: string, width: number) => ' '.repeat(Math.max(0, width - text.length)) + text;
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** The lines of one frame, cut to the terminal's width and height; the caller draws them. */
export function renderTop(s: TopSnapshot, options: ScreenOptions): string[] {
  const paint = (code: string, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const m = s.metrics;
  const perMinute = (v: number) => `${formatCount(v)}/min`;
  const sparkWidth = Math.max(5, options.width - 32);
  const recent = <T>(values: T[]) => values.slice(-sparkWidth);
  const concurrency = s.mapping
    ? `${s.mapping.inFlight ?? '-'} in flight of ${s.mapping.limit ?? '?'} at most (mapping ${s.mapping.state ?? '?'})`
    : 'no mapping';
  const metricsNote = s.target === 'aws' ? `CloudWatch at ${clock(s.metricsAt)} UTC` : 'local counters';
  const lines: string[] = [
    `${paint('1', `bedrock-queue top  ${s.stack}`)} (${s.target})  ${clock(s.at)} UTC${options.intervalMs ? `  every ${options.intervalMs / 1000} s` : ''}${options.keys ? `  ${paint('2', 'q quits')}` : ''}`,
    `Model ${s.model ?? '?'}   Concurrency ${concurrency}`,
    ...governorRows(s.governor).map(([label, text]) => `${label} ${text}`),
    '',
    paint('1', `${pad('Queue', 22)}${padLeft('waiting', 9)}${padLeft('in flight', 11)}${padLeft('delayed', 9)}`),
    ...s.queues.map((q) => `${pad(q.name, 22)}${padLeft(String(q.visible), 9)}${padLeft(String(q.inFlight), 11)}${padLeft(String(q.delayed), 9)}`),
    `Oldest request waiting: ${m.oldestRequestAgeSeconds === null ? '-' : formatMs(m.oldestRequestAgeSeconds * 1000)}`,
    '',
    paint('1', `${pad(`Per minute, ${windowLabel(m)}`, 30)}${paint('2', metricsNote)}`),
    `${pad('Results ok', 15)}${padLeft(perMinute(m.resultsPerMinute.ok), 12)}  ${paint('32', sparkline(recent(m.perMinute.ok)))}`,
    `${pad('Results error', 15)}${padLeft(perMinute(m.resultsPerMinute.error), 12)}  ${paint('31', sparkline(recent(m.perMinute.error)))}`,
    `${pad('Tokens in', 15)}${padLeft(perMinute(m.tokensPerMinute.input), 12)}  ${sparkline(recent(m.perMinute.inputTokens))}`,
    `${pad('Tokens out', 15)}${padLeft(perMinute(m.tokensPerMinute.output), 12)}  ${sparkline(recent(m.perMinute.outputTokens))}`,
    `${pad('End to end p95', 15)}${padLeft(formatMs(m.latencyMs.endToEnd.p95), 12)}  ${paint('33', sparkline(recent(m.perMinute.endToEndP95)))}`,
    '',
    `Latency     end to end p50 ${formatMs(m.latencyMs.endToEnd.p50)}  p95 ${formatMs(m.latencyMs.endToEnd.p95)}  p99 ${formatMs(m.latencyMs.endToEnd.p99)}`,
    `            model      p50 ${formatMs(m.latencyMs.model.p50)}  p95 ${formatMs(m.latencyMs.model.p95)}  p99 ${formatMs(m.latencyMs.model.p99)}`,
    `Throttled   ${m.throttledCallsPerResult === null ? '-' : `${m.throttledCallsPerResult} calls per result`}`,
    `Errors      ${errorList(m.errorsByCode)}`,
  ];
  return lines.slice(0, Math.max(1, options.height)).map((line) => cut(line, options.width));
}

/** Cuts a line to `width` visible characters, keeping its colour codes whole. */
function cut(line: string, width: number): string {
  let visible = 0;
  let out = '';
  // eslint-disable-next-line no-control-regex
  for (const part of line.split(/(\u001b\[[0-9;]*m)/)) {
    if (part.startsWith('\u001b[')) {
      out += part;
      continue;
    }
    const room = width - visible;
    if (room <= 0) continue;
    const chars = [...part].slice(0, room);
    out += chars.join('');
    visible += chars.length;
  }
  return out;
}
