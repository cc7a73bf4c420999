import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalState } from '../../src/local/lifecycle/state.js';
import { listen, closeServer } from '../../src/local/services/http.js';
import { STATE_DIR, cli, cliJson, collectResults, queueUrl, rawSqs, startLocal, waitUntil, type LocalHandle } from '../helpers/local.js';
import { startOpenAiServer } from '../helpers/openai-server.js';

const started: string[] = [];
afterAll(async () => {
  await Promise.all(started.map((name) => cli('down', '--local', '--force', '--name', name)));
});

const statePath = (name: string) => join(STATE_DIR, `${name}.json`);
const readState = (name: string) => JSON.parse(readFileSync(statePath(name), 'utf8')) as LocalState;
/** The running stack's own status, through its control route. */
async function startedStatus(name: string): Promise<{ queues: { name: string; visible: number }[]; mapping: { state: string; concurrency: number } }> {
  const state = readState(name);
  return (await fetch(`${state.apiUrl}/_local/status`, { headers: { 'x-bedrock-queue-control': state.controlToken } })).json() as never;
}

/** The processes whose command line runs a local stack of this name (the CLI re-run by --detach). */
function stackProcesses(name: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`--name ${name}`) && line.includes('up --local') && !/\sZ/.test(line.slice(0, 16))).map((line) => Number(line.trim().split(/\s+/)[0]));
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
function post(url: string, apiKey: string, prompt: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ prompt });
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Takes every result off the results queue until the queues are empty, counting each id's results. */
async function drainResults(handle: { name: string; state: LocalState }, timeoutMs: number): Promise<Map<string, number>> {
  const url = await queueUrl(handle as LocalHandle, 'results');
  const seen = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < 3) {
    if (Date.now() > deadline) throw new Error(`results still arriving after ${timeoutMs} ms (${seen.size} so far)`);
    const { Messages = [] } = await rawSqs<{ Messages?: { Body: string; ReceiptHandle: string }[] }>(handle.state.sqsEndpoint, 'ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
    for (const m of Messages) {
      const { id } = JSON.parse(m.Body) as { id: string };
      seen.set(id, (seen.get(id) ?? 0) + 1);
      await rawSqs(handle.state.sqsEndpoint, 'DeleteMessage', { QueueUrl: url, ReceiptHandle: m.ReceiptHandle });
    }
    const requests = await rawSqs<{ Attributes: Record<string, string> }>(handle.state.sqsEndpoint, 'GetQueueAttributes', { QueueUrl: await queueUrl(handle as LocalHandle, 'requests'), AttributeNames: ['All'] });
    const pending = Number(requests.Attributes.ApproximateNumberOfMessages) + Number(requests.Attributes.ApproximateNumberOfMessagesNotVisible) + Number(requests.Attributes.ApproximateNumberOfMessagesDelayed);
    quiet = !Messages.length && !pending ? quiet + 1 : 0;
  }
  return seen;
}

