import {
  ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand,
  GetQueueAttributesCommand, GetQueueUrlCommand, ListMessageMoveTasksCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageBatchCommand,
  SendMessageCommand, SQSClient, StartMessageMoveTaskCommand, type Message,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { startSqsServer } from '../../src/local/services/sqs-dynamodb-server.js';
import { errorName } from '../../src/errors.js';
import { requireMoto } from '../helpers/moto.js';
import { sqsPeers } from '../helpers/sqs-peers.js';

const hasMoto = requireMoto();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One script of the SQS calls the pipeline relies on, recording what a client can observe, with
 * message ids and receipt handles replaced by their order of appearance and URLs by their path.
 */
async function script(endpoint: string, withMoveTask: boolean): Promise<Record<string, unknown>> {
  const sqs = new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const ids = new Map<string, number>();
  const idOf = (id: string | undefined) => {
    if (!ids.has(id!)) ids.set(id!, ids.size);
    return `#${ids.get(id!)}`;
  };
  const seen: Record<string, unknown> = {};
  const receive = async (QueueUrl: string, extra: Record<string, unknown> = {}) =>
    (await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['ApproximateReceiveCount'], MessageAttributeNames: ['All'], ...extra }))).Messages ?? [];
  const shape = (m: Message) => ({ id: idOf(m.MessageId), body: m.Body, count: m.Attributes?.ApproximateReceiveCount, md5: m.MD5OfBody, attributes: m.MessageAttributes, md5OfAttributes: m.MD5OfMessageAttributes });
  const counters = async (QueueUrl: string) => {
    const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
    return { visible: Attributes.ApproximateNumberOfMessages, inFlight: Attributes.ApproximateNumberOfMessagesNotVisible, delayed: Attributes.ApproximateNumberOfMessagesDelayed };
  };
  const failure = async (call: Promise<unknown>) => call.then(() => 'no error', (err: unknown) => errorName(err));

  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'diff-dlq' }))).QueueUrl!;
  const { Attributes: dlqAttributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }));
  const main = (await sqs.send(new CreateQueueCommand({ QueueName: 'diff-main', Attributes: {
    VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqAttributes!.QueueArn, maxReceiveCount: 3 }),
  } }))).QueueUrl!;
  seen.urls = {
    created: new URL(main).pathname,
    byName: new URL((await sqs.send(new GetQueueUrlCommand({ QueueName: 'diff-main' }))).QueueUrl!).pathname,
    listed: ((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'diff-' }))).QueueUrls ?? []).map((u) => new URL(u).pathname).sort(),
    sameHost: new URL(main).host === new URL(endpoint).host,
  };
  seen.missingQueue = await failure(sqs.send(new GetQueueUrlCommand({ QueueName: 'diff-none' })));

  // Receive count: a receive counts, a visibility change does not.
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: main, MessageBody: 'héllo 🌍', MessageAttributes: {
    kind: { DataType: 'String', StringValue: 'probe' }, n: { DataType: 'Number', StringValue: '42' }, raw: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
  } }));
  seen.sent = { id: idOf(sent.MessageId), md5: sent.MD5OfMessageBody, md5OfAttributes: sent.MD5OfMessageAttributes };
  const counts: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const [message] = await receive(main);
    counts.push(shape(message!));
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: main, ReceiptHandle: message!.ReceiptHandle, VisibilityTimeout: 20 }));
    seen[`countersInFlight${i}`] = await counters(main);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: main, ReceiptHandle: message!.ReceiptHandle, VisibilityTimeout: 0 }));
  }
  seen.receives = counts;
  // The fourth receive finds it over maxReceiveCount: it goes to the DLQ, with its id and body.
  seen.fourthReceive = (await receive(main)).map(shape);
  await sleep(200);
  seen.deadLettered = (await receive(dlq, { VisibilityTimeout: 0 })).map((m) => ({ id: idOf(m.MessageId), body: m.Body }));
  seen.countersAfterRedrive = { main: await counters(main), dlq: await counters(dlq) };

  // Visibility timeout expiry.
  await sqs.send(new SendMessageCommand({ QueueUrl: main, MessageBody: 'expires' }));
  const [hidden] = await receive(main, { VisibilityTimeout: 1 });
  seen.whileHidden = (await receive(main)).length;
  await sleep(1_600);
  const [back] = await receive(main, { VisibilityTimeout: 0 });
  seen.visibleAgain = { sameId: back?.MessageId === hidden?.MessageId, count: back?.Attributes?.ApproximateReceiveCount };
  await sqs.send(new DeleteMessageCommand({ QueueUrl: main, ReceiptHandle: back!.ReceiptHandle }));

  // Delayed messages are counted apart and come out after their delay.
  await sqs.send(new SendMessageCommand({ QueueUrl: main, MessageBody: 'later', DelaySeconds: 1 }));
  seen.countersDelayed = await counters(main);
  seen.receivedBeforeDelay = (await receive(main)).length;
  await sleep(1_600);
  const later = await receive(main);
  seen.receivedAfterDelay = later.map((m) => m.Body);
  await sqs.send(new DeleteMessageCommand({ QueueUrl: main, ReceiptHandle: later[0]!.ReceiptHandle }));

  // Long polling wakes up on arrival.
  setTimeout(() => void sqs.send(new SendMessageCommand({ QueueUrl: main, MessageBody: 'wake' })), 500);
  const started = Date.now();
  const woken = await receive(main, { WaitTimeSeconds: 5 });
  seen.longPoll = { bodies: woken.map((m) => m.Body), answeredEarly: Date.now() - started < 3_000 };
  await sqs.send(new DeleteMessageCommand({ QueueUrl: main, ReceiptHandle: woken[0]!.ReceiptHandle }));

  // Batch calls: per-entry success and failure.
  const batch = await sqs.send(new SendMessageBatchCommand({ QueueUrl: main, Entries: [
    { Id: 'a', MessageBody: 'one' }, { Id: 'b', MessageBody: 'two', DelaySeconds: 0 }, { Id: 'c', MessageBody: 'three' },
  ] }));
  seen.sendBatch = { ok: (batch.Successful ?? []).map((s) => s.Id).sort(), failed: batch.Failed ?? [] };
  seen.duplicateBatchIds = await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: main, Entries: [{ Id: 'x', MessageBody: '1' }, { Id: 'x', MessageBody: '2' }] })));
  seen.emptyBatch = await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: main, Entries: [] })));
  const three = await receive(main, { VisibilityTimeout: 30 });
  seen.batchReceived = three.map((m) => m.Body).sort();
  seen.countersBatch = await counters(main);
  const changed = await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: main, Entries: three.map((m, i) => ({ Id: `v${i}`, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })) }));
  seen.changeBatch = { ok: (changed.Successful ?? []).length, failed: (changed.Failed ?? []).length };
  const again = await receive(main);
  const deleted = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: main, Entries: again.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
  seen.deleteBatch = { ok: (deleted.Successful ?? []).length, failed: (deleted.Failed ?? []).length };
  seen.countersEmpty = await counters(main);

  if (!withMoveTask) return seen;
  // A message move task brings the dead letter back, with its receive count started again.
  const task = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqAttributes!.QueueArn, DestinationArn: (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: main, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn }));
  seen.taskHandle = typeof task.TaskHandle;
  let status: string | undefined;
  for (let i = 0; i < 50 && status !== 'COMPLETED'; i++) {
    await sleep(100);
    status = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqAttributes!.QueueArn }))).Results?.[0]?.Status;
  }
  seen.moveTask = status;
  seen.redriven = (await receive(main)).map((m) => ({ body: m.Body, count: m.Attributes?.ApproximateReceiveCount }));
  return seen;
}

