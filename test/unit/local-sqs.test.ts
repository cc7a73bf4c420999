import { BatchGetItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ListQueuesCommand,
  ReceiveMessageCommand, SendMessageCommand, SQSClient,
} from '@aws-sdk/client-sqs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJournaledAws } from '../../src/local/durability/journaled-aws.js';
import { startSqsServer, type SqsServer } from '../../src/local/services/sqs-dynamodb-server.js';
import { resourceNames } from '../../src/contract.js';
import { tempDir } from '../helpers/temp.js';

let server: SqsServer;
beforeAll(async () => {
  server = await startSqsServer();
});
afterAll(async () => server.close());

const client = (endpoint: string) => new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

async function queue(sqs: SQSClient, QueueName: string, Attributes?: Record<string, string>) {
  return (await sqs.send(new CreateQueueCommand({ QueueName, Attributes }))).QueueUrl!;
}

async function counts(sqs: SQSClient, QueueUrl: string) {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
  return [Attributes.ApproximateNumberOfMessages, Attributes.ApproximateNumberOfMessagesNotVisible, Attributes.ApproximateNumberOfMessagesDelayed].map(Number);
}

const receiveCountOf = (m: { Attributes?: Record<string, string> }) => Number(m.Attributes?.ApproximateReceiveCount);

describe('the local SQS server', () => {
  it('answers a long poll for several messages as soon as one arrives, as SQS does', async () => {
    const sqs = client(server.endpoint);
    const QueueUrl = await queue(sqs, 'front');
    setTimeout(() => void sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' })), 300);
    const started = Date.now();
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
    expect(Messages.map((m) => m.Body)).toEqual(['hello']);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  for (const MaxNumberOfMessages of [10, 1]) {
    it(`hands back at once what a long poll for ${MaxNumberOfMessages} received after its client hung up (Ctrl-C)`, async () => {
      const sqs = client(server.endpoint);
      const QueueUrl = await queue(sqs, `hangup-${MaxNumberOfMessages}`);
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

  it('counts receives only: visibility changes leave ApproximateReceiveCount alone, as on AWS', async () => {
    const sqs = client(server.endpoint);
    const QueueUrl = await queue(sqs, 'counts-receives');
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'm' }));
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [message] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))).Messages!;
      seen.push(receiveCountOf(message!));
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: message!.ReceiptHandle, VisibilityTimeout: 30 }));
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: message!.ReceiptHandle, VisibilityTimeout: 0 }));
    }
    expect(seen).toEqual([1, 2, 3]);
  });

  it('moves a message to the DLQ on the receive after its maxReceiveCount-th, with its id', async () => {
    const sqs = client(server.endpoint);
    const dlq = await queue(sqs, 'redrive-dlq');
    const source = await queue(sqs, 'redrive', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:redrive-dlq', maxReceiveCount: 3 }) });
    const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'poison' }));
    const received: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: source, VisibilityTimeout: 0, AttributeNames: ['All'] }));
      received.push(...Messages.map(receiveCountOf));
    }
    expect(received).toEqual([1, 2, 3]);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq }));
    expect(Messages.map((m) => [m.MessageId, m.Body])).toEqual([[MessageId, 'poison']]);
  });

  it('counts waiting, in-flight and delayed messages apart', async () => {
    const sqs = client(server.endpoint);
    const QueueUrl = await queue(sqs, 'counters');
    for (const DelaySeconds of [0, 0, 0, 60]) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'm', DelaySeconds }));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 60 }));
    expect(await counts(sqs, QueueUrl)).toEqual([2, 1, 1]);
  });

  it('names queues by URLs on its own endpoint, so outside clients that follow them reach it', async () => {
    const sqs = client(server.endpoint);
    await queue(sqs, 'listed');
    const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'listed' }));
    expect(QueueUrls).toEqual([`${server.endpoint}/123456789012/listed`]);
  });

  it('listens on a port below the ephemeral range, which no outgoing connection can hold when a restart asks for it again', () => {
    const ephemeralFrom = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const port = Number(new URL(server.endpoint).port);
    expect(port).toBeGreaterThanOrEqual(10_000);
    expect(port).toBeLessThan(ephemeralFrom);
  });

  it('refuses the query protocol with a message that says which one it speaks', async () => {
    const answer = await fetch(server.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=ListQueues' });
    expect(answer.status).toBe(400);
    expect((await answer.json() as { message: string }).message).toMatch(/JSON protocol/);
  });
});