describe('the local target survives crashes and races', () => {
  it('kill -9 under load, then up again: every accepted request gets exactly one result, on the same URL and key', async () => {
    const name = 'dur-kill';
    started.push(name);
    // --timeout 3: requests in flight at the kill come back after their visibility timeout (6 x 3 s), as on SQS.
    const first = await startLocal(name, '--model-latency', '20ms', '--concurrency', '4', '--timeout', '3');
    const { invokeUrl, apiKey } = first.state;
    const accepted = new Set<string>();
    let refused = 0;
    let stop = false;
    const senders = Array.from({ length: 16 }, async (_, lane) => {
      for (let i = 0; !stop; i++) {
        try {
          const answer = await post(invokeUrl, apiKey!, `lane ${lane} prompt ${i}`);
          if (answer.status === 202) accepted.add((JSON.parse(answer.body) as { id: string }).id);
        } catch {
          refused++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await waitUntil('a few hundred accepted requests', async () => accepted.size >= 400, 30_000);
    process.kill(first.state.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(senders);
    expect(refused).toBeGreaterThan(0);

    const again = await cliJson<{ invokeUrl: string; apiKey: string; recovered: { requests: number; results: number } }>('up', '--local', '--detach', '--name', name, '--model-latency', '0', '--concurrency', '8');
    expect(again.invokeUrl).toBe(invokeUrl);
    expect(again.apiKey).toBe(apiKey);
    // The SQS endpoint stays where clients (the AWS CLI, boto3) were pointed, as the API does.
    expect(readState(name).sqsEndpoint).toBe(first.state.sqsEndpoint);
    expect(again.recovered.requests + again.recovered.results).toBeGreaterThan(0);
    // The client's URL and key still work.
    expect((await post(invokeUrl, apiKey!, 'after the restart')).status).toBe(202);

    const results = await drainResults({ name, state: readState(name) }, 120_000);
    const missing = [...accepted].filter((id) => !results.has(id));
    const twice = [...results].filter(([, n]) => n > 1);
    expect({ missing: missing.length, twice: twice.length }).toEqual({ missing: 0, twice: 0 });
    // Accepted, plus the one sent after the restart, plus any whose 202 the kill cut off.
    expect(results.size).toBeGreaterThanOrEqual(accepted.size + 1);
  }, 180_000);

  it('ten concurrent up --detach with one name start one stack; nine are refused, spawn nothing and say why', async () => {
    const name = 'dur-race';
    started.push(name);
    const runs = await Promise.all(Array.from({ length: 10 }, () => cli('up', '--local', '--detach', '--name', name, '--json')));
    const ok = runs.filter((r) => r.code === 0);
    const winners = ok.map((r) => (JSON.parse(r.stdout) as { pid: number }).pid);
    // A failure must leave no process behind: any stack process but the first winner is stopped before asserting.
    const extra = stackProcesses(name).filter((pid) => pid !== winners[0]);
    for (const pid of extra) process.kill(pid, 'SIGKILL');
    expect(extra).toEqual([]);
    expect(ok).toHaveLength(1);
    const refused = runs.filter((r) => r.code === 1);
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r.stderr).toMatch(/already starting or running \(pid \d+\)/);
    expect(readState(name).pid).toBe(winners[0]);
    // The winner's log is its own: no loser touched it.
    expect(readFileSync(join(STATE_DIR, `${name}.log`), 'utf8')).not.toMatch(/already starting or running/);
  }, 60_000);

  it('a corrupt state file is reported, removed by down --force, and replaced by up', async () => {
    const name = 'dur-corrupt';
    started.push(name);
    writeFileSync(statePath(name), '{"stack": "dur-corrupt", "pid": 12');
    const status = await cli('status', '--local', '--name', name);
    // A stack that was started and does not run is a failure (exit 1), said on stdout as the status.
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/not a state file bedrock-queue can read/);
    const down = await cli('down', '--local', '--name', name);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/--force/);
    expect((await cli('down', '--local', '--force', '--name', name)).code).toBe(0);
    expect(existsSync(statePath(name))).toBe(false);
    writeFileSync(statePath(name), 'garbage');
    const up = await cli('up', '--local', '--detach', '--name', name);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/replaced by this run's state/);
    expect((await cliJson('send', '--local', '--name', name, 'works')).id).toBeTruthy();
  }, 60_000);

  it('a state file whose pid belongs to another program (after a reboot) is not trusted', async () => {
    const name = 'dur-foreign';
    started.push(name);
    // A live pid (this test's own) and a port where some other program answers.
    const other = createServer((_req, res) => res.end('not bedrock-queue'));
    const port = await listen(other);
    try {
      writeFileSync(statePath(name), JSON.stringify({ stack: name, pid: process.pid, apiUrl: `http://127.0.0.1:${port}`, invokeUrl: `http://127.0.0.1:${port}/prod/invokeModel`, sqsEndpoint: `http://127.0.0.1:${port}`, model: 'local.echo', controlToken: 'old', startedAt: '' }));
      const status = await cli('status', '--local', '--name', name, '--json');
      expect(status.code).toBe(1);
      expect(JSON.parse(status.stdout)).toMatchObject({ deployed: false, stale: true });
      const up = await cli('up', '--local', '--detach', '--name', name, '--json');
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toMatch(new RegExp(`port ${port} of the previous run is taken`));
      expect(readState(name).pid).not.toBe(process.pid);
    } finally {
      await closeServer(other);
    }
  }, 60_000);

  it('up --local --dry-run says what it would start and starts nothing', async () => {
    const name = 'dur-dry';
    const plan = await cliJson<{ dryRun: boolean; wouldStart: boolean; apiKey: string; model: string }>('up', '--local', '--dry-run', '--name', name);
    expect(plan).toMatchObject({ dryRun: true, wouldStart: true, apiKey: 'new', model: 'local.echo' });
    expect(existsSync(statePath(name))).toBe(false);
    expect(existsSync(join(STATE_DIR, `${name}.journal`))).toBe(false);
    expect(stackProcesses(name)).toEqual([]);
  });

  it('Ctrl-C with work queued keeps it in the journal; the next up resumes it on the same port and key', async () => {
    const name = 'dur-resume';
    started.push(name);
    const stack = await startLocal(name);
    await cliJson('pause', '--local', '--name', name);
    const ids = [];
    for (const prompt of ['one', 'two', 'three']) ids.push((await cliJson<{ id: string }>('send', '--local', '--name', name, prompt)).id);
    const refused = await cli('down', '--local', '--name', name);
    expect(refused.code).toBe(1);
    process.kill(stack.state.pid, 'SIGINT');
    await waitUntil('the stack to stop', async () => stackProcesses(name).length === 0);
    const status = await cli('status', '--local', '--name', name);
    expect(status.stdout).toMatch(/journal holds 3 requests/);
    expect((await cli('down', '--local', '--name', name)).code).toBe(1);
    const again = await cliJson<{ invokeUrl: string; apiKey: string; recovered: { requests: number }; restart: { kept: string[] } }>('up', '--local', '--detach', '--name', name);
    expect(again).toMatchObject({ invokeUrl: stack.state.invokeUrl, apiKey: stack.state.apiKey, recovered: { requests: 3 }, restart: { kept: ['paused yes'] } });
    // It was paused when stopped, so it comes back paused: nothing is answered until resume.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await startedStatus(name)).queues.find((q) => q.name === `${name}-results`)?.visible).toBe(0);
    await cliJson('resume', '--local', '--name', name);
    const results = await drainResults({ name, state: readState(name) }, 30_000);
    expect([...results.keys()].sort()).toEqual(ids.sort());
  }, 60_000);

  it('kill -9, then up with no flags: the stack keeps its model, endpoint, concurrency and pause, and says so', async () => {
    const name = 'dur-settings';
    started.push(name);
    const model = await startOpenAiServer();
    try {
      const first = await startLocal(name, '--model-endpoint', model.baseUrl, '--model', 'gpt-oss', '--concurrency', '3', '--model-latency', '10ms');
      await cliJson('pause', '--local', '--name', name);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await cliJson<{ id: string }>('send', '--local', '--name', name, `question ${i}`)).id);
      process.kill(first.state.pid, 'SIGKILL');
      await waitUntil('the stack to die', async () => stackProcesses(name).length === 0);

      const again = await cli('up', '--local', '--detach', '--name', name);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain(`Kept from the previous run: model gpt-oss, model endpoint ${model.baseUrl}, model latency 10ms, concurrency 3, paused yes.`);
      expect(again.stdout).toMatch(new RegExp(`Model +gpt-oss at ${model.baseUrl.replace(/[.]/g, '\\.')}`));
      const state = readState(name);
      expect(state.settings).toMatchObject({ model: 'gpt-oss', concurrency: 3, paused: true, localModel: { forwardTo: model.baseUrl, latency: '10ms' } });
      expect((await startedStatus(name)).mapping).toMatchObject({ state: 'Disabled', concurrency: 3 });

      await cliJson('resume', '--local', '--name', name);
      const results = await collectResults({ name, state } as LocalHandle, 5);
      expect(Object.keys(results).sort()).toEqual([...ids].sort());
      for (const r of Object.values(results)) expect(r).toMatchObject({ status: 'ok', output: expect.stringMatching(/^gpt-oss says: question \d$/) });
      // A flag changes only what it names, and says so.
      // A stop (SIGTERM, as Ctrl-C) keeps the settings too; down would remove the stack.
      process.kill(readState(name).pid, 'SIGTERM');
      await waitUntil('the stack to stop', async () => stackProcesses(name).length === 0);
      const changed = await cli('up', '--local', '--detach', '--name', name, '--model', 'local.echo');
      expect(changed.stderr).toMatch(/Changed by this command's flags: model gpt-oss -> local\.echo, model endpoint http\S+ -> none\./);
    } finally {
      await model.close();
    }
  }, 90_000);

  it('keeps the key out of its log (mode 600), which down removes unless --keep-logs', async () => {
    const name = 'dur-log';
    const stack = await startLocal(name);
    const log = join(STATE_DIR, `${name}.log`);
    await cliJson('send', '--local', '--name', name, 'logged');
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect(readFileSync(log, 'utf8')).not.toContain(stack.state.apiKey!);
    expect((await cli('down', '--local', '--force', '--name', name)).code).toBe(0);
    expect(existsSync(log)).toBe(false);
    await startLocal(name);
    expect((await cli('down', '--local', '--force', '--keep-logs', '--name', name)).code).toBe(0);
    expect(existsSync(log)).toBe(true);
  }, 60_000);

  it('refuses a --model-endpoint that does not answer, or warns when asked to', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await closeServer(closed);
    const endpoint = `http://127.0.0.1:${port}/v1`;
    const refused = await cli('up', '--local', '--detach', '--name', 'dur-model', '--model-endpoint', endpoint, '--model', 'llama3.2');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/does not answer \(ECONNREFUSED\): nothing was started/);
    expect(existsSync(statePath('dur-model'))).toBe(false);
    started.push('dur-model');
    const warned = await cli('up', '--local', '--detach', '--name', 'dur-model', '--model-endpoint', endpoint, '--model', 'llama3.2', '--if-model-unreachable', 'warn');
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(/starting anyway/);
  }, 60_000);
});
