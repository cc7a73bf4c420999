import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/local/services/api-server.js';
import { startOpenAiServer } from '../helpers/openai-server.js';
import type { StatusReport } from '../../src/status-contract.js';
import { expectStatusReport } from '../helpers/status-schema.js';
import { STATE_DIR, cli, cliJson, cliPiped, spawnCli, collectResults, queueUrl, rawPost, rawSqs, startLocal, waitUntil, type LocalHandle } from '../helpers/local.js';

const started: LocalHandle[] = [];
async function local(name: string, ...args: string[]) {
  const handle = await startLocal(name, ...args);
  started.push(handle);
  return handle;
}
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});

const json = (handle: LocalHandle, extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'x-api-key': handle.state.apiKey!, ...extra });
const depth = async (handle: LocalHandle) => Object.fromEntries((await handle.status()).queues.map((q) => [q.name.replace(`${handle.name}-`, ''), q.visible + q.inFlight + q.delayed]));

describe('the local target, end to end over HTTP and the SQS protocol', () => {
  it('returns hostile prompts exactly, and the body reaches SQS byte for byte (checked by an independent client)', async () => {
    const stack = await local('e2e-round');
    const prompts = [
      'a&b=c+d%20e%zz?x=1&y=2', `she said "hi" and 'bye' \\ back\\slash`, 'line 1\nline 2\r\nline 3\ttab',
      'rocket 🚀 family 👨‍👩‍👧‍👦', 'مرحبا بالعالم — שלום עולם', 'x&%+= '.repeat(34_000),
    ];
    expect((await cliJson('pause', '--local', '--name', stack.name)).after).toMatchObject({ state: 'Disabled' });
    const ids: string[] = [];
    for (const prompt of prompts) {
      const body = JSON.stringify({ prompt, metadata: { 'clé': 'välue & more' } });
      const answer = await rawPost(stack.state.invokeUrl, body, json(stack));
      expect(answer.status, answer.body).toBe(202);
      ids.push(JSON.parse(answer.body).id);
    }
    const requests = await queueUrl(stack, 'requests');
    const seen: Record<string, { body: string; handle: string }> = {};
    // Each message is received once (hidden meanwhile), then handed back: receive counts stay low.
    await waitUntil('the queued requests', async () => {
      const { Messages = [] } = await rawSqs<{ Messages?: { Body: string; ReceiptHandle: string; MessageAttributes?: Record<string, { StringValue: string }> }[] }>(stack.state.sqsEndpoint, 'ReceiveMessage', { QueueUrl: requests, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: ['All'] });
      // The id the API answered travels with the request, as on AWS.
      for (const m of Messages) seen[m.MessageAttributes!['bq-request-id']!.StringValue] = { body: m.Body, handle: m.ReceiptHandle };
      return Object.keys(seen).length === prompts.length;
    });
    ids.forEach((id, i) => expect(seen[id]!.body).toBe(JSON.stringify({ prompt: prompts[i], metadata: { 'clé': 'välue & more' } })));
    await rawSqs(stack.state.sqsEndpoint, 'ChangeMessageVisibilityBatch', {
      QueueUrl: requests, Entries: Object.values(seen).map((m, i) => ({ Id: String(i), ReceiptHandle: m.handle, VisibilityTimeout: 0 })),
    });
    await cliJson('resume', '--local', '--name', stack.name);
    const results = await collectResults(stack, prompts.length);
    ids.forEach((id, i) => {
      expect(results[id]).toMatchObject({ status: 'ok', output: `echo: ${prompts[i]}`, metadata: { 'clé': 'välue & more' } });
    });
  });

  it('answers bad requests at the edge, with a clear body, and queues nothing', async () => {
    const stack = await local('e2e-edge', '--rate-limit', '2', '--burst-limit', '3');
    await cliJson('pause', '--local', '--name', stack.name);
    const url = stack.state.invokeUrl;
    expect(await rawPost(url, '{"prompt":"p"}', { 'content-type': 'application/json' })).toMatchObject({ status: 403, body: '{"message":"Forbidden"}' });
    expect(await rawPost(url, '{"prompt":"p"}', json(stack, { 'x-api-key': 'wrong' }))).toMatchObject({ status: 403 });
    const schema = await rawPost(url, '{"system":"no prompt"}', json(stack));
    expect(schema).toEqual({ status: 400, body: JSON.stringify({ message: 'Invalid request body: "prompt" is required and must be a string' }) });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await rawPost(url, 'prompt=p', json(stack, { 'content-type': 'text/plain' }))).status).toBe(415);
    await new Promise((r) => setTimeout(r, 1500));
    const huge = await rawPost(url, JSON.stringify({ prompt: 'x'.repeat(MAX_BODY_BYTES) }), json(stack));
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).message).toMatch(/Request Entity Too Large/);
    await new Promise((r) => setTimeout(r, 1500));
    const burst = await Promise.all(Array.from({ length: 6 }, () => rawPost(url, '{"system":"x"}', json(stack))));
    expect(burst.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(3);
    expect(burst.find((r) => r.status === 429)!.body).toBe('{"message":"Too Many Requests"}');
    expect(await depth(stack)).toEqual({ requests: 0, 'requests-dlq': 0, results: 0 });
  });

  it('never lets more than N model calls fly, does reach N, and follows set-concurrency live', async () => {
    const stack = await local('e2e-conc', '--concurrency', '3', '--model-latency', '300ms', '--rate-limit', '1000', '--burst-limit', '1000');
    const file = join(STATE_DIR, 'burst.txt');
    writeFileSync(file, Array.from({ length: 24 }, (_, i) => `prompt ${i}`).join('\n'));
    expect((await cli('send', '--local', '--name', stack.name, '--file', file)).code).toBe(0);
    await collectResults(stack, 24);
    expect((await stack.status()).modelStats.mostInFlight).toBe(3);
    expect((await cliJson('set-concurrency', '6', '--local', '--name', stack.name)).after).toMatchObject({ concurrency: 6 });
    writeFileSync(file, Array.from({ length: 36 }, (_, i) => `again ${i}`).join('\n'));
    expect((await cli('send', '--local', '--name', stack.name, '--file', file)).code).toBe(0);
    await collectResults(stack, 36);
    expect((await stack.status()).modelStats.mostInFlight).toBe(6);
  });

  it('under a model quota below the offered load, completes every request with ok and loses none', async () => {
    // A backlog that takes the quota 12 s to clear: far longer than five backoffs of ordinary retries.
    const stack = await local('e2e-quota', '--concurrency', '8', '--model-latency', '20ms', '--model-rpm', '10', '--model-quota-window', '2s', '--rate-limit', '1000', '--burst-limit', '1000');
    const file = join(STATE_DIR, 'quota.txt');
    writeFileSync(file, Array.from({ length: 60 }, (_, i) => `quota ${i}`).join('\n'));
    expect((await cli('send', '--local', '--name', stack.name, '--file', file)).code).toBe(0);
    const results = await collectResults(stack, 60, 80_000);
    expect(Object.keys(results)).toHaveLength(60);
    expect(Object.values(results).every((r) => r.status === 'ok')).toBe(true);
    const status = await stack.status();
    expect(status.modelStats.throttled).toBeGreaterThan(0);
    expect(await depth(stack)).toEqual({ requests: 0, 'requests-dlq': 0, results: 0 });
  }, 120_000);

  it('gives a poison message one error result without retrying it', async () => {
    const stack = await local('e2e-poison');
    const requests = await queueUrl(stack, 'requests');
    const { MessageId } = await rawSqs<{ MessageId: string }>(stack.state.sqsEndpoint, 'SendMessage', { QueueUrl: requests, MessageBody: 'not json {' });
    const results = await collectResults(stack, 1);
    expect(results[MessageId]).toMatchObject({ status: 'error', attempt: 1, error: { code: 'InvalidRequest' } });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await depth(stack)).toEqual({ requests: 0, 'requests-dlq': 0, results: 0 });
  });

  it('retries a failing model until the DLQ with a final error result, and redrive brings the request back to complete', async () => {
    // As on SQS, only receives count (not the worker's visibility changes): three receives, three model calls.
    const stack = await local('e2e-dlq', '--max-receive-count', '3', '--model-error-rate', '1');
    const sent = await cliJson<{ id: string }>('send', '--local', '--name', stack.name, 'doomed, then saved');
    // Nothing ends silently: the last attempt publishes an error result before SQS moves the request.
    expect((await collectResults(stack, 1, 60_000))[sent.id]).toMatchObject({
      status: 'error', attempt: 3, final: true, deadLetterQueue: 'e2e-dlq-requests-dlq', error: { code: 'InternalServerException' },
    });
    expect((await stack.status()).modelStats.calls).toBe(3);
    await waitUntil('the request to reach the DLQ', async () => (await depth(stack))['requests-dlq'] === 1, 30_000);
    const dry = await cliJson<{ count: number; sample: { id: string }[] }>('redrive', '--dry-run', '--local', '--name', stack.name);
    expect(dry.count).toBe(1);
    await stack.control('model', { errorRate: 0 });
    expect(await cliJson('redrive', '--local', '--name', stack.name)).toMatchObject({ status: 'COMPLETED', moved: 1 });
    const results = await collectResults(stack, 1);
    expect(Object.values(results)[0]).toMatchObject({ status: 'ok', output: 'echo: doomed, then saved' });
    expect(Object.keys(results)).toHaveLength(1);
  }, 60_000);

  it('answers through a worker with the shortest timeout up accepts, and up refuses a shorter one', async () => {
    const refused = await cli('up', '--local', '--name', 'e2e-short', '--timeout', '2');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--timeout must be a whole number from 3 to 900 \(got 2\)/);
    const stack = await local('e2e-min-timeout', '--timeout', '3', '--model-latency', '500ms');
    const wait = await cli('send', '--local', '--name', stack.name, '--wait', '--json', 'in time');
    expect(wait.code, wait.stderr).toBe(0);
    expect(JSON.parse(wait.stdout)).toMatchObject({ status: 'ok', output: 'echo: in time', attempt: 1 });
  });

  it('Ctrl-C of send --wait says so, exits 130, and says how to read the result later', async () => {
    const stack = await local('e2e-interrupt');
    await cliJson('pause', '--local', '--name', stack.name);
    const child = spawnCli('send', '--local', '--name', stack.name, '--wait', 'abandoned');
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitUntil('the waiter to poll', async () => /waiting for its result/.test(stderr), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toMatch(/^Interrupted: stopped waiting; the request (\S+) is still queued\. Read its result later with "bedrock-queue result \1 --name e2e-interrupt --local"/m);
    expect(stderr).not.toMatch(/No result/);
    await cliJson('resume', '--local', '--name', stack.name);
    const next = await cli('send', '--local', '--name', stack.name, '--wait', '--timeout', '20s', 'next');
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toBe('echo: next\n');
  });

  it('send --wait prints the answer; tail --count follows results', async () => {
    const stack = await local('e2e-ops');
    const wait = await cli('send', '--local', '--name', stack.name, '--wait', 'ping & pong');
    expect(wait.code, wait.stderr).toBe(0);
    expect(wait.stdout).toBe('echo: ping & pong\n');
    // The prompt from stdin, through a real pipe: with -, and with no prompt argument at all.
    const question = 'line one & more\nline two 🚀\n';
    for (const args of [['send', '-'], ['send']]) {
      const piped = await cliPiped(question, ...args, '--local', '--name', stack.name, '--wait');
      expect(piped.code, piped.stderr).toBe(0);
      // Without its final newline, as $(cat) would give it; the newline inside stays.
      expect(piped.stdout).toBe(`echo: ${question.trimEnd()}\n`);
    }
    await cliJson('send', '--local', '--name', stack.name, 'one');
    await cliJson('send', '--local', '--name', stack.name, 'two');
    // send --wait reads the results store: every result, the waited-for ones too, stays on the results queue for consumers.
    const tail = await cli('tail', '--local', '--name', stack.name, '--count', '5', '--json');
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout.trim().split('\n').map((l) => JSON.parse(l).output).sort()).toEqual(['echo: line one & more\nline two 🚀', 'echo: line one & more\nline two 🚀', 'echo: one', 'echo: ping & pong', 'echo: two']);
  });

  it('result answers pending, then the stored record byte for byte; hostile prompts round-trip exactly', async () => {
    const stack = await local('e2e-result');
    await cliJson('pause', '--local', '--name', stack.name);
    const prompt = 'a&b=c+d%20e \\ "quoted" \n 🚀 مرحبا';
    const { id } = await cliJson<{ id: string }>('send', '--local', '--name', stack.name, prompt);
    expect(await cliJson('result', id, '--local', '--name', stack.name)).toEqual({ id, status: 'pending' });
    await cliJson('resume', '--local', '--name', stack.name);
    const waited = await cli('result', id, '--wait', '--timeout', '20s', '--local', '--name', stack.name, '--json');
    expect(waited.code, waited.stderr).toBe(0);
    expect(JSON.parse(waited.stdout)).toMatchObject({ id, status: 'ok', output: `echo: ${prompt}` });
    // The same bytes as the results queue got.
    const [queued] = Object.values(await collectResults(stack, 1));
    expect(JSON.parse(waited.stdout)).toEqual(queued);
    const human = await cli('result', id, '--local', '--name', stack.name);
    expect(human.stdout).toContain(`echo: ${prompt.split('\n')[0]}`);
    // When, with its date: results are kept for days.
    expect(human.stdout.split('\n')[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC  ${id}  ok  \\d+ ms`));
    const malformed = await cli('result', 'not-an-id', '--local', '--name', stack.name);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/"not-an-id" is not a request id/);
  });

  it('POST answers 202 with a Location; GET there answers 202 pending with Retry-After, then 200 with the exact record', async () => {
    const stack = await local('e2e-get');
    await cliJson('pause', '--local', '--name', stack.name);
    const prompts = ['a&b=c+d%20e%zz?x=1', `"quoted" 'single' \\ back`, 'line 1\nline 2\ttab', 'rocket 🚀 مرحبا'];
    const located: { id: string; location: string }[] = [];
    for (const [i, prompt] of prompts.entries()) {
      // API Gateway keys templates and models by MIME type, which a charset parameter is not part of.
      const type = i % 2 ? 'application/json; charset=utf-8' : 'application/json';
      const answer = await fetch(stack.state.invokeUrl, { method: 'POST', headers: json(stack, { 'content-type': type }), body: JSON.stringify({ prompt }) });
      expect(answer.status).toBe(202);
      // A browser script may read Location only because the response says so.
      expect(answer.headers.get('access-control-expose-headers')).toBe('Location');
      const { id } = await answer.json() as { id: string };
      located.push({ id, location: answer.headers.get('location')! });
    }
    const base = stack.state.invokeUrl.replace(/invokeModel$/, '');
    for (const { id, location } of located) expect(location).toBe(`results/${id}`);
    const pending = await fetch(new URL(located[0]!.location, stack.state.invokeUrl), { headers: { 'x-api-key': stack.state.apiKey! } });
    expect([pending.status, pending.headers.get('retry-after'), await pending.text()]).toEqual([202, '2', `{"id": "${located[0]!.id}", "status": "pending"}`]);
    expect(pending.headers.get('access-control-expose-headers')).toBe('Retry-After');
    await cliJson('resume', '--local', '--name', stack.name);
    const queued = await collectResults(stack, prompts.length);
    for (const [i, { id }] of located.entries()) {
      // The results queue may get a result a moment before the store: wait out the 202s.
      let got!: Response;
      await waitUntil(`the stored result of ${id}`, async () => (got = await fetch(`${base}results/${id}`, { headers: { 'x-api-key': stack.state.apiKey! } })).status !== 202);
      expect(got.status).toBe(200);
      const text = await got.text();
      expect(JSON.parse(text)).toEqual(queued[id]);
      expect(JSON.parse(text).output).toBe(`echo: ${prompts[i]}`);
    }
    expect((await fetch(`${base}results/${located[0]!.id}`)).status).toBe(403);
    const malformed = await fetch(`${base}results/not-an-id`, { headers: { 'x-api-key': stack.state.apiKey! } });
    expect(malformed.status).toBe(400);
    expect((await malformed.json() as { message: string }).message).toMatch(/^Not a request id/);
    expect((await fetch(`${base}results/`, { headers: { 'x-api-key': stack.state.apiKey! } })).status).toBe(403);
  });

  it('a client\'s own id sent three times, copies in flight at once, is one model call and one result under that id', async () => {
    // A copy that meets a live claim comes back when the claim's lease ends: a short timeout keeps that short.
    const stack = await local('e2e-own-id', '--concurrency', '4', '--timeout', '5');
    await cliJson('pause', '--local', '--name', stack.name);
    const id = '5f0c2b7e-91d4-4a8e-b3c6-7d2e9f1a0b4c';
    const post = (body: unknown) => fetch(stack.state.invokeUrl, { method: 'POST', headers: json(stack), body: JSON.stringify(body) });
    for (const sent of [id, id.toUpperCase(), id]) {
      const answer = await post({ id: sent, prompt: 'once only' });
      expect(answer.status).toBe(202);
      expect([await answer.json(), answer.headers.get('location')]).toEqual([{ id }, `results/${id}`]);
    }
    const refused = await post({ id: 'not-a-uuid', prompt: 'x' });
    expect([refused.status, (await refused.json() as { message: string }).message]).toEqual([400, 'Invalid request body: "id" must be a UUID (8-4-4-4-12 hexadecimal digits)']);
    // Three copies queued together: on resume the mapping hands them to workers side by side.
    await cliJson('resume', '--local', '--name', stack.name);
    expect((await collectResults(stack, 1))[id]).toMatchObject({ id, status: 'ok', output: 'echo: once only' });
    await waitUntil('every copy to be done with', async () => (await depth(stack)).requests === 0, 30_000);
    expect((await stack.status()).modelStats.calls).toBe(1);
    const stored = await cliJson<{ id: string; output: string }>('result', id, '--local', '--name', stack.name);
    expect(stored).toMatchObject({ id, output: 'echo: once only' });
  });

  it('a hundred concurrent send --wait each get their own answer', async () => {
    const stack = await local('e2e-waiters', '--concurrency', '16');
    const runs = await Promise.all(Array.from({ length: 100 }, (_, i) => cli('send', '--local', '--name', stack.name, '--wait', '--timeout', '2m', `waiter ${i}`)));
    expect(runs.map((r) => r.code), runs.find((r) => r.code !== 0)?.stderr).toEqual(Array(100).fill(0));
    expect(runs.map((r) => r.stdout)).toEqual(Array.from({ length: 100 }, (_, i) => `echo: waiter ${i}\n`));
  }, 180_000);

  it('--model-endpoint answers from an OpenAI-compatible server (as Ollama), through the same worker', async () => {
    const ollama = await startOpenAiServer();
    try {
      const stack = await local('e2e-forward', '--model-endpoint', ollama.baseUrl, '--model', 'gpt-oss');
      const wait = await cli('send', '--local', '--name', stack.name, '--wait', 'Why & how?', '--system', 'Be brief.');
      expect(wait.code, wait.stderr).toBe(0);
      expect(wait.stdout).toBe('gpt-oss says: Why & how?\n');
      // Streamed or not, whether the waiter subscribed before the worker claimed the request.
      const bodies = ollama.calls.map(({ body: { stream: _, stream_options: __, ...rest } }) => rest);
      expect(bodies).toEqual([{ model: 'gpt-oss', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why & how?' }], max_tokens: 1024 }]);
      expect((await stack.status()).modelStats).toMatchObject({ answered: 1 });
      expect(ollama.probes()).toBeGreaterThan(0);
    } finally {
      await ollama.close();
    }
  });

  it('pause stops consumption, resume restarts it', async () => {
    const stack = await local('e2e-pause');
    await cliJson('pause', '--local', '--name', stack.name);
    const paused = await cliJson<StatusReport>('status', '--local', '--name', stack.name);
    // One schema for both targets: the same checks as the AWS status in the moto test.
    expectStatusReport(paused, 'local');
    expect(paused).toMatchObject({ deployed: true, region: 'local', mapping: { state: 'Disabled', paused: true, maximumConcurrency: 10, batchSize: 1, invocationsInFlight: 0 } });
    expect(paused.queues.map((q) => q.name)).toEqual(['e2e-pause-requests', 'e2e-pause-requests-dlq', 'e2e-pause-results']);
    await cliJson('send', '--local', '--name', stack.name, 'held');
    await new Promise((r) => setTimeout(r, 2500));
    expect(await depth(stack)).toMatchObject({ requests: 1, results: 0 });
    await cliJson('resume', '--local', '--name', stack.name);
    expect(Object.values(await collectResults(stack, 1))[0]).toMatchObject({ output: 'echo: held' });
  });

  it('runs two stacks side by side, and stops one only when its queues are empty or forced', async () => {
    const [a, b] = [await local('e2e-side-a'), await local('e2e-side-b')];
    expect(a.state.invokeUrl).not.toBe(b.state.invokeUrl);
    const wa = await cli('send', '--local', '--name', a.name, '--wait', 'to a');
    const wb = await cli('send', '--local', '--name', b.name, '--wait', 'to b');
    expect([wa.stdout, wb.stdout]).toEqual(['echo: to a\n', 'echo: to b\n']);
    await cliJson('pause', '--local', '--name', a.name);
    await cliJson('send', '--local', '--name', a.name, 'left behind');
    const refused = await cli('down', '--local', '--name', a.name);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Queues still hold unprocessed work \(e2e-side-a-requests: 1 waiting/);
    expect((await cliJson('down', '--local', '--force', '--name', a.name)).stopped).toBe(true);
    expect((await cliJson('status', '--local', '--name', a.name)).deployed).toBe(false);
    expect((await cliJson('status', '--local', '--name', b.name)).deployed).toBe(true);
  });

  it('refuses a --port in use with a clear error, and leaves nothing running', async () => {
    const stack = await local('e2e-port');
    const port = new URL(stack.state.apiUrl).port;
    const taken = await cli('up', '--local', '--detach', '--name', 'e2e-port-2', '--port', port);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`The local stack e2e-port-2 did not start (exit 1): Port ${port} on 127.0.0.1 is in use: choose another --port`);
    const stopped = await cliJson<StatusReport>('status', '--local', '--name', 'e2e-port-2');
    expectStatusReport(stopped, 'local');
    expect(stopped).toMatchObject({ deployed: false, stale: false, resources: [], queues: [] });
  });

  it('detects a stale state file and never trusts it', async () => {
    writeFileSync(join(STATE_DIR, 'e2e-stale.json'), JSON.stringify({ stack: 'e2e-stale', pid: 2 ** 22 + 12345, apiUrl: 'http://127.0.0.1:1', invokeUrl: 'http://127.0.0.1:1/prod/invokeModel', sqsEndpoint: 'http://127.0.0.1:1', model: 'local.echo', controlToken: 'x', startedAt: '' }));
    const send = await cli('send', '--local', '--name', 'e2e-stale', 'hello');
    expect(send.code).toBe(1);
    expect(send.stderr).toMatch(/The local stack e2e-stale is not running: its process \d+ is gone or no longer answers/);
    const status = await cli('status', '--local', '--name', 'e2e-stale', '--json');
    expect(status.code).toBe(1);
    expect(JSON.parse(status.stdout)).toMatchObject({ deployed: false, stale: true });
  });
});