describe('the journal of the local queues', () => {
  const names = resourceNames('journaled');

  it('brings back messages with their ids, bodies, attributes and receive counts, without the deleted ones', async () => {
    const path = join(tempDir('bq-journal-'), 'journaled.journal');
    const first = await startJournaledAws(path, names);
    expect(first.recovered).toBeUndefined();
    const sqs = client(first.sqs.endpoint);
    await queue(sqs, names.deadLetterQueue);
    const QueueUrl = await queue(sqs, names.requestsQueue, { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:us-east-1:123456789012:${names.deadLetterQueue}`, maxReceiveCount: 5 }) });
    const sent = [];
    for (const body of ['kept', 'received once', 'deleted']) {
      sent.push((await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageAttributes: { n: { DataType: 'String', StringValue: body } } }))).MessageId);
    }
    // Oldest first: one receive takes 'kept' then, with the next, 'received once'.
    const taken = (await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 3, VisibilityTimeout: 60, AttributeNames: ['All'] }))).Messages!;
    for (const m of taken) {
      if (m.Body === 'deleted') await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      if (m.Body === 'kept') await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    }
    // A crash: the process goes without closing anything; a new one reads the same file.
    await new Promise((r) => setTimeout(r, 50));
    first.sqs.service.close();
    const second = await startJournaledAws(path, names);
    expect(second.recovered).toMatchObject({ requests: 2, results: 0, deadLetters: 0, alreadyAnswered: 0 });
    const again = client(second.sqs.endpoint);
    const againUrl = second.sqs.service.url(names.requestsQueue);
    const receive = async () => (await again.send(new ReceiveMessageCommand({ QueueUrl: againUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'], MessageAttributeNames: ['All'] }))).Messages ?? [];
    // 'received once' is still in flight (60 s): the restart keeps it invisible, and its handle valid.
    const first2 = await receive();
    expect(first2.map((m) => [m.MessageId, m.Body, m.MessageAttributes?.n?.StringValue, receiveCountOf(m)])).toEqual([[sent[0], 'kept', 'kept', 2]]);
    expect(await counts(again, againUrl)).toEqual([0, 2, 0]);
    const inFlight = taken.find((m) => m.Body === 'received once')!;
    await again.send(new ChangeMessageVisibilityCommand({ QueueUrl: againUrl, ReceiptHandle: inFlight.ReceiptHandle, VisibilityTimeout: 0 }));
    const second2 = await receive();
    expect(second2.map((m) => [m.MessageId, m.Body, receiveCountOf(m), m.Attributes?.ApproximateFirstReceiveTimestamp])).toEqual([
      [sent[1], 'received once', 2, inFlight.Attributes!.ApproximateFirstReceiveTimestamp],
    ]);
    await second.sqs.close();
    await second.journal.close();
    // The crashed process's file, closed at last (as the kernel would): no FileHandle is left to the garbage collector.
    await first.sqs.close();
    await first.journal.close();
  });

  it('does not queue again a request whose result it journaled (at-least-once, never twice)', async () => {
    const path = join(tempDir('bq-journal-'), 'answered.journal');
    const first = await startJournaledAws(path, names);
    const sqs = client(first.sqs.endpoint);
    const requests = await queue(sqs, names.requestsQueue);
    const results = await queue(sqs, names.resultsQueue);
    const answered = (await sqs.send(new SendMessageCommand({ QueueUrl: requests, MessageBody: '{"prompt":"a"}' }))).MessageId!;
    const open = (await sqs.send(new SendMessageCommand({ QueueUrl: requests, MessageBody: '{"prompt":"b"}' }))).MessageId!;
    // The worker published the result, and the crash came before the mapping deleted the request.
    await sqs.send(new SendMessageCommand({ QueueUrl: results, MessageBody: JSON.stringify({ id: answered, status: 'ok' }) }));
    first.sqs.service.close();
    const second = await startJournaledAws(path, names);
    expect(second.recovered).toMatchObject({ requests: 1, results: 1, alreadyAnswered: 1 });
    expect(second.sqs.service.queues.get(names.requestsQueue)!.stored().map((m) => m.id)).toEqual([open]);
    // The compacted journal a third start reads holds the same.
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { op: string });
    expect(lines.filter((l) => l.op === 'send')).toHaveLength(2);
    await second.sqs.close();
    await second.journal.close();
    // The crashed process's file, closed at last (as the kernel would): no FileHandle is left to the garbage collector.
    await first.sqs.close();
    await first.journal.close();
  });

  it('compacts while running, keeping every live message and the answered requests still queued', async () => {
    const path = join(tempDir('bq-journal-'), 'compacted.journal');
    // Compaction after every 2 kB appended: many times during this test.
    const first = await startJournaledAws(path, names, { compactAfterBytes: 2_000 });
    const sqs = client(first.sqs.endpoint);
    const requests = await queue(sqs, names.requestsQueue);
    const results = await queue(sqs, names.resultsQueue);
    const answered = (await sqs.send(new SendMessageCommand({ QueueUrl: requests, MessageBody: '{"prompt":"answered"}' }))).MessageId!;
    await sqs.send(new SendMessageCommand({ QueueUrl: results, MessageBody: JSON.stringify({ id: answered, status: 'ok' }) }));
    // The result is consumed (by tail, say) before the request's delete reached the journal.
    const [result] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: results }))).Messages!;
    await sqs.send(new DeleteMessageCommand({ QueueUrl: results, ReceiptHandle: result!.ReceiptHandle }));
    const kept: string[] = [];
    for (let i = 0; i < 60; i++) {
      const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: requests, MessageBody: `{"prompt":"${'x'.repeat(100)} ${i}"}` }));
      if (i % 2) kept.push(MessageId!);
      else {
        // Oldest first: the answered request (never deleted here) comes first, then the one to delete.
        const received = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: requests, MaxNumberOfMessages: 2, VisibilityTimeout: 0 }))).Messages!;
        const m = received.find((r) => r.MessageId !== answered);
        if (m) await sqs.send(new DeleteMessageCommand({ QueueUrl: requests, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    const live = first.sqs.service.queues.get(names.requestsQueue)!.stored().map((m) => m.id).filter((id) => id !== answered).sort();
    // Far less than the ~16 kB appended: the history was replaced by the live state.
    expect(readFileSync(path, 'utf8').length).toBeLessThan(12_000);
    first.sqs.service.close();
    const second = await startJournaledAws(path, names);
    expect(second.recovered).toMatchObject({ alreadyAnswered: 1 });
    expect(second.sqs.service.queues.get(names.requestsQueue)!.stored().map((m) => m.id).sort()).toEqual(live);
    expect(live.length).toBeGreaterThanOrEqual(kept.length);
    await second.sqs.close();
    await second.journal.close();
    // The crashed process's file, closed at last (as the kernel would): no FileHandle is left to the garbage collector.
    await first.sqs.close();
    await first.journal.close();
  });
});

describe('the local results store (DynamoDB\'s part of the local target)', () => {
  const names = resourceNames('stored');
  const put = (id: string, status: string) => ({
    TableName: names.resultsTable,
    Item: { id: { S: id }, status: { S: status }, record: { S: `{"id":"${id}","status":"${status}"}` }, expiresAt: { N: '4102444800' } },
    ConditionExpression: 'attribute_not_exists(#id) OR #status <> :ok',
    ExpressionAttributeNames: { '#id': 'id', '#status': 'status' },
    ExpressionAttributeValues: { ':ok': { S: 'ok' } },
  });

  it('evaluates the worker\'s condition as DynamoDB does: an error never replaces an ok, an ok replaces an error', async () => {
    const local = await startJournaledAws(join(tempDir('bq-store-'), 'stored.journal'), names);
    const dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint: local.sqs.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const statusOf = async (id: string) => (await dynamodb.send(new GetItemCommand({ TableName: names.resultsTable, Key: { id: { S: id } } }))).Item?.status?.S;
    await dynamodb.send(new PutItemCommand(put('a', 'ok')));
    const refused = await dynamodb.send(new PutItemCommand(put('a', 'error'))).catch((err: Error) => err.name);
    expect(refused).toBe('ConditionalCheckFailedException');
    expect(await statusOf('a')).toBe('ok');
    await dynamodb.send(new PutItemCommand(put('b', 'error')));
    await dynamodb.send(new PutItemCommand(put('b', 'ok')));
    expect(await statusOf('b')).toBe('ok');
    // Projection, a batch read of present and absent keys, and DynamoDB's errors for what it does not have.
    const projected = await dynamodb.send(new GetItemCommand({ TableName: names.resultsTable, Key: { id: { S: 'a' } }, ProjectionExpression: '#r', ExpressionAttributeNames: { '#r': 'record' } }));
    expect(projected.Item).toEqual({ record: { S: '{"id":"a","status":"ok"}' } });
    const batch = await dynamodb.send(new BatchGetItemCommand({ RequestItems: { [names.resultsTable]: { Keys: [{ id: { S: 'a' } }, { id: { S: 'none' } }, { id: { S: 'b' } }] } } }));
    expect(batch.Responses![names.resultsTable]!.map((i) => i.id!.S).sort()).toEqual(['a', 'b']);
    expect(await dynamodb.send(new GetItemCommand({ TableName: 'other', Key: { id: { S: 'a' } } })).catch((err: Error) => err.name)).toBe('ResourceNotFoundException');
    expect(await dynamodb.send(new PutItemCommand({ ...put('c', 'ok'), ConditionExpression: 'attribute_exists(#id)' })).catch((err: Error) => err.name)).toBe('ValidationException');
    await local.sqs.close();
    await local.journal.close();
  });
});

describe('the detached stack\'s log', () => {
  it('is cut back to empty past its limit, and later lines follow at its new end with no hole', async () => {
    const { keepLogBounded } = await import('../../src/local/lifecycle/run.js');
    const { openSync, writeSync, closeSync, statSync } = await import('node:fs');
    const path = join(tempDir('bq-log-'), 'stack.log');
    const fd = openSync(path, 'a');
    writeSync(fd, 'x'.repeat(100));
    const timer = keepLogBounded(path, 50, 20);
    await new Promise((r) => setTimeout(r, 150));
    expect(statSync(path).size).toBe(0);
    clearInterval(timer);
    writeSync(fd, 'after\n');
    closeSync(fd);
    expect(readFileSync(path, 'utf8')).toBe('after\n');
  });
});
