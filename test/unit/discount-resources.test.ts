/**
 * The discount route's resources on AWS (issue 22): what `up --discount` creates, converges and
 * removes (exact inputs, against the stateful fakes of the other unit tests: S3 in fake-s3.ts).
 */
import { CreateRoleCommand, DeleteRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, PutBucketEncryptionCommand, PutBucketLifecycleConfigurationCommand, PutBucketPolicyCommand,
  GetBucketTaggingCommand, PutBucketTaggingCommand, PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { AccessDeniedException, BedrockClient, ListModelInvocationJobsCommand } from '@aws-sdk/client-bedrock';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ACCOUNT, REGION, TAGS, convergedAccount, mocksPerTest, mutatingCommands, runDown, runUp, session, type AccountState } from '../helpers/fake-aws.js';
import { discountJobs, discountTarget } from '../../src/operate/discount.js';
import { observe } from '../../src/provision/engine.js';

const prepare = mocksPerTest();
const BUCKET = `demo-bq-${ACCOUNT}-${REGION}`;
const PRIVATE = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const ENCRYPTED = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] };
const EXPIRY = (days: number) => [{ ID: 'bedrock-queue-expiry', Status: 'Enabled' as const, Filter: { Prefix: 'batch/' }, Expiration: { Days: days }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }];
const TLS_ONLY = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
};
const BATCH_TRUST = {
  Version: '2012-10-17',
  Statement: [{
    Effect: 'Allow', Principal: { Service: 'bedrock.amazonaws.com' }, Action: 'sts:AssumeRole',
    Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnEquals: { 'aws:SourceArn': `arn:aws:bedrock:${REGION}:${ACCOUNT}:model-invocation-job/*` } },
  }],
};
const PROFILE = `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-6`;
const BATCH_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'ReadJobInputs', Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/batch/*/input/*` },
    { Sid: 'WriteJobOutputs', Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/batch/*/output/*` },
    { Sid: 'ListJobFiles', Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}`, Condition: { StringLike: { 's3:prefix': 'batch/*' } } },
    { Sid: 'InvokeInferenceProfile', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: PROFILE },
    { Sid: 'InvokeProfileModel', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: 'arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6', Condition: { StringEquals: { 'bedrock:InferenceProfileArn': PROFILE } } },
  ],
};

/** A converged stack with the discount route's bucket and role. */
function discountAccount(): AccountState {
  const state = convergedAccount();
  state.buckets[BUCKET] = { tags: { ...TAGS }, publicAccessBlock: PRIVATE, encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }] }, lifecycle: EXPIRY(7), policy: JSON.stringify(TLS_ONLY), keys: [] };
  state.roles['demo-batch'] = { path: '/bedrock-queue/', trust: BATCH_TRUST, policy: BATCH_POLICY, tags: { ...TAGS } };
  return state;
}

describe('up --discount on AWS', () => {
  it('creates a private, encrypted, TLS-only bucket whose jobs\' files expire with the results, and the role Bedrock assumes for the jobs', async () => {
    const m = prepare(convergedAccount());
    await runUp({ discount: true });
    const sent = (command: Parameters<typeof m.s3.commandCalls>[0]) => m.s3.commandCalls(command).map((c) => c.args[0].input);
    // us-east-1 takes no location constraint.
    expect(sent(CreateBucketCommand)).toEqual([{ Bucket: BUCKET }]);
    expect(sent(PutBucketTaggingCommand)).toEqual([{ Bucket: BUCKET, Tagging: { TagSet: [{ Key: 'bedrock-queue:stack', Value: 'demo' }] } }]);
    expect(sent(PutPublicAccessBlockCommand)).toEqual([{ Bucket: BUCKET, PublicAccessBlockConfiguration: PRIVATE }]);
    expect(sent(PutBucketEncryptionCommand)).toEqual([{ Bucket: BUCKET, ServerSideEncryptionConfiguration: ENCRYPTED }]);
    // The results' TTL on creation is 7 days.
    expect(sent(PutBucketLifecycleConfigurationCommand)).toEqual([{ Bucket: BUCKET, LifecycleConfiguration: { Rules: EXPIRY(7) } }]);
    expect(sent(PutBucketPolicyCommand).map((i) => ({ ...i, Policy: JSON.parse(i.Policy!) }))).toEqual([{ Bucket: BUCKET, Policy: TLS_ONLY }]);

    const role = m.iam.commandCalls(CreateRoleCommand).map((c) => c.args[0].input).find((i) => i.RoleName === 'demo-batch')!;
    expect(role).toMatchObject({ Path: '/bedrock-queue/', Tags: [{ Key: 'bedrock-queue:stack', Value: 'demo' }] });
    expect(JSON.parse(role.AssumeRolePolicyDocument!)).toEqual(BATCH_TRUST);
    const policy = m.iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input).find((i) => i.RoleName === 'demo-batch')!;
    expect(JSON.parse(policy.PolicyDocument!)).toEqual(BATCH_POLICY);
  });

  it('a converged stack with them: no write, and a plain up keeps them', async () => {
    const m = prepare(discountAccount());
    await runUp({ discount: true });
    expect(mutatingCommands(m)).toEqual([]);
    await runUp();
    expect(mutatingCommands(m)).toEqual([]);
  });

  it('puts back what drifted, each with its own call, and follows --results-ttl in whole days', async () => {
    const state = discountAccount();
    state.buckets[BUCKET]!.publicAccessBlock = { ...PRIVATE, BlockPublicPolicy: false };
    delete state.buckets[BUCKET]!.policy;
    const m = prepare(state);
    await runUp({ resultsTtl: 36 * 3600 });
    expect(mutatingCommands(m).filter((c) => c.startsWith('s3:'))).toEqual(['s3:PutPublicAccessBlock', 's3:PutBucketLifecycleConfiguration', 's3:PutBucketPolicy']);
    expect(state.buckets[BUCKET]).toMatchObject({ publicAccessBlock: PRIVATE, lifecycle: EXPIRY(2), policy: JSON.stringify(TLS_ONLY) });
  });

  it('--no-discount removes the bucket, its files first, and the role', async () => {
    const state = discountAccount();
    state.buckets[BUCKET]!.keys = ['batch/ab12cd34/input/0.jsonl', 'batch/ab12cd34/output/0/job/0.jsonl.out'];
    const m = prepare(state);
    await runUp({ discount: false });
    expect(m.s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Delete: { Objects: [{ Key: 'batch/ab12cd34/input/0.jsonl' }, { Key: 'batch/ab12cd34/output/0/job/0.jsonl.out' }], Quiet: true } },
    ]);
    expect(m.s3.commandCalls(DeleteBucketCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: BUCKET }]);
    expect(m.iam.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual(['demo-batch']);
    expect(state.buckets).toEqual({});
  });

  it('down removes them with the rest', async () => {
    const state = discountAccount();
    const m = prepare(state);
    await runDown();
    expect(m.s3.commandCalls(DeleteBucketCommand)).toHaveLength(1);
    expect(m.iam.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input.RoleName)).toContain('demo-batch');
  });

  it('an operator policy from before the route (no s3:GetBucketTagging): a plain up goes on and says so; up --discount stops', async () => {
    const m = prepare(convergedAccount());
    const denied = Object.assign(new Error(`User: arn:aws:iam::${ACCOUNT}:user/dev is not authorized to perform: s3:GetBucketTagging on resource: "arn:aws:s3:::${BUCKET}"`), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    m.s3.on(GetBucketTaggingCommand).rejects(denied);
    const plain = await runUp();
    expect(plain.notes).toContain(`Cannot read S3 bucket ${BUCKET} (AccessDenied): taken as absent. "bedrock-queue policy" prints the policy with s3:GetBucketTagging.`);
    expect(mutatingCommands(m)).toEqual([]);
    await expect(runUp({ discount: true })).rejects.toThrow(/s3:GetBucketTagging/);
  });

  it('leaves alone a bucket of that name that is not the stack\'s', async () => {
    const state = convergedAccount();
    state.buckets[BUCKET] = { tags: { owner: 'someone-else' }, keys: ['theirs.txt'] };
    const m = prepare(state);
    await expect(runUp({ discount: true })).rejects.toThrow(`Not this stack's: S3 bucket ${BUCKET} exists without the tag bedrock-queue:stack=demo`);
    expect(mutatingCommands(m).filter((c) => c.startsWith('s3:'))).toEqual([]);
  });
});

