import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MappingEmulator } from '../services/mapping.js';
import type { ModelServer } from '../services/model-server.js';
import { readBody } from '../services/http.js';
import type { LocalSettings } from './settings.js';
import { governorConfig } from '../../governor/config.js';
import { operatorChange } from '../../governor/operator.js';

export interface ControlDeps {
  /** The secret in the state file: only the CLI that started the stack (or its user) may steer it. */
  token: string;
  /** The stack's status, with the metrics of the last `windowSeconds` when above 0. */
  status: (windowSeconds: number) => Promise<object>;
  mapping: MappingEmulator;
  modelServer?: ModelServer;
  /** Keeps a change in the state file's settings, so that a restart resumes with it. */
  keep: (change: (now: LocalSettings) => Partial<LocalSettings>) => Promise<void>;
  settings: () => LocalSettings;
  requestStop: (how: { discard: boolean }) => void;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req))!.toString('utf8');
  return text ? JSON.parse(text) as Record<string, unknown> : {};
}

/**
 * The local stack's control routes under /_local/ on its API (status, mapping, model, shutdown),
 * for the CLI's commands: what the AWS control plane answers for a stack in the cloud.
 */
export function controlRoutes(deps: ControlDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (!req.url?.startsWith('/_local/')) return false;
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers['x-bedrock-queue-control'] !== deps.token) {
      reply(403, { message: 'Forbidden' });
      return true;
    }
    const url = new URL(req.url, 'http://local');
    const route = `${req.method} ${url.pathname.slice('/_local/'.length)}`;
    const { mapping, modelServer } = deps;
    if (route === 'GET status') {
      // ?window=300 adds the metrics of the last 300 s (status, top): one call for every figure.
      reply(200, await deps.status(Number(url.searchParams.get('window')) || 0));
    } else if (route === 'POST mapping') {
      const body = await readJson(req);
      const before = mapping.status();
      const settings = deps.settings();
      const change = operatorChange(governorConfig(settings), { concurrency: before.concurrency, marks: settings.governor?.marks ?? {} }, {
        ...(typeof body.concurrency === 'number' ? { concurrency: body.concurrency } : {}),
        ...(typeof body.enabled === 'boolean' ? { enabled: body.enabled } : {}),
      }, Date.now());
      if (change.concurrency !== undefined) mapping.setConcurrency(change.concurrency);
      if (change.enabled !== undefined) await mapping.setEnabled(change.enabled);
      const after = mapping.status();
      await deps.keep((now) => ({
        concurrency: change.ceiling ?? (now.autopilot ? now.concurrency : after.concurrency),
        paused: after.state === 'Disabled',
        governor: { ...now.governor, marks: change.marks, ...(now.autopilot ? { concurrency: after.concurrency } : {}) },
      }));
      // With autopilot, the ceiling before and after (set-concurrency changes it).
      const describe = (s: typeof before, ceiling: number) => ({ state: s.state, concurrency: s.concurrency, ...(settings.autopilot ? { ceiling } : {}) });
      reply(200, { before: describe(before, settings.concurrency), after: describe(after, change.ceiling ?? settings.concurrency), ...(change.note ? { note: change.note } : {}) });
    } else if (route === 'POST model' && modelServer) {
      const body = await readJson(req);
      const change = {
        ...(typeof body.latency === 'string' ? { latency: body.latency } : {}),
        ...(typeof body.errorRate === 'number' ? { errorRate: body.errorRate } : {}),
      };
      modelServer.configure(change);
      await deps.keep((now) => ({ localModel: { ...now.localModel, ...change } }));
      reply(200, { modelStats: modelServer.stats() });
    } else if (route === 'POST shutdown') {
      const body = await readJson(req);
      reply(202, { message: 'stopping' });
      deps.requestStop({ discard: body.discard === true });
    } else reply(404, { message: `no control route ${route}` });
    return true;
  };
}
