import { formatTimestamp } from '../../output.js';

/**
 * A worker log line (a CloudWatch EMF document) as a person at a terminal reads it: when, the
 * request, how it ended, its attempt, latency and tokens, and the error. Lines that are not the
 * worker's JSON pass unchanged.
 */
export function humanLogLine(line: string, now = Date.now()): string {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof fields !== 'object' || fields === null) return line;
  const at = formatTimestamp((fields._aws as { Timestamp?: number } | undefined)?.Timestamp ?? now).slice(11, 19);
  if (fields.message !== 'request') return `${at}  ${String(fields.level ?? 'info')}  ${String(fields.message ?? line)}`;
  const tokens = typeof fields.inputTokens === 'number' ? `${fields.inputTokens}+${String(fields.outputTokens ?? 0)} tokens` : '';
  const error = fields.errorCode ? `${String(fields.errorCode)}${fields.error ? `: ${String(fields.error)}` : ''}` : '';
  return [at, String(fields.id), String(fields.status ?? ''), `attempt ${String(fields.attempt ?? 1)}`, `${String(fields.latencyMs ?? 0)} ms`, tokens,
    fields.throttledCalls ? `${String(fields.throttledCalls)} throttled` : '', error].filter(Boolean).join('  ');
}
