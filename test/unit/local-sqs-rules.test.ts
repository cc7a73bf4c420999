/**
 * Where moto accepts what SQS refuses (it cannot be the oracle here), the local SQS server follows
 * AWS's documentation. Each case names the rule it checks; all go through the SDK and the JSON protocol.
 */
import {
  ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, PurgeQueueCommand,
  ReceiveMessageCommand, SendMessageCommand, SQSClient, type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSqsServer, type SqsServer } from '../../src/local/services/sqs-dynamodb-server.js';

let server: SqsServer;
let sqs: SQSClient;
beforeAll(async () => {
  server = await startSqsServer();
  sqs = new SQSClient({ region: 'us-east-1', endpoint: server.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterAll(async () => server.close());

let queues = 0;
async function newQueue(Attributes?: Record<string, string>): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: `rules-${++queues}`, Attributes }))).QueueUrl!;
}

const receive = async (QueueUrl: string, VisibilityTimeout: number) => (await sqs.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout, AttributeNames: ['All'] }))).Messages ?? [];

async function visibleCount(QueueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
}

const errorOf = (call: Promise<unknown>) => call.then(() => 'no error', (err: Error & { $metadata?: { httpStatusCode?: number } }) => `${err.name} (${err.$metadata?.httpStatusCode}): ${err.message}`);

describe('receipt handles belong to one receive of one queue', () => {
  it('a handle of an earlier receive neither changes the visibility (MessageNotInflight) nor deletes (success, as SQS answers, but the message stays)', async () => {
    const QueueUrl = await newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'twice received' }));
    const [first] = await receive(QueueUrl, 0);
    const [second] = await receive(QueueUrl, 30);
    expect(second!.MessageId).toBe(first!.MessageId);
    expect(second!.ReceiptHandle).not.toBe(first!.ReceiptHandle);
    expect(await errorOf(sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first!.ReceiptHandle, VisibilityTimeout: 0 }))))
      .toBe('MessageNotInflight (400): The message referred to is not in flight.');
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first!.ReceiptHandle }));
    expect(await visibleCount(QueueUrl)).toBe(1);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: second!.ReceiptHandle, VisibilityTimeout: 60 }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: second!.ReceiptHandle }));
    expect(await visibleCount(QueueUrl)).toBe(0);
  });

  it('past its visibility timeout a message is not in flight, whether or not anything read the queue since', async () => {
    const QueueUrl = await newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'expires' }));
    const [received] = await receive(QueueUrl, 1);
    await new Promise((r) => setTimeout(r, 1_100));
    // No receive and no count in between: the timeout alone ends the flight.
    expect(await errorOf(sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: received!.ReceiptHandle, VisibilityTimeout: 30 }))))
      .toMatch(/^MessageNotInflight \(400\)/);
    // The latest handle still deletes a message that nobody received again, as on SQS.
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: received!.ReceiptHandle }));
    expect(await visibleCount(QueueUrl)).toBe(0);
  });

  it('a handle of another queue is ReceiptHandleIsInvalid', async () => {
    const [a, b] = [await newQueue(), await newQueue()];
    await sqs.send(new SendMessageCommand({ QueueUrl: a, MessageBody: 'in a' }));
    const [received] = await receive(a, 30);
    expect(await errorOf(sqs.send(new DeleteMessageCommand({ QueueUrl: b, ReceiptHandle: received!.ReceiptHandle })))).toMatch(/^ReceiptHandleIsInvalid \(400\): The input receipt handle ".+" is not a valid receipt handle\.$/);
    expect(await errorOf(sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: b, ReceiptHandle: received!.ReceiptHandle, VisibilityTimeout: 0 })))).toMatch(/^ReceiptHandleIsInvalid/);
  });

  it('refuses a visibility that ends more than 12 hours after the receive', async () => {
    const QueueUrl = await newQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'long' }));
    const [received] = await receive(QueueUrl, 60);
    await new Promise((r) => setTimeout(r, 20));
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: received!.ReceiptHandle, VisibilityTimeout: 43_000 }));
    expect(await errorOf(sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: received!.ReceiptHandle, VisibilityTimeout: 43_200 }))))
      .toBe('InvalidParameterValue (400): Value 43200 for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]');
  });
});

