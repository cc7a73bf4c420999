import type { Options } from 'yargs';
import { UsageError } from '../errors.js';
import { duration } from '../flag-values.js';
import { DEFAULT_STACK_NAME, STACK_NAME_PATTERN, STACK_TAG, TAG_RULES } from '../contract.js';
import type { AwsTarget } from '../provision/aws.js';

/**
 * What a lone `-` argument of `send` becomes before parsing: yargs would turn it into an empty
 * string, and `send -` means "the prompt comes from stdin".
 */
export const STDIN_ARGUMENT = '\u0000stdin';

/** Options every command takes. */
export const globalOptions = {
  name: { type: 'string', requiresArg: true, default: DEFAULT_STACK_NAME, describe: 'Stack name: prefixes every resource (lowercase letters, digits, hyphens; at most 31)', global: true },
  region: { type: 'string', requiresArg: true, describe: 'AWS Region (else AWS_REGION or your profile\'s region)', global: true },
  profile: { type: 'string', requiresArg: true, describe: 'Named profile from ~/.aws/config (else AWS_PROFILE)', global: true },
  'endpoint-url': { type: 'string', requiresArg: true, describe: 'One endpoint for every AWS client, for emulators such as moto', global: true },
  json: { type: 'boolean', default: false, describe: 'Print only JSON on stdout', global: true },
  yes: { type: 'boolean', default: false, describe: 'Answer yes to confirmations (required without a terminal)', global: true },
  local: { type: 'boolean', default: false, describe: 'Use the local target (bedrock-queue up --local): no AWS account', global: true },
} satisfies Record<string, Options>;

export interface GlobalArgs {
  name: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  json: boolean;
  yes: boolean;
  local: boolean;
}

/** A Region name (us-east-1, eusc-de-east-1): today's are at most 15 characters, and the operator policy is proven to fit IAM at 20. */
export const REGION_PATTERN = /^(?=.{1,20}$)[a-z]{2,4}(-[a-z]+)+-\d+$/;

export function checkGlobalArgs(argv: { name?: unknown; region?: unknown; endpointUrl?: unknown }): true {
  if (typeof argv.name !== 'string' || !STACK_NAME_PATTERN.test(argv.name)) {
    throw new UsageError(`Invalid --name "${String(argv.name)}": use a lowercase letter first, then lowercase letters, digits or hyphens, 31 characters at most (${STACK_NAME_PATTERN}).`);
  }
  if (argv.region !== undefined && !REGION_PATTERN.test(String(argv.region))) {
    throw new UsageError(`Invalid --region "${String(argv.region)}": give an AWS Region name such as us-east-1 (at most 20 characters).`);
  }
  if (argv.endpointUrl !== undefined && !/^https?:\/\/\S+$/.test(String(argv.endpointUrl))) {
    throw new UsageError(`Invalid --endpoint-url "${String(argv.endpointUrl)}": give an http:// or https:// URL.`);
  }
  return true;
}

export function awsTarget(argv: GlobalArgs): AwsTarget {
  return { region: argv.region, profile: argv.profile, endpointUrl: argv.endpointUrl };
}

/** How long a --wait waits: a duration above 0. */
export function waitTimeout(value: unknown): number {
  const ms = duration('timeout')(value)!;
  if (ms === 0) throw new UsageError('--timeout must be longer than 0 (for example 30s or 5m)');
  return ms;
}

/** AWS's rules for a tag the user adds (TAG_RULES), checked before any call. */
export function tagProblem(key: string, value: string): string | undefined {
  if (TAG_RULES.reservedPrefix.test(key)) return 'keys starting with aws: are reserved by AWS';
  if (key === STACK_TAG) return `${STACK_TAG} is set by bedrock-queue itself (use --name)`;
  if (!TAG_RULES.pattern.test(key) || !TAG_RULES.pattern.test(value)) return 'AWS allows only letters, digits, spaces and _ . : / = + - @ in tag keys and values';
  // Every resource carries the tag: the narrowest service decides.
  if (`${key}${value}`.includes('@')) return 'DynamoDB (the results table) allows no @ in tags, though the other services do';
  return undefined;
}

/** A file named on the command line that cannot be read is a mistake in the command line, said in one line. */
export async function checkReadable(path: string, what: string) {
  const { open } = await import('node:fs/promises');
  try {
    const handle = await open(path, 'r');
    const info = await handle.stat();
    await handle.close();
    if (info.isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UsageError(`${what} ${path} cannot be read: ${why}`);
  }
}
