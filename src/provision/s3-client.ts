import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { instrument, type CallLog } from './call-log.js';

/** The S3 client, in a module of its own: only the discount route's bucket and jobs load it. */
export function createS3Client(config: S3ClientConfig, log: CallLog): S3Client {
  // Path-style addressing: an emulator's endpoint (--endpoint-url) has no bucket subdomains.
  const client = new S3Client({ ...config, ...(config.endpoint ? { forcePathStyle: true } : {}) });
  instrument(client, 's3', log);
  return client;
}
