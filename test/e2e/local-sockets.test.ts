/**
 * The local WebSocket API over a real socket (the `ws` client, an implementation of its own):
 * the key on connect, routes and their validation answers, results pushed by the worker through
 * the management API, and a record stored before the subscribe coming back at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { STATE_DIR, cli, cliJson, spawnCli, startLocal, waitUntil, type LocalHandle } from '../helpers/local.js';
import { startOpenAiServer } from '../helpers/openai-server.js';

const started: LocalHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});

/** A socket that keeps every frame it receives, and waits for the one a test expects. */
class Client {
  readonly frames: Record<string, unknown>[] = [];
  private waiting: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
      for (const wake of this.waiting.splice(0)) wake();
    });
  }

  static open(url: string, apiKey?: string): Promise<Client> {
    const socket = new WebSocket(url, { headers: apiKey ? { 'x-api-key': apiKey } : {} });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new Client(socket)));
      socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      socket.once('error', reject);
    });
  }

  send(frame: unknown) {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async next(what: string, match: (frame: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  close() {
    this.socket.close();
  }
}

async function local(name: string, ...args: string[]) {
  const handle = await startLocal(name, ...args);
  started.push(handle);
  return handle;
}
const websocketUrl = (stack: LocalHandle) => stack.state.websocketUrl!;

describe('the local WebSocket API', () => {
  it('refuses a connection without the key, as API Gateway refuses $connect (403)', async () => {
    const stack = await local('ws-key');
    await expect(Client.open(websocketUrl(stack))).rejects.toMatchObject({ status: 403 });
    await expect(Client.open(websocketUrl(stack), 'wrong')).rejects.toMatchObject({ status: 403 });
    expect((await cliJson<{ websocketUrl: string }>('status', '--local', '--name', stack.name)).websocketUrl).toBe(websocketUrl(stack));
    // An open socket does not hold the stack up: down ends it.
    const open = await Client.open(websocketUrl(stack), stack.state.apiKey);
    const closed = new Promise((resolve) => open.socket.once('close', resolve));
    await stack.stop();
    await closed;
  });

  it('pushes a subscribed result when it is stored, exactly the record GET returns; a later subscribe gets it at once', async () => {
    const stack = await local('ws-push');
    await cliJson('pause', '--local', '--name', stack.name);
    const { id } = await cliJson<{ id: string }>('send', '--local', '--name', stack.name, 'pushed to me');
    const early = await Client.open(websocketUrl(stack), stack.state.apiKey);
    early.send({ action: 'subscribe', id });
    expect(await early.next('subscribed', (f) => f.type === 'subscribed')).toEqual({ type: 'subscribed', id });
    await cliJson('resume', '--local', '--name', stack.name);
    const pushed = await early.next('result', (f) => f.type === 'result');
    const got = await fetch(`${stack.state.invokeUrl.replace(/invokeModel$/, '')}results/${id}`, { headers: { 'x-api-key': stack.state.apiKey! } });
    expect(got.status).toBe(200);
    expect(pushed).toEqual({ type: 'result', id, record: JSON.parse(await got.text()) });
    expect((pushed.record as { output: string }).output).toBe('echo: pushed to me');

    const late = await Client.open(websocketUrl(stack), stack.state.apiKey);
    late.send({ action: 'subscribe', id: id.toUpperCase() });
    expect(await late.next('result', (f) => f.type === 'result')).toEqual(pushed);
    // The first socket got one result, and never another client's connection id.
    expect(early.frames.filter((f) => f.type === 'result')).toHaveLength(1);
    early.close();
    late.close();
  });

  it('invoke queues the request and answers accepted, then the result, to that socket only', async () => {
    const stack = await local('ws-invoke', '--concurrency', '4');
    const [one, other] = await Promise.all([Client.open(websocketUrl(stack), stack.state.apiKey), Client.open(websocketUrl(stack), stack.state.apiKey)]);
    one.send({ action: 'invoke', prompt: 'over the socket', metadata: { from: 'ws' } });
    const accepted = await one.next('accepted', (f) => f.type === 'accepted');
    const result = await one.next('result', (f) => f.type === 'result');
    expect(result).toMatchObject({ type: 'result', id: accepted.id, record: { id: accepted.id, status: 'ok', output: 'echo: over the socket', metadata: { from: 'ws' } } });
    other.send({ action: 'invoke', id: 'a1b2c3d4-0000-4000-8000-000000000001', prompt: 'mine' });
    expect(await other.next('result', (f) => f.type === 'result')).toMatchObject({ id: 'a1b2c3d4-0000-4000-8000-000000000001', record: { output: 'echo: mine' } });
    // Its answer streamed to it (the first piece at once, the rest together), then the record.
    expect(one.frames.map((f) => f.type).join(' ')).toMatch(/^accepted( delta)+ result$/);
    one.close();
    other.close();
  });

  it('answers a bad frame as API Gateway does, and the socket stays open for the next', async () => {
    const stack = await local('ws-edge');
    const client = await Client.open(websocketUrl(stack), stack.state.apiKey);
    const refusal = (message: string) => ({ message, connectionId: expect.any(String), requestId: expect.any(String) });
    client.send({ action: 'invoke', system: 'no prompt' });
    expect(await client.next('refusal', (f) => 'message' in f)).toEqual(refusal('Invalid request body'));
    client.send({ action: 'subscribe', id: 'not-a-uuid' });
    client.send({ action: 'dance' });
    client.send('not json');
    await client.next('four refusals', () => client.frames.length >= 4);
    expect(client.frames.map((f) => f.message)).toEqual(['Invalid request body', 'Invalid request body', 'Forbidden', 'Forbidden']);
    // Its own connection id only, the same in every answer.
    expect(new Set(client.frames.map((f) => f.connectionId)).size).toBe(1);
    client.send({ action: 'invoke', prompt: 'still open' });
    expect(await client.next('result', (f) => f.type === 'result')).toMatchObject({ record: { output: 'echo: still open' } });
    client.close();
  });

  it('streams 50 answers at once: each socket gets only its own deltas, which add up to its record\'s output', async () => {
    const stack = await local('ws-stream', '--concurrency', '8', '--model-token-latency', '10ms');
    const clients = await Promise.all(Array.from({ length: 50 }, () => Client.open(websocketUrl(stack), stack.state.apiKey)));
    clients.forEach((client, i) => client.send({ action: 'invoke', prompt: `stream ${i} ${'word '.repeat(30)}` }));
    await Promise.all(clients.map((client) => client.next('result', (f) => f.type === 'result', 60_000)));
    for (const [i, client] of clients.entries()) {
      const { id } = client.frames.find((f) => f.type === 'accepted') as { id: string };
      const deltas = client.frames.filter((f) => f.type === 'delta');
      const result = client.frames.find((f) => f.type === 'result') as { record: { output: string } };
      expect(client.frames.every((f) => f.id === id)).toBe(true);
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.map((f) => f.text).join('')).toBe(result.record.output);
      expect(result.record.output).toBe(`echo: stream ${i} ${'word '.repeat(30)}`);
      client.close();
    }
    expect((await stack.status()).modelStats.calls).toBe(50);
  }, 90_000);

  it('relays an OpenAI-compatible endpoint\'s own stream (--model-endpoint) in deltas that add up to the record', async () => {
    const ollama = await startOpenAiServer();
    try {
      const stack = await local('ws-forward', '--model-endpoint', ollama.baseUrl, '--model', 'gpt-oss');
      const client = await Client.open(websocketUrl(stack), stack.state.apiKey);
      client.send({ action: 'invoke', prompt: 'tell me a long story about queues' });
      const result = await client.next('result', (f) => f.type === 'result') as { record: { output: string; usage: { outputTokens: number } } };
      const deltas = client.frames.filter((f) => f.type === 'delta');
      expect(result.record.output).toBe('gpt-oss says: tell me a long story about queues');
      expect(deltas.map((f) => f.text).join('')).toBe(result.record.output);
      expect(deltas.length).toBeGreaterThan(1);
      expect(result.record.usage.outputTokens).toBe(7);
      expect(ollama.calls.map((c) => [c.body.stream, c.body.stream_options])).toEqual([[true, { include_usage: true }]]);
      client.close();
    } finally {
      await ollama.close();
    }
  });

  it('a client gone before its result loses nothing: the request completes, stored and readable by id', async () => {
    const stack = await local('ws-gone');
    await cliJson('pause', '--local', '--name', stack.name);
    const client = await Client.open(websocketUrl(stack), stack.state.apiKey);
    client.send({ action: 'invoke', prompt: 'nobody listens' });
    const { id } = await client.next('accepted', (f) => f.type === 'accepted') as { id: string };
    client.socket.terminate();
    await cliJson('resume', '--local', '--name', stack.name);
    const result = await cliJson<{ output: string }>('result', id, '--wait', '--timeout', '30s', '--local', '--name', stack.name);
    expect(result.output).toBe('echo: nobody listens');
    expect((await stack.status()).modelStats.calls).toBe(1);
  });
});

describe('the CLI over the WebSocket API', () => {
  it('send --stream prints the first words long before the last, the whole answer on stdout, id and usage on stderr', async () => {
    const stack = await local('ws-cli-stream', '--model-token-latency', '50ms');
    const prompt = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const started = Date.now();
    const child = spawnCli('send', '--local', '--name', stack.name, '--stream', prompt);
    let stdout = '';
    let stderr = '';
    let firstAt = 0;
    child.stdout.on('data', (d) => {
      firstAt ||= Date.now() - started;
      stdout += d;
    });
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const lastAt = Date.now() - started;
    expect(code, stderr).toBe(0);
    expect(stdout).toBe(`echo: ${prompt}\n`);
    expect(stderr).toMatch(/^Queued ([0-9a-f-]{36}); the answer follows as it is written\.\n\1: \d+\+\d+ tokens, \d+ ms\.\n$/);
    // 31 pieces 50 ms apart: about 1.5 s of writing, of which the first piece shows at the start.
    expect(lastAt - firstAt).toBeGreaterThan(1_000);
  }, 30_000);

  it('send --stream survives its socket cut mid-answer: a new socket takes over, or else the store; the answer printed whole and once', async () => {
    const stack = await local('ws-cli-cut', '--model-token-latency', '50ms');
    // A relay between the CLI and the stack's WebSocket endpoint, whose connections the test cuts.
    const file = join(STATE_DIR, `${stack.name}.json`);
    const state = JSON.parse(readFileSync(file, 'utf8')) as { websocketUrl: string };
    const connections = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = createConnection(Number(new URL(state.websocketUrl).port), '127.0.0.1');
      for (const end of [client, upstream]) {
        connections.add(end);
        end.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    writeFileSync(file, JSON.stringify({ ...state, websocketUrl: `ws://127.0.0.1:${(relay.address() as { port: number }).port}/prod` }));
    const prompt = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const streamCut = async (relayGoesToo: boolean) => {
      const child = spawnCli('send', '--local', '--name', stack.name, '--stream', prompt);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      await waitUntil('the first words', async () => stdout.length > 0, 10_000);
      if (relayGoesToo) relay.close();
      for (const end of connections) end.destroy();
      return { code: await closed, stdout, stderr };
    };

    // The relay still answers: the client opens a new socket, subscribes, and shows only what it had not.
    const reconnected = await streamCut(false);
    expect(reconnected.code, reconnected.stderr).toBe(0);
    expect(reconnected.stdout).toBe(`echo: ${prompt}\n`);
    expect(reconnected.stderr).toMatch(/^Queued ([0-9a-f-]{36}); the answer follows as it is written\.\n\1: \d+\+\d+ tokens, \d+ ms\.\n$/);

    // Nothing answers any more: said once, and the stored record finishes the answer.
    const stored = await streamCut(true);
    expect(stored.code, stored.stderr).toBe(0);
    expect(stored.stdout).toBe(`echo: ${prompt}\n`);
    expect(stored.stderr.match(/The stream stopped \(.*\): waiting for its stored result\./g)).toHaveLength(1);
    expect(stored.stderr).toMatch(/reading the results store instead/);
  }, 40_000);

  it('send --stream --json prints one event a line, the record last; Ctrl-C exits 130 and says how to read it later', async () => {
    const stack = await local('ws-cli-json', '--model-token-latency', '20ms');
    const run = await cli('send', '--local', '--name', stack.name, '--stream', '--json', 'a b c');
    expect(run.code, run.stderr).toBe(0);
    const events = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; text?: string; record?: { output: string } });
    expect(events[0]!.type).toBe('accepted');
    expect(events.filter((e) => e.type === 'delta').map((e) => e.text).join('')).toBe('echo: a b c');
    expect(events.at(-1)).toMatchObject({ type: 'result', record: { output: 'echo: a b c' } });

    const child = spawnCli('send', '--local', '--name', stack.name, '--stream', Array.from({ length: 200 }, () => 'slow').join(' '));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitUntil('the stream to start', async () => /Queued/.test(stderr), 10_000);
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toMatch(/Interrupted: stopped streaming; the request (\S+) goes on\. Read its result later with "bedrock-queue result \1 --name ws-cli-json --local"/);
  }, 30_000);

  it('send --wait gets its result over the socket, and reads the store instead (said once) when the socket does not answer', async () => {
    const stack = await local('ws-cli-wait');
    const pushed = await cli('send', '--local', '--name', stack.name, '--wait', 'by push');
    expect([pushed.code, pushed.stdout]).toEqual([0, 'echo: by push\n']);
    expect(pushed.stderr).not.toMatch(/WebSocket/);
    // The state file points at a port where nothing listens: the wait falls back to the store.
    const file = join(STATE_DIR, `${stack.name}.json`);
    const state = JSON.parse(readFileSync(file, 'utf8')) as { websocketUrl: string };
    writeFileSync(file, JSON.stringify({ ...state, websocketUrl: 'ws://127.0.0.1:9/prod' }));
    const polled = await cli('send', '--local', '--name', stack.name, '--wait', 'by polling');
    expect([polled.code, polled.stdout]).toEqual([0, 'echo: by polling\n']);
    expect(polled.stderr.match(/The WebSocket API did not answer \(.*\): reading the results store instead\./g)).toHaveLength(1);
  });
});
