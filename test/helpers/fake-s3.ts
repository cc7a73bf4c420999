/**
 * S3 buckets for unit tests: each with its tags, public access block, encryption, lifecycle rules,
 * policy and keys, read and changed as S3 does. A new bucket has what S3 gives every new bucket since
 * April 2023 (all four public access blocks, SSE-S3 encryption); a configuration that is not there
 * answers S3's own error for it (NoSuchTagSet, NoSuchBucketPolicy...), a bucket that is not there
 * NoSuchBucket, and S3 refuses to delete a bucket that still holds objects (BucketNotEmpty).
 */
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
  S3Client,
  S3ServiceException,
  type LifecycleRule,
  type PublicAccessBlockConfiguration,
  type ServerSideEncryptionConfiguration,
} from '@aws-sdk/client-s3';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

export interface BucketState {
  tags?: Record<string, string>;
  publicAccessBlock?: PublicAccessBlockConfiguration;
  encryption?: ServerSideEncryptionConfiguration;
  lifecycle?: LifecycleRule[];
  policy?: string;
  keys: string[];
}

const s3Error = (name: string, message: string, httpStatusCode = 404) => new S3ServiceException({ name, $fault: 'client', message, $metadata: { httpStatusCode } });

export function mockBuckets(buckets: Record<string, BucketState>): AwsClientStub<S3Client> {
  const m = mockClient(S3Client);
  const bucket = (name?: string) => buckets[name!] ?? (() => { throw s3Error('NoSuchBucket', 'The specified bucket does not exist'); })();
  const read = <T>(value: T | undefined, error: string, message: string) => {
    if (value === undefined) throw s3Error(error, message);
    return value;
  };
  m.on(GetBucketTaggingCommand).callsFake((input) => ({ TagSet: Object.entries(read(bucket(input.Bucket).tags, 'NoSuchTagSet', 'The TagSet does not exist')).map(([Key, Value]) => ({ Key, Value })) }));
  m.on(GetPublicAccessBlockCommand).callsFake((input) => ({ PublicAccessBlockConfiguration: read(bucket(input.Bucket).publicAccessBlock, 'NoSuchPublicAccessBlockConfiguration', 'The public access block configuration was not found') }));
  m.on(GetBucketEncryptionCommand).callsFake((input) => ({ ServerSideEncryptionConfiguration: read(bucket(input.Bucket).encryption, 'ServerSideEncryptionConfigurationNotFoundError', 'The server side encryption configuration was not found') }));
  m.on(GetBucketLifecycleConfigurationCommand).callsFake((input) => ({ Rules: read(bucket(input.Bucket).lifecycle, 'NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist') }));
  m.on(GetBucketPolicyCommand).callsFake((input) => ({ Policy: read(bucket(input.Bucket).policy, 'NoSuchBucketPolicy', 'The bucket policy does not exist') }));
  m.on(ListObjectsV2Command).callsFake((input) => {
    const keys = bucket(input.Bucket).keys.slice(0, input.MaxKeys ?? 1000);
    return { Contents: keys.map((Key) => ({ Key })), KeyCount: keys.length, IsTruncated: keys.length < bucket(input.Bucket).keys.length };
  });

  m.on(CreateBucketCommand).callsFake((input) => {
    if (buckets[input.Bucket!]) throw s3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', 409);
    buckets[input.Bucket!] = {
      publicAccessBlock: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
      encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }] },
      keys: [],
    };
    return { Location: `/${input.Bucket}` };
  });
  m.on(PutBucketTaggingCommand).callsFake((input) => void (bucket(input.Bucket).tags = Object.fromEntries((input.Tagging?.TagSet ?? []).map((t: { Key?: string; Value?: string }) => [t.Key!, t.Value!]))));
  m.on(PutPublicAccessBlockCommand).callsFake((input) => void (bucket(input.Bucket).publicAccessBlock = input.PublicAccessBlockConfiguration));
  m.on(PutBucketEncryptionCommand).callsFake((input) => void (bucket(input.Bucket).encryption = input.ServerSideEncryptionConfiguration));
  m.on(PutBucketLifecycleConfigurationCommand).callsFake((input) => void (bucket(input.Bucket).lifecycle = input.LifecycleConfiguration?.Rules));
  m.on(PutBucketPolicyCommand).callsFake((input) => void (bucket(input.Bucket).policy = input.Policy));
  m.on(DeleteObjectsCommand).callsFake((input) => {
    const gone = new Set((input.Delete?.Objects ?? []).map((o: { Key?: string }) => o.Key));
    const b = bucket(input.Bucket);
    b.keys = b.keys.filter((k) => !gone.has(k));
    return { Deleted: [...gone].map((Key) => ({ Key })) };
  });
  m.on(DeleteBucketCommand).callsFake((input) => {
    if (bucket(input.Bucket).keys.length) throw s3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409);
    delete buckets[input.Bucket!];
  });
  return m;
}