describe('batch --discount on a deployed stack', () => {
  it('runs on the stack\'s bucket and batch role, with the worker\'s model and defaults', async () => {
    prepare(discountAccount());
    const { target } = await discountTarget((await session()).ctx);
    expect(target).toEqual({
      stack: 'demo', bucket: BUCKET, roleArn: `arn:aws:iam::${ACCOUNT}:role/bedrock-queue/demo-batch`,
      model: 'global.anthropic.claude-sonnet-4-6', defaults: { maxTokens: 1024 }, quotas: expect.any(Function),
    });
  });

  it('status lists the stack\'s jobs that have not ended where the route exists, and says why when it cannot', async () => {
    const bedrock = mockClient(BedrockClient);
    try {
      const job = (jobName: string, status: string) => ({ jobName, status, jobArn: `arn:aws:bedrock:${REGION}:${ACCOUNT}:model-invocation-job/${jobName}`, submitTime: new Date('2026-12-03T10:00:00Z') });
      bedrock.on(ListModelInvocationJobsCommand).resolves({ invocationJobSummaries: [job('demo-ab12cd34-0', 'InProgress'), job('demo-ab12cd34-1', 'Completed'), job('demo-eu-ab12cd34-0', 'Scheduled')] } as never);
      prepare(discountAccount());
      const { ctx } = await session();
      expect(await discountJobs(ctx, await observe(ctx))).toEqual({
        discountJobs: [{ name: 'demo-ab12cd34-0', arn: `arn:aws:bedrock:${REGION}:${ACCOUNT}:model-invocation-job/demo-ab12cd34-0`, status: 'InProgress', submitted: '2026-12-03T10:00:00.000Z' }],
      });
      expect(bedrock.commandCalls(ListModelInvocationJobsCommand).map((c) => c.args[0].input)).toEqual([{ nameContains: 'demo-' }]);

      bedrock.on(ListModelInvocationJobsCommand).rejects(new AccessDeniedException({ message: `User: arn:aws:iam::${ACCOUNT}:user/dev is not authorized to perform: bedrock:ListModelInvocationJobs`, $metadata: {} }));
      expect((await discountJobs(ctx, await observe(ctx))).discountJobsError).toContain('missing the permission bedrock:ListModelInvocationJobs');

      // Without the route, no job is looked for.
      bedrock.resetHistory();
      prepare(convergedAccount());
      const plain = (await session()).ctx;
      expect(await discountJobs(plain, await observe(plain))).toEqual({});
      expect(bedrock.commandCalls(ListModelInvocationJobsCommand)).toHaveLength(0);
    } finally {
      bedrock.restore();
    }
  });

  it('without up --discount: says how to add the route, and changes nothing', async () => {
    const m = prepare(convergedAccount());
    await expect(discountTarget((await session()).ctx)).rejects.toThrow('Stack demo has no discount route yet: "bedrock-queue up --name demo --discount" adds the bucket and the role that Bedrock batch inference needs; then run this again.');
    expect(mutatingCommands(m)).toEqual([]);
  });
});
