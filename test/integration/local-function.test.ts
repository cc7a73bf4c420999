import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MappingEmulator } from '../../src/local/services/mapping.js';
import { FunctionSandbox } from '../../src/local/services/sandbox.js';
import { startSqsServer, type SqsServer } from '../../src/local/services/sqs-dynamodb-server.js';
import { tempDir } from '../helpers/temp.js';

// Functions that misbehave as a real one can: they run in the local sandbox exactly as the worker does.
const functions = tempDir('bq-functions-');
const write = (name: string, code: string) => {
  writeFileSync(join(functions, name), code);
  return pathToFileURL(join(functions, name));
};
const throws = write('throws.mjs', "export const handler = async () => { throw new Error('boom'); };");
const hangs = write('hangs.mjs', 'export const handler = () => new Promise(() => {});');
const crashes = write('crashes.mjs', `
let invocations = 0;
export const handler = async (event) => {
  invocations++;
  if (event.Records[0].body === 'crash') {
    setTimeout(() => { throw new Error('crashed outside the handler'); });
    return new Promise(() => {});
  }
  return { batchItemFailures: [], invocations, probe: process.env.BQ_PROBE };
};`);

const logs = write('logs.mjs', "export const handler = async () => { console.log('{\"level\":\"info\",\"message\":\"from the function\"}'); return { batchItemFailures: [] }; };");

let server: SqsServer;
let sqs: SQSClient;
const stoppers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  server = await startSqsServer();
  sqs = new SQSClient({ region: 'us-east-1', endpoint: server.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterEach(async () => {
  for (const stop of stoppers.splice(0)) await stop();
});
afterAll(async () => server.close());

/** A queue whose messages move to its DLQ after 2 receives, visible again 1 s after a failed one. */
async function queueWithDlq(name: string) {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(new CreateQueueCommand({
    QueueName: name,
    Attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: 2 }) },
  }));
  return { queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}

/** Runs the mapping over a queue with the function in a sandbox; once the message is in the DLQ, returns it and the invocations made. */
async function untilDeadLettered(name: string, bundle: URL, timeoutMs: number) {
  const { queueUrl, dlqUrl } = await queueWithDlq(name);
  const sandbox = new FunctionSandbox(bundle, {});
  await sandbox.start();
  const mapping = new MappingEmulator({ sqs: server.call, queueUrl, queueArn: `arn:aws:sqs:us-east-1:123456789012:${name}`, region: 'us-east-1', batchSize: 1, concurrency: 2, timeoutMs, waitSeconds: 1, handler: sandbox.handler });
  stoppers.push(async () => {
    await mapping.stop();
    await sandbox.close();
  });
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"prompt":"p"}' }));
  mapping.start();
  const deadline = Date.now() + 15_000;
  let dead;
  while (!dead && Date.now() < deadline) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1}));
    dead = Messages[0];
  }
  if (!dead) throw new Error(`nothing reached ${name}-dlq within 15 s`);
  return { body: dead.Body, invocations: mapping.status().invocations };
}

describe('the local function sandbox under the mapping emulator', () => {
  it('leaves the batch of a function that throws on the queue, until maxReceiveCount moves it to the DLQ', async () => {
    const dead = await untilDeadLettered('throws', throws, 5_000);
    expect(dead).toMatchObject({ body: '{"prompt":"p"}', invocations: 2 });
  });

  it('abandons an invocation at the function timeout, leaving its batch on the queue, until the DLQ', async () => {
    const dead = await untilDeadLettered('hangs', hangs, 300);
    expect(dead).toMatchObject({ body: '{"prompt":"p"}', invocations: 2 });
  });

  it('fails the invocations of a thread that crashes, then answers from a fresh one (a cold start) with its own environment', async () => {
    const sandbox = new FunctionSandbox(crashes, { BQ_PROBE: 'set for the function only' });
    stoppers.push(() => sandbox.close());
    const context = { getRemainingTimeInMillis: () => 5_000 };
    const event = (body: string) => ({ Records: [{ body }] }) as unknown as Parameters<typeof sandbox.handler>[0];
    expect(await sandbox.handler(event('fine'), context)).toEqual({ batchItemFailures: [], invocations: 1, probe: 'set for the function only' });
    await expect(sandbox.handler(event('crash'), context)).rejects.toThrow('crashed outside the handler');
    expect(await sandbox.handler(event('fine'), context)).toEqual({ batchItemFailures: [], invocations: 1, probe: 'set for the function only' });
    expect(process.env.BQ_PROBE).toBeUndefined();
  });

  it("writes the function's log lines to stderr, never to stdout where the command's data goes", async () => {
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const sandbox = new FunctionSandbox(logs, {});
    stoppers.push(async () => {
      await sandbox.close();
      stdout.mockRestore();
      stderr.mockRestore();
    });
    await sandbox.handler({ Records: [] }, { getRemainingTimeInMillis: () => 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain('{"level":"info","message":"from the function"}');
    expect(stdout.mock.calls.map((c) => String(c[0])).join('')).not.toContain('from the function');
  });
});
