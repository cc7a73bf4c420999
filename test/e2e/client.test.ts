/**
 * `bedrock-queue/client`, as an application imports it: the built package export, against the
 * local target over real HTTP and a real WebSocket.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { BedrockQueueClient as Client } from '../../src/client/bedrock-queue-client.js';
import { cliJson, startLocal, type LocalHandle } from '../helpers/local.js';

const root = new URL('../../', import.meta.url).pathname;
const started: LocalHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});

/** The package's `./client` export, resolved as package.json says. */
async function clientModule(): Promise<{ BedrockQueueClient: typeof Client }> {
  const { exports } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { exports: Record<string, { types: string; import: string }> };
  return import(`${root}${exports['./client']!.import}`) as Promise<{ BedrockQueueClient: typeof Client }>;
}

describe('bedrock-queue/client', () => {
  it('is what `import ... from "bedrock-queue/client"` gives, with its types beside it', () => {
    // Node resolves the package's own name through its exports, as it would in an application.
    const kind = execFileSync(process.execPath, ['--input-type=module', '-e', 'const m = await import("bedrock-queue/client"); console.log(typeof m.BedrockQueueClient)'], { cwd: root, encoding: 'utf8' });
    expect(kind.trim()).toBe('function');
    const { exports } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { exports: Record<string, { types: string }> };
    const types = readFileSync(`${root}${exports['./client']!.types}`, 'utf8');
    expect(types).toMatch(/export declare class BedrockQueueClient/);
    expect(existsSync(`${root}dist/types/contract.d.ts`)).toBe(true);
  });

  it('submits, reads a pending result, waits (pushed, and polled without a socket) and streams', async () => {
    const stack = await startLocal('client-lib', '--model-token-latency', '20ms');
    started.push(stack);
    const { BedrockQueueClient } = await clientModule();
    const pushing = new BedrockQueueClient({ invokeUrl: stack.state.invokeUrl, apiKey: stack.state.apiKey, websocketUrl: stack.state.websocketUrl });
    const polling = new BedrockQueueClient({ invokeUrl: stack.state.invokeUrl, apiKey: stack.state.apiKey });

    await cliJson('pause', '--local', '--name', stack.name);
    const own = 'a1b2c3d4-0000-4000-8000-00000000c11e';
    expect(await pushing.submit({ id: own.toUpperCase(), prompt: 'first' })).toEqual({ id: own });
    const { id } = await polling.submit({ prompt: 'second' });
    expect(await polling.result(id)).toBeUndefined();
    await cliJson('resume', '--local', '--name', stack.name);
    const [pushed, polled] = await Promise.all([pushing.wait(own, { timeoutMs: 30_000 }), polling.wait(id, { timeoutMs: 30_000 })]);
    expect([pushed.output, polled.output]).toEqual(['echo: first', 'echo: second']);
    expect(await polling.result(id)).toEqual(polled);

    const pieces: string[] = [];
    let record: { output?: string } | undefined;
    for await (const text of pushing.stream({ prompt: 'one two three four' }, { onResult: (r) => (record = r) })) pieces.push(text);
    expect(pieces.join('')).toBe('echo: one two three four');
    expect(record?.output).toBe('echo: one two three four');
    await expect(async () => {
      for await (const _ of polling.stream({ prompt: 'x' })) void _;
    }).rejects.toThrow(/needs the stack's WebSocket API/);
  }, 60_000);
});
