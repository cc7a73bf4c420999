import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqsServer, type SqsServer } from '../../src/local/sqs-server.js';

let server: SqsServer;
beforeAll(async () => {
  server = await startSqsServer();
});
afterAll(async () => server.close());

const client = (endpoint: string) => new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

/** Sends one message after 300 ms and times a 10-message, 5-second long poll. */
async function timeLongPoll(endpoint: string, queue: string) {
  const sqs = client(endpoint);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queue }));
  setTimeout(() => void sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' })), 300);
  const started = Date.now();
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
  return { ms: Date.now() - started, bodies: Messages.map((m) => m.Body) };
}

describe('the local SQS server', () => {
  it('answers a long poll for several messages as soon as one arrives, as SQS does', async () => {
    const polled = await timeLongPoll(server.endpoint, 'front');
    expect(polled.bodies).toEqual(['hello']);
    expect(polled.ms).toBeLessThan(2_000);
  });

  it('fixes a real gap: the embedded server alone holds such a poll to its end', async () => {
    const polled = await timeLongPoll(server.innerEndpoint, 'inner');
    expect(polled.bodies).toEqual(['hello']);
    expect(polled.ms).toBeGreaterThan(4_500);
  });

  for (const MaxNumberOfMessages of [10, 1]) {
    it(`hands back at once what a long poll for ${MaxNumberOfMessages} received after its client hung up (Ctrl-C)`, async () => {
      const sqs = client(server.endpoint);
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `hangup-${MaxNumberOfMessages}` }));
      const controller = new AbortController();
      const dead = sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages, WaitTimeSeconds: 5, VisibilityTimeout: 30 }), { abortSignal: controller.signal }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      await dead;
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'for the next waiter' }));
      // The abandoned poll takes the message; without the hand-back it would stay hidden for 30 s.
      let bodies: (string | undefined)[] = [];
      for (let tries = 0; tries < 15 && !bodies.length; tries++) {
        await new Promise((r) => setTimeout(r, 200));
        bodies = ((await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))).Messages ?? []).map((m) => m.Body);
      }
      expect(bodies).toEqual(['for the next waiter']);
    });
  }

  it('still hands out a full batch when messages are waiting', async () => {
    const sqs = client(server.endpoint);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'batch' }));
    for (let i = 0; i < 5; i++) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `m${i}` }));
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
    expect(Messages.map((m) => m.Body).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });
});