describe('queue-wide rules', () => {
  it('deletes messages past MessageRetentionPeriod and counts them out', async () => {
    const QueueUrl = await newQueue({ MessageRetentionPeriod: '60' });
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'old' }));
    const queue = server.service.byUrl(QueueUrl);
    expect(queue.counts().visible).toBe(1);
    const later = Date.now() + 61_000;
    expect(queue.counts(later)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(queue.stored(later)).toEqual([]);
    expect(await visibleCount(QueueUrl)).toBe(0);
  });

  it('allows one PurgeQueue per queue every 60 seconds (PurgeQueueInProgress, 403)', async () => {
    const QueueUrl = await newQueue();
    await sqs.send(new PurgeQueueCommand({ QueueUrl }));
    expect(await errorOf(sqs.send(new PurgeQueueCommand({ QueueUrl })))).toMatch(/^PurgeQueueInProgress \(403\): Only one PurgeQueue operation on rules-\d+ is allowed every 60 seconds\.$/);
  });

  it('says a .fifo queue is not supported, rather than that its name has a bad character', async () => {
    expect(await errorOf(sqs.send(new CreateQueueCommand({ QueueName: 'orders.fifo', Attributes: { FifoQueue: 'true' } })))).toMatch(/orders\.fifo: FIFO queues are not supported by the local SQS server/);
  });
});

describe('message attributes are checked as SQS documents them', () => {
  const s = (StringValue: string): MessageAttributeValue => ({ DataType: 'String', StringValue });
  const n = (StringValue: string): MessageAttributeValue => ({ DataType: 'Number', StringValue });
  const cases: [string, Record<string, MessageAttributeValue>, RegExp | undefined][] = [
    ['a plain name', { 'order_id-1.v2': s('x') }, undefined],
    ['a character outside letters, digits, _ - .', { 'a b': s('x') }, /can contain only alphanumeric/],
    ['the AWS. prefix, any case', { 'aws.trace': s('x') }, /reserved for use by Amazon SQS/],
    ['the Amazon. prefix', { 'Amazon.x': s('x') }, /reserved/],
    ['a leading period', { '.a': s('x') }, /period/],
    ['a trailing period', { 'a.': s('x') }, /period/],
    ['two periods in a row', { 'a..b': s('x') }, /period/],
    ['256 characters', { ['n'.repeat(256)]: s('x') }, undefined],
    ['257 characters', { ['n'.repeat(257)]: s('x') }, /1 to 256 characters/],
    ['ten attributes', Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, s('x')])), undefined],
    ['eleven attributes', Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, s('x')])), /Number of message attributes \[11\] exceeds the allowed maximum \[10\]/],
    ['an empty String value', { a: s('') }, /must contain a non-empty value of type 'String'/],
    ['a Number', { a: n('-12.5e3') }, undefined],
    ['a Number that is not one', { a: n('12abc') }, /invalid Number value/],
    ['a Number of 39 digits', { a: n('1'.repeat(39)) }, /38 digits/],
    ['a Number above 10^126', { a: n('1e127') }, /from -10\^128 to 10\^126/],
    ['a Number at -10^128', { a: n('-1e128') }, undefined],
    ['an invalid character in a String value', { a: s('bell \u0007') }, /contains invalid characters/],
  ];
  it.each(cases)('%s', async (_, MessageAttributes, refused) => {
    const QueueUrl = await newQueue();
    const said = await errorOf(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'b', MessageAttributes })));
    if (refused) expect(said).toMatch(new RegExp(`^InvalidParameterValue \\(400\\): .*${refused.source}`));
    else expect(said).toBe('no error');
  });
});
