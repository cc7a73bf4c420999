import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
  type LifecycleRule,
  type PublicAccessBlockConfiguration,
  type S3Client,
  type ServerSideEncryptionConfiguration,
} from '@aws-sdk/client-s3';
import { errorName, isAccessDenied } from '../errors.js';
import { batchBucketName, bucketArn } from './arns.js';
import { change, tagList } from './diff.js';
import type { Ctx, Live, Resource } from './types.js';

/**
 * The discount route's bucket (`up --discount`, `batch --discount`): the jobs' input and output,
 * under `batch/`. Private (every public access block on), encrypted at rest (SSE-S3), reachable over
 * TLS only (its policy denies the rest), and emptied by expiry after --results-ttl.
 */
interface BucketLive extends Live {
  publicAccessBlock?: PublicAccessBlockConfiguration;
  encryption?: ServerSideEncryptionConfiguration;
  lifecycle?: LifecycleRule[];
  policy?: unknown;
}

export const BATCH_PREFIX = 'batch/';
const EXPIRY_RULE = 'bedrock-queue-expiry';
const PRIVATE: PublicAccessBlockConfiguration = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const ENCRYPTED: ServerSideEncryptionConfiguration = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] };

/** S3 expires objects in whole days after their creation: the results TTL, rounded up. */
const expiryDays = (ctx: Ctx) => Math.max(1, Math.ceil(ctx.settings.resultsTtl / 86_400));

function lifecycle(ctx: Ctx): LifecycleRule[] {
  return [{ ID: EXPIRY_RULE, Status: 'Enabled', Filter: { Prefix: BATCH_PREFIX }, Expiration: { Days: expiryDays(ctx) }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }];
}

function bucketPolicy(ctx: Ctx) {
  return {
    Version: '2012-10-17',
    Statement: [{
      Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 's3:*',
      Resource: [bucketArn(ctx), bucketArn(ctx, '*')],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }],
  };
}

/** A read that S3 answers with an error when the bucket has none of that configuration. */
async function unlessNone<T>(read: Promise<T>, none: string[]): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (none.includes(errorName(err))) return undefined;
    throw err;
  }
}

const comparableLifecycle = (rules: LifecycleRule[] | undefined) => rules?.map((r) => ({ ID: r.ID, Status: r.Status, Prefix: r.Filter?.Prefix, Days: r.Expiration?.Days, Abort: r.AbortIncompleteMultipartUpload?.DaysAfterInitiation }));

export const batchBucket: Resource<BucketLive> = {
  key: 'batch-bucket',
  kind: 'S3 bucket',
  name: (ctx) => batchBucketName(ctx),
  wanted: (ctx) => ctx.settings.discount,
  async read(ctx) {
    const s3 = await ctx.clients.s3();
    const Bucket = batchBucketName(ctx);
    let tagging;
    try {
      tagging = await unlessNone(s3.send(new GetBucketTaggingCommand({ Bucket })), ['NoSuchTagSet']);
    } catch (err) {
      if (errorName(err) === 'NoSuchBucket') return undefined;
      // An operator policy from before the discount route cannot read the bucket: without --discount
      // that means "not there" (nothing of it is changed), with it the permission is needed.
      if (isAccessDenied(err) && !ctx.options.discount) {
        ctx.note(`Cannot read S3 bucket ${Bucket} (${errorName(err)}): taken as absent. "bedrock-queue policy" prints the policy with s3:GetBucketTagging.`);
        return undefined;
      }
      throw err;
    }
    const tags = Object.fromEntries((tagging?.TagSet ?? []).map((t) => [t.Key!, t.Value ?? '']));
    const [publicAccessBlock, encryption, rules, policy] = await Promise.all([
      unlessNone(s3.send(new GetPublicAccessBlockCommand({ Bucket })), ['NoSuchPublicAccessBlockConfiguration']),
      unlessNone(s3.send(new GetBucketEncryptionCommand({ Bucket })), ['ServerSideEncryptionConfigurationNotFoundError']),
      unlessNone(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })), ['NoSuchLifecycleConfiguration']),
      unlessNone(s3.send(new GetBucketPolicyCommand({ Bucket })), ['NoSuchBucketPolicy']),
    ]);
    return {
      tags,
      ...(publicAccessBlock?.PublicAccessBlockConfiguration ? { publicAccessBlock: publicAccessBlock.PublicAccessBlockConfiguration } : {}),
      ...(encryption?.ServerSideEncryptionConfiguration ? { encryption: encryption.ServerSideEncryptionConfiguration } : {}),
      ...(rules?.Rules ? { lifecycle: rules.Rules } : {}),
      ...(policy?.Policy ? { policy: JSON.parse(policy.Policy) } : {}),
    };
  },
  liveSettings: () => ({ discount: true }),
  async diff(ctx, live) {
    const s3 = await ctx.clients.s3();
    const Bucket = batchBucketName(ctx);
    const rules = live.encryption?.Rules?.map((r) => ({ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm } }));
    return [
      ...change('public access block', live.publicAccessBlock, PRIVATE, () => putPublicAccessBlock(s3, Bucket)),
      ...change('encryption', rules && { Rules: rules }, ENCRYPTED, () => putEncryption(s3, Bucket)),
      ...change('expiry', comparableLifecycle(live.lifecycle), comparableLifecycle(lifecycle(ctx)), () => putLifecycle(ctx, s3)),
      ...change('bucket policy', live.policy, bucketPolicy(ctx), () => putPolicy(ctx, s3)),
    ];
  },
  async create(ctx) {
    const s3 = await ctx.clients.s3();
    const Bucket = batchBucketName(ctx);
    const { region } = ctx.account;
    // us-east-1 takes no location constraint (S3 refuses "us-east-1" as one).
    await s3.send(new CreateBucketCommand({ Bucket, ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } }) }));
    await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: tagList(ctx.tags) } }));
    await putPublicAccessBlock(s3, Bucket);
    await putEncryption(s3, Bucket);
    await putLifecycle(ctx, s3);
    await putPolicy(ctx, s3);
    return {};
  },
  // Ours, created a moment ago by an up that was interrupted: adopted if it carries the stack tag.
  createConflict: (err) => errorName(err) === 'BucketAlreadyOwnedByYou',
  async tag(ctx, live, tags) {
    // PutBucketTagging replaces the whole set: the tags there are kept.
    const s3 = await ctx.clients.s3();
    await s3.send(new PutBucketTaggingCommand({ Bucket: batchBucketName(ctx), Tagging: { TagSet: tagList({ ...live.tags, ...tags }) } }));
  },
  async remove(ctx) {
    const s3 = await ctx.clients.s3();
    const Bucket = batchBucketName(ctx);
    // S3 deletes only an empty bucket: the jobs' files go first, a thousand a call.
    for (;;) {
      const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1000 }));
      if (!Contents.length) break;
      await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: Contents.map((o) => ({ Key: o.Key! })), Quiet: true } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket }));
  },
};

const putPublicAccessBlock = async (s3: S3Client, Bucket: string) => {
  await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: PRIVATE }));
};
const putEncryption = async (s3: S3Client, Bucket: string) => {
  await s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: ENCRYPTED }));
};
const putLifecycle = async (ctx: Ctx, s3: S3Client) => {
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: batchBucketName(ctx), LifecycleConfiguration: { Rules: lifecycle(ctx) } }));
};
const putPolicy = async (ctx: Ctx, s3: S3Client) => {
  await s3.send(new PutBucketPolicyCommand({ Bucket: batchBucketName(ctx), Policy: JSON.stringify(bucketPolicy(ctx)) }));
};
