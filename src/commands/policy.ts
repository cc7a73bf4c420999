import type { ArgumentsCamelCase, Argv } from 'yargs';
import { defineCommand } from './command.js';
import type { Output } from '../output.js';
import { UsageError } from '../errors.js';
import { partitionOf } from '../contract.js';
import { MANAGED_POLICY_MAX_CHARS, operatorPolicies, POLICY_PARTS, type PolicyPart } from '../provision/permissions.js';
import type { GlobalArgs } from './options.js';

interface PolicyArgs extends GlobalArgs {
  account?: string;
  part?: PolicyPart;
}

function builder(yargs: Argv<GlobalArgs>) {
  return yargs
    .option('account', { type: 'string', requiresArg: true, describe: 'AWS account id (12 digits) the policy is for [any: *]', coerce: (v?: string) => {
      if (v !== undefined && !/^\d{12}$/.test(v)) throw new UsageError(`--account must be a 12-digit AWS account id (got ${v})`);
      return v;
    } })
    .option('part', { choices: POLICY_PARTS.map((p) => p.part), describe: 'Print only this part\'s policy document, ready for aws iam create-policy --policy-document file://...' })
    .epilog(`Needs no credentials: it prints the policies that the credentials running bedrock-queue need, for one stack (--name), Region (--region) and account (--account); * where not given. They come in ${POLICY_PARTS.length} parts (${POLICY_PARTS.map((p) => p.part).join(', ')}), so that each fits IAM's ${MANAGED_POLICY_MAX_CHARS}-character limit on a managed policy: attach them all.`)
    .example('$0 policy', 'Every part, as [{"PolicyName", "PolicyDocument"}], for stack "bedrock-queue", any Region and account')
    .example('$0 policy --name demo --region eu-west-1 --account 123456789012 --part pipeline > pipeline.json', 'One part with exact ARNs for one stack, for aws iam create-policy');
}

async function run(argv: ArgumentsCamelCase<PolicyArgs>, out: Output) {
  const region = argv.region ?? '*';
  const policies = operatorPolicies({ stack: argv.name, region, account: argv.account ?? '*', partition: partitionOf(region) });
  const printed = argv.part ? policies[POLICY_PARTS.findIndex((p) => p.part === argv.part)]!.PolicyDocument : policies;
  out.data(`${JSON.stringify(printed, null, 2)}\n`);
}

export const policyCommand = defineCommand<PolicyArgs>({
  command: 'policy',
  describe: 'Print the least-privilege IAM policies that running bedrock-queue needs (JSON)',
  builder,
  run,
});
