import { createHash } from 'node:crypto';

/** An error as the AWS JSON protocol names it (the SDK's exception name, HTTP 400 unless said); SQS's unless another namespace is given. */
export class AwsError extends Error {
  namespace = 'com.amazonaws.sqs';
  constructor(readonly code: string, message: string, readonly queryCode = code, readonly status = 400) {
    super(message);
  }
}

/** A DynamoDB error (its own namespace: the SDK names the exception after the `#`). */
export const dynamoError = (code: string, message: string, namespace = 'com.amazonaws.dynamodb.v20120810') => Object.assign(new AwsError(code, message), { namespace });

export const queueMissing = () => new AwsError('QueueDoesNotExist', 'The specified queue does not exist.', 'AWS.SimpleQueueService.NonExistentQueue');

export interface MessageAttribute {
  DataType: string;
  StringValue?: string;
  /** Base64, as the JSON protocol carries it. */
  BinaryValue?: string;
}

function lengthPrefixed(bytes: Buffer): Buffer[] {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return [length, bytes];
}

export const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** MD5OfMessageAttributes, by SQS's documented algorithm: names sorted, each part length-prefixed, a transport byte. */
export function md5OfAttributes(attributes: Record<string, MessageAttribute> | undefined): string | undefined {
  const names = Object.keys(attributes ?? {}).sort();
  if (!names.length) return undefined;
  const parts: Buffer[] = [];
  for (const name of names) {
    const a = attributes![name]!;
    const binary = a.DataType.startsWith('Binary');
    parts.push(...lengthPrefixed(Buffer.from(name, 'utf8')), ...lengthPrefixed(Buffer.from(a.DataType, 'utf8')), Buffer.from([binary ? 2 : 1]),
      ...lengthPrefixed(binary ? Buffer.from(a.BinaryValue ?? '', 'base64') : Buffer.from(a.StringValue ?? '', 'utf8')));
  }
  return createHash('md5').update(Buffer.concat(parts)).digest('hex');
}