describe.skipIf(!hasMoto)('SQS semantics: the local server against moto, one script', () => {
  const peers = sqsPeers();

  // moto 5.2 has no StartMessageMoveTask (it answers 404): that part runs against ours alone, checked against AWS's documentation.
  it('observes the same results from both', async () => {
    const [reference, ours] = await Promise.all([script(peers.moto().endpoint, false), script(peers.local().endpoint, false)]);
    expect(ours).toEqual(reference);
    // And what AWS documents, so that both cannot be wrong the same way.
    expect((ours.receives as { count: string }[]).map((r) => r.count)).toEqual(['1', '2', '3']);
    expect(ours.fourthReceive).toEqual([]);
    expect(ours.deadLettered).toEqual([{ id: '#0', body: 'héllo 🌍' }]);
    expect(ours.countersInFlight0).toEqual({ visible: '0', inFlight: '1', delayed: '0' });
    expect(ours.countersDelayed).toEqual({ visible: '0', inFlight: '0', delayed: '1' });
    expect(ours.missingQueue).toBe('QueueDoesNotExist');
  }, 60_000);

  it('runs a message move task as AWS documents it: the DLQ\'s messages back to the destination, counted afresh', async () => {
    const fresh = await startSqsServer();
    const ours = await script(fresh.endpoint, true).finally(() => fresh.close());
    expect(ours.taskHandle).toBe('string');
    expect(ours.moveTask).toBe('COMPLETED');
    expect(ours.redriven).toEqual([{ body: 'héllo 🌍', count: '1' }]);
  }, 60_000);
});
