import type { Options } from 'yargs';
import { UsageError } from '../errors.js';
import { DEFAULT_STACK_NAME, STACK_NAME_PATTERN } from '../contract.js';
import type { AwsTarget } from '../provision/aws.js';

/** Options every command takes. */
export const globalOptions = {
  name: { type: 'string', default: DEFAULT_STACK_NAME, describe: 'Stack name: prefixes every resource (lowercase letters, digits, hyphens; at most 31)', global: true },
  region: { type: 'string', describe: 'AWS Region (else AWS_REGION or your profile\'s region)', global: true },
  profile: { type: 'string', describe: 'Named profile from ~/.aws/config (else AWS_PROFILE)', global: true },
  'endpoint-url': { type: 'string', describe: 'One endpoint for every AWS client, for emulators such as moto', global: true },
  json: { type: 'boolean', default: false, describe: 'Print only JSON on stdout', global: true },
  yes: { type: 'boolean', default: false, describe: 'Answer yes to confirmations (required without a terminal)', global: true },
} satisfies Record<string, Options>;

export interface GlobalArgs {
  name: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  json: boolean;
  yes: boolean;
}

export function checkGlobalArgs(argv: { name?: unknown; endpointUrl?: unknown }): true {
  if (typeof argv.name !== 'string' || !STACK_NAME_PATTERN.test(argv.name)) {
    throw new UsageError(`Invalid --name "${String(argv.name)}": use a lowercase letter first, then lowercase letters, digits or hyphens, 31 characters at most (${STACK_NAME_PATTERN}).`);
  }
  if (argv.endpointUrl !== undefined && !/^https?:\/\/\S+$/.test(String(argv.endpointUrl))) {
    throw new UsageError(`Invalid --endpoint-url "${String(argv.endpointUrl)}": give an http:// or https:// URL.`);
  }
  return true;
}

export function awsTarget(argv: GlobalArgs): AwsTarget {
  return { region: argv.region, profile: argv.profile, endpointUrl: argv.endpointUrl };
}

export function integerIn(flag: string, min: number, max: number) {
  return (value: unknown) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max} (got ${String(value)})`);
    return n;
  };
}
