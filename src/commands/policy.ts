import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { partitionOf } from '../contract.js';
import { operatorPolicy } from '../provision/permissions.js';
import type { GlobalArgs } from './options.js';

interface PolicyArgs extends GlobalArgs {
  account?: string;
}

export function builder(yargs: Argv) {
  return yargs
    .option('account', { type: 'string', requiresArg: true, describe: 'AWS account id (12 digits) the policy is for [any: *]', coerce: (v?: string) => {
      if (v !== undefined && !/^\d{12}$/.test(v)) throw new UsageError(`--account must be a 12-digit AWS account id (got ${v})`);
      return v;
    } })
    .epilog('Needs no credentials: it prints the policy that the credentials running bedrock-queue need, for one stack (--name), Region (--region) and account (--account); * where not given.')
    .example('$0 policy > policy.json', 'The policy for stack "bedrock-queue", any Region and account')
    .example('$0 policy --name demo --region eu-west-1 --account 123456789012', 'Exact ARNs for one stack');
}

export async function handler(argv: ArgumentsCamelCase<PolicyArgs>) {
  const region = argv.region ?? '*';
  const policy = operatorPolicy({ stack: argv.name, region, account: argv.account ?? '*', partition: partitionOf(region) });
  process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
}

export const policyCommand: CommandModule<GlobalArgs, PolicyArgs> = {
  command: 'policy',
  describe: 'Print the least-privilege IAM policy that running bedrock-queue needs (JSON)',
  builder: builder as unknown as CommandModule<GlobalArgs, PolicyArgs>['builder'],
  handler,
};
