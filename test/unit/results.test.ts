import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { followResults } from '../../src/client/results.js';
import type { ResultRecord } from '../../src/contract.js';

const sqsMock = mockClient(SQSClient);
const source = { sqs: new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }), queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/demo-results' };
const result = (id: string): ResultRecord => ({ id, status: 'ok', output: `answer ${id}`, model: 'm', latencyMs: 5, attempt: 1, completedAt: '2026-11-25T09:00:00.000Z' });
const message = (id: string) => ({ MessageId: `msg-${id}`, ReceiptHandle: `rh-${id}`, Body: JSON.stringify(result(id)) });

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({});
  sqsMock.on(DeleteMessageBatchCommand).resolves({});
});

describe('following results', () => {
  it('shows --count results, deletes what it showed, and hands back the rest', async () => {
    sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [message('a'), message('b'), message('c')] });
    const shown: string[] = [];
    const count = await followResults(source, { keep: false, count: 2, onResult: (r) => shown.push(r!.id) });
    expect(count).toBe(2);
    expect(shown).toEqual(['a', 'b']);
    expect(sqsMock.commandCalls(DeleteMessageBatchCommand).map((c) => c.args[0].input.Entries!.map((e) => e.ReceiptHandle))).toEqual([['rh-a', 'rh-b']]);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).map((c) => c.args[0].input.Entries!.map((e) => e.ReceiptHandle))).toEqual([['rh-c']]);
  });

  it('with --keep deletes nothing and shows a result that comes back only once', async () => {
    sqsMock.on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('a')] })
      .resolvesOnce({ Messages: [message('a'), message('b')] })
      .resolves({ Messages: [] });
    const shown: string[] = [];
    await followResults(source, { keep: true, idleMs: 50, onResult: (r) => shown.push(r!.id) });
    expect(shown).toEqual(['a', 'b']);
    expect(sqsMock.commandCalls(DeleteMessageBatchCommand)).toEqual([]);
  });

  it('stops when the signal fires (Ctrl-C)', async () => {
    const controller = new AbortController();
    sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
      controller.abort();
      return { Messages: [] };
    });
    expect(await followResults(source, { keep: false, signal: controller.signal, onResult: () => {} })).toBe(0);
  });
});
