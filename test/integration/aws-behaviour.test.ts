/**
 * The CLI against moto behind a proxy that behaves like real AWS where moto does not (on a
 * compressed clock): eventual consistency, IAM propagation, functions that take time to become
 * Active, API Gateway's rate limits, and the Bedrock control plane for the model preflight.
 */
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetQueueUrlCommand, ListQueuesCommand, SQSClient, TagQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import {
  apiGatewayThrottling, bedrockControlPlane, deletedQueueLingers, functionFailed, functionSettling, getFunctionWithoutListTags, iamPropagation, newQueueNotReady, queueDeletedRecently,
} from '../helpers/aws-behaviours.js';
import { startAwsProxy, type AwsProxy, type Behaviour } from '../helpers/aws-proxy.js';
import { requireMoto, startMoto, type Moto } from '../helpers/moto.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const credentials = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
const hasMoto = requireMoto();

describe.runIf(hasMoto)('provisioning against AWS\'s behaviours (moto behind the AWS-behaviour proxy)', () => {
  let moto: Moto;
  let proxy: AwsProxy | undefined;
  const withProxy = async (behaviours: Behaviour[]) => (proxy = await startAwsProxy(moto.endpoint, behaviours));
  const cli = (...args: string[]) => runCli([...args, '--region', REGION, '--endpoint-url', proxy!.endpoint, '--name', 'itest', '--json'], credentials);
  const ok = async (...args: string[]) => {
    const run = await cli(...args);
    expect(run.code, run.stderr).toBe(0);
    return { ...JSON.parse(run.stdout), stderr: run.stderr };
  };

  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => moto?.stop());
  beforeEach(async () => moto.reset());
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('up, up with zero writes, down, up at once and down all converge', async () => {
    const p = await withProxy([
      queueDeletedRecently(15_000), newQueueNotReady(400, 1_500), iamPropagation(6_000, 5_000, 'itest-worker'), functionSettling(1_500),
      apiGatewayThrottling(), bedrockControlPlane(ACCOUNT),
    ]);
    const first = await ok('up');
    expect(first.changed).toBe(13);
    expect(first.stderr).toMatch(/the new IAM role is not usable by Lambda yet \(IAM propagation\); retrying/);
    const refused = (path: RegExp) => p.recorded.filter((r) => r.service === 'lambda' && r.method === 'POST' && path.test(r.path)).map((r) => r.answer.status);
    for (const path of [/^\/2015-03-31\/functions$/, /^\/2015-03-31\/event-source-mappings\/?$/]) {
      const statuses = refused(path);
      expect(statuses[0], String(path)).toBe(400);
      expect(statuses.at(-1), String(path)).toBeLessThan(300);
    }
    // A 429 from API Gateway is retried by the SDK's own throttling retries before our rule sees it.
    // The preflight ran against the Bedrock control plane: the worker may call exactly the profile's models.
    expect(p.fired.BedrockControlPlane).toBe(3);

    const second = await ok('up');
    expect(second.calls.mutations).toBe(0);

    expect((await ok('down', '--yes')).removed).toHaveLength(13);
    const again = await ok('up');
    expect(again.changed).toBe(13);
    expect(again.stderr).toMatch(/SQS keeps a deleted queue's name for 60 s after DeleteQueue; retrying/);
    expect((await ok('down', '--yes')).removed).toHaveLength(13);

    expect(Object.keys(p.fired).sort()).toEqual(['BedrockControlPlane', 'FunctionSettling', 'IamPropagation', 'NewQueueNotReady', 'QueueDeletedRecently', 'TooManyRequests']);
    expect((await ok('status')).deployed).toBe(false);
  }, 240_000);

  it('down waits until its queues are gone, side by side, and leaves a queue tagged for another stack alone', async () => {
    const lingers = 6_000;
    const p = await withProxy([bedrockControlPlane(ACCOUNT)]);
    await ok('up');
    // The results queue becomes another stack's (a user retagged it): down must not touch it.
    const sqs = new SQSClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const results = (await sqs.send(new GetQueueUrlCommand({ QueueName: 'itest-results' }))).QueueUrl!;
    await sqs.send(new TagQueueCommand({ QueueUrl: results, Tags: { 'bedrock-queue:stack': 'other' } }));
    p.behaviours.push(deletedQueueLingers(lingers));
    const started = Date.now();
    const down = await ok('down', '--yes');
    const took = Date.now() - started;
    expect(down.leftAlone).toEqual(['SQS queue itest-results']);
    expect(down.removed).toHaveLength(12);
    expect(down.stderr).toMatch(/SQS queue itest-results is not tagged for stack itest: left alone/);
    // It waited for both deleted queues to be gone (each read as present for 6 s), once, not one after the other.
    expect(p.fired.DeletedQueueLingers).toBeGreaterThan(0);
    expect(took).toBeGreaterThanOrEqual(lingers);
    expect(took).toBeLessThan(2 * lingers + 5_000);
    const lookups = (queue: string) => p.recorded.filter((r) => r.operation === 'GetQueueUrl' && r.params.QueueName === queue && r.at >= started);
    const lastRead = (queue: string) => Math.max(...lookups(queue).map((r) => r.at));
    expect(Math.abs(lastRead('itest-requests') - lastRead('itest-requests-dlq'))).toBeLessThan(3_000);
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'itest-' }))).QueueUrls?.map((u) => u.split('/').pop())).toEqual(['itest-results']);
  }, 120_000);

  it('without lambda:ListTags, up and down stop and name the permission, and delete nothing', async () => {
    await withProxy([bedrockControlPlane(ACCOUNT)]);
    await ok('up');
    proxy!.behaviours.push(getFunctionWithoutListTags());
    const up = await cli('up');
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/Cannot read the tags of Lambda function itest-worker .*grant lambda:ListTags/);
    const down = await cli('down', '--yes');
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/grant lambda:ListTags/);
    const iam = new IAMClient({ region: REGION, endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    expect((await iam.send(new GetRoleCommand({ RoleName: 'itest-worker' }))).Role?.Path).toBe('/bedrock-queue/');
  }, 120_000);

  it('stops on a Failed function with Lambda\'s reason, before the mapping', async () => {
    const p = await withProxy([bedrockControlPlane(ACCOUNT), functionFailed('InvalidZipFileException', 'Lambda was unable to unzip the file.')]);
    const up = await cli('up');
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/Lambda function itest-worker failed to become Active: InvalidZipFileException: Lambda was unable to unzip the file\./);
    expect(p.recorded.some((r) => r.service === 'lambda' && /event-source-mappings/.test(r.path) && r.method === 'POST')).toBe(false);
  }, 120_000);

  it('refuses a model whose agreement is pending before changing anything', async () => {
    const p = await withProxy([bedrockControlPlane(ACCOUNT, { availability: { agreementAvailability: { status: 'PENDING' } } })]);
    const up = await cli('up', '--dry-run');
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/the agreement for anthropic\.claude-sonnet-4-6 is still being processed \(PENDING\)/);
    expect(p.recorded.filter((r) => !/^(GET|Get|List|Describe)/.test(r.operation) && r.service !== 'sts')).toEqual([]);
  }, 60_000);
});
