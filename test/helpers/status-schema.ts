import { expect } from 'vitest';
import type { StatusReport } from '../../src/status-contract.js';

const REQUIRED = ['stack', 'target', 'region', 'deployed', 'resources', 'queues'];
const OPTIONAL = ['model', 'invokeUrl', 'websocketUrl', 'mapping', 'pid', 'sqsEndpoint', 'stale', 'calls', 'metrics', 'metricsError', 'governor', 'discountJobs', 'discountJobsError'];
const METRICS = ['windowSeconds', 'from', 'to', 'resultsPerMinute', 'latencyMs', 'tokensPerMinute', 'throttledCallsPerResult', 'errorsByCode', 'oldestRequestAgeSeconds', 'concurrency', 'perMinute'];
const MAPPING = ['state', 'paused', 'maximumConcurrency', 'batchSize', 'invocationsInFlight'];

/** Checks a `status --json` output against the one schema both targets share (StatusReport, README). */
export function expectStatusReport(report: StatusReport, target: 'aws' | 'local') {
  expect(report.target).toBe(target);
  for (const key of REQUIRED) expect(report, key).toHaveProperty(key);
  expect(Object.keys(report).filter((k) => !REQUIRED.includes(k) && !OPTIONAL.includes(k))).toEqual([]);
  expect(typeof report.deployed).toBe('boolean');
  for (const r of report.resources) {
    expect(Object.keys(r).sort()).toEqual(['changes', 'kind', 'name', 'state']);
    expect(['present', 'missing', 'drifted', 'not ours', 'left over']).toContain(r.state);
  }
  for (const q of report.queues) expect(Object.keys(q).sort()).toEqual(['delayed', 'inFlight', 'name', 'visible']);
  if (report.queues.length === 3) {
    expect(report.queues.map((q) => q.name)).toEqual([`${report.stack}-requests`, `${report.stack}-requests-dlq`, `${report.stack}-results`]);
  }
  if (target === 'local' && report.deployed) expect(report.sqsEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  if (target === 'local' && report.deployed) expect(report.websocketUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/prod$/);
  if (report.mapping) {
    expect(Object.keys(report.mapping).filter((k) => !MAPPING.includes(k))).toEqual([]);
    expect(typeof report.mapping.paused).toBe('boolean');
    expect(typeof report.mapping.maximumConcurrency).toBe('number');
  }
  if (report.governor) {
    expect(Object.keys(report.governor).sort()).toEqual(['autopilot', 'budget']);
    const { autopilot, budget } = report.governor;
    if (autopilot) expect(Object.keys(autopilot).sort()).toEqual(['ceiling', 'concurrency', 'enabled', 'lastChange']);
    if (budget) expect(Object.keys(budget).filter((k) => !['resumesAt', 'price', 'spentError'].includes(k)).sort()).toEqual(['limit', 'paused', 'spentToday', 'unit']);
  }
  if (target === 'local' && report.deployed) expect(report).toHaveProperty('governor');
  for (const job of report.discountJobs ?? []) {
    expect(Object.keys(job).filter((k) => !['submitted', 'message'].includes(k)).sort()).toEqual(['arn', 'name', 'status']);
  }
  if (report.metrics) {
    const m = report.metrics;
    expect(Object.keys(m).sort()).toEqual([...METRICS].sort());
    expect(Object.keys(m.latencyMs).sort()).toEqual(['endToEnd', 'model']);
    for (const p of [m.latencyMs.endToEnd, m.latencyMs.model]) expect(Object.keys(p)).toEqual(['p50', 'p95', 'p99']);
    expect(Object.keys(m.perMinute).sort()).toEqual(['endToEndP95', 'error', 'inputTokens', 'ok', 'outputTokens', 'start']);
    for (const series of Object.values(m.perMinute)) expect(series).toHaveLength(m.windowSeconds / 60);
  }
}
