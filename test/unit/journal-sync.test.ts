/**
 * Acknowledged means on disk. kill -9 cannot prove it (the page cache outlives a killed process),
 * so these tests give the journal a file whose fdatasync they hold or fail: an acknowledgement
 * (a resolved write, SQS's SendMessage answer, the API's 202) must wait for the sync of the bytes
 * that hold it, and a failed sync must answer an error, never success.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resourceNames } from '../../src/contract.js';
import { Journal, type AppendFile } from '../../src/local/durability/journal.js';
import { startJournaledAws, type JournaledAws } from '../../src/local/durability/journaled-aws.js';
import { startApiServer, type ApiServer } from '../../src/local/services/api-server.js';
import { tempDir } from '../helpers/temp.js';

/** An append-only file whose syncs wait for the test: bytes count as durable only once a sync that covers them has succeeded. */
class ControlledFile implements AppendFile {
  written = '';
  durable = '';
  /** While true, every sync succeeds at once (setting up queues); false holds each until the test decides. */
  autoSync = true;
  pending: { resolve: () => void; reject: (err: Error) => void }[] = [];

  write = (async (text: string) => {
    this.written += text;
    return { bytesWritten: Buffer.byteLength(text), buffer: text };
  }) as AppendFile['write'];

  datasync = () => {
    const upTo = this.written.length;
    const succeed = () => {
      this.durable = this.written.slice(0, Math.max(upTo, this.durable.length));
    };
    if (this.autoSync) {
      succeed();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => this.pending.push({ resolve: () => { succeed(); resolve(); }, reject }));
  };

  close = async () => undefined;
}

/** Lets the event loop run a few turns: whatever could answer by now has answered. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
};

async function until(what: string, check: () => boolean) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('the journal acknowledges a durable write only once its bytes are synced', () => {
  it('resolves after the sync that covers the record, not after the write', async () => {
    const file = new ControlledFile();
    file.autoSync = false;
    const journal = await Journal.start(join(tempDir('bq-sync-'), 'j.journal'), () => [], { openAppend: async () => file });
    let acknowledged = false;
    const write = journal.write({ op: 'dropQueue', name: 'q1' }, true)!.then(() => (acknowledged = true));
    await until('the record to reach the file', () => file.written.includes('"q1"'));
    await until('a sync to be asked for', () => file.pending.length === 1);
    await settle();
    expect(acknowledged).toBe(false);
    file.pending.shift()!.resolve();
    await write;
    expect(file.durable).toContain('{"op":"dropQueue","name":"q1"}\n');
  });

  it('rejects the write whose sync failed, and every write after it', async () => {
    const file = new ControlledFile();
    file.autoSync = false;
    const journal = await Journal.start(join(tempDir('bq-sync-'), 'j.journal'), () => [], { openAppend: async () => file });
    const write = journal.write({ op: 'dropQueue', name: 'q1' }, true)!;
    await until('a sync to be asked for', () => file.pending.length === 1);
    file.pending.shift()!.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(write).rejects.toThrow(/cannot be written: EIO/);
    await expect(journal.write({ op: 'dropQueue', name: 'q2' }, true)!).rejects.toThrow(/cannot be written/);
  });
});

describe('SendMessage and POST /invokeModel answer only once the request is durable', () => {
  const names = resourceNames('synced');
  let aws: JournaledAws | undefined;
  let api: ApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    await aws?.sqs.close();
    api = undefined;
    aws = undefined;
  });

  async function start() {
    const file = new ControlledFile();
    aws = await startJournaledAws(join(tempDir('bq-sync-'), 'synced.journal'), names, { openAppend: async () => file });
    const { QueueUrl } = await aws.sqs.call<{ QueueUrl: string }>('CreateQueue', { QueueName: names.requestsQueue });
    api = await startApiServer({ apiKey: 'k', rateLimit: 1000, burstLimit: 1000, corsOrigin: '*', sqs: aws.sqs.call, requestsQueueUrl: QueueUrl, storedResult: () => undefined });
    // The queue's own record is written (and synced) in the background: let it land before holding syncs.
    await until('the queue to be journaled', () => file.durable.includes(names.requestsQueue));
    file.autoSync = false;
    return { file, QueueUrl, api };
  }

  /**
   * Sends `call` and holds the sync of the record that holds `text`: no answer may come before the
   * sync succeeds. Releases it, and resolves with the answer's status and body.
   */
  async function answeredOnlyAfterSync<T>(file: ControlledFile, text: string, call: Promise<Response>): Promise<{ status: number; body: T }> {
    let answered = false;
    const answer = call.then(async (r) => {
      answered = true;
      return { status: r.status, body: await r.json() as T };
    });
    await until(`the sync of ${text} to be asked for`, () => file.written.includes(text) && file.pending.length === 1);
    await settle();
    expect(answered).toBe(false);
    file.pending.shift()!.resolve();
    return answer;
  }

  const sqsCall = (endpoint: string, action: string, params: unknown) => fetch(endpoint, {
    method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}` }, body: JSON.stringify(params),
  });

  it('SQS answers SendMessage after the sync of its record', async () => {
    const { file, QueueUrl } = await start();
    const { status, body } = await answeredOnlyAfterSync<{ MessageId: string }>(file, 'precious', sqsCall(aws!.sqs.endpoint, 'SendMessage', { QueueUrl, MessageBody: 'precious' }));
    expect(status).toBe(200);
    expect(file.durable).toContain(`"id":"${body.MessageId}"`);
    expect(file.durable).toContain('"body":"precious"');
  });

  it('the API answers 202 after the sync of its request, and 500 when the sync fails', async () => {
    const { file, api: server } = await start();
    const post = (prompt: string) => fetch(server.invokeUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k' }, body: JSON.stringify({ prompt }) });
    const ok = await answeredOnlyAfterSync<{ id: string }>(file, 'keep me', post('keep me'));
    expect(ok.status).toBe(202);
    expect(file.durable).toContain(`"bq-request-id":{"DataType":"String","StringValue":"${ok.body.id}"}`);

    const refused = post('lost to a broken disk');
    await until('the next sync to be asked for', () => file.written.includes('broken disk') && file.pending.length === 1);
    file.pending.shift()!.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const failed = await refused;
    expect(failed.status).toBe(500);
    expect((await failed.json() as { message: string }).message).toMatch(/The queue is unavailable; try again .*cannot be written: EIO/);
  });
});
