import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MANAGED_POLICY_MAX_CHARS, PERMISSIONS, POLICY_PARTS, operatorPolicies, servicesWithoutPart } from '../../src/provision/permissions.js';
import { partitionOf } from '../../src/contract.js';
import { REGION_PATTERN } from '../../src/commands/options.js';

/** Every AWS Region as of December 2026, across all partitions, and the longest name the CLI accepts. */
const REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'af-south-1', 'ap-east-1', 'ap-east-2', 'ap-south-1', 'ap-south-2',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7',
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ca-central-1', 'ca-west-1', 'eu-central-1', 'eu-central-2',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-south-1', 'eu-south-2', 'eu-north-1', 'il-central-1', 'me-south-1',
  'me-central-1', 'mx-central-1', 'sa-east-1', 'us-gov-east-1', 'us-gov-west-1', 'cn-north-1', 'cn-northwest-1',
  'us-iso-east-1', 'us-iso-west-1', 'us-isob-east-1', 'eu-isoe-west-1', 'us-isof-south-1', 'us-isof-east-1', 'eusc-de-east-1',
  'us-gov-southwest-999',
];
const LONGEST_NAME = 'a'.repeat(31);
const sizeInIam = (document: unknown) => JSON.stringify(document).replace(/\s/g, '').length;
import { runCli } from '../helpers/cli.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('bedrock-queue policy', () => {
  it('prints the policy without credentials, and the README shows exactly its output for the default stack', async () => {
    const run = await runCli(['policy'], { AWS_ACCESS_KEY_ID: '', AWS_PROFILE: 'nowhere' });
    expect(run.code, run.stderr).toBe(0);
    const block = /<!-- policy: bedrock-queue policy -->\n```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(block).toBe(run.stdout.trimEnd());
    expect(JSON.parse(run.stdout)).toEqual(operatorPolicies({ stack: 'bedrock-queue', region: '*', account: '*', partition: 'aws' }));
  });

  it('fits IAM\'s managed policy limit, part by part, at the longest stack name in every Region the CLI accepts', () => {
    expect(REGIONS.every((r) => REGION_PATTERN.test(r))).toBe(true);
    expect(REGIONS.at(-1)).toHaveLength(20);
    expect(REGION_PATTERN.test(`${REGIONS.at(-1)}0`)).toBe(false);
    const largest = Math.max(...REGIONS.flatMap((region) => operatorPolicies({ stack: LONGEST_NAME, region, account: '123456789012', partition: partitionOf(region) }).map((p) => sizeInIam(p.PolicyDocument))));
    expect(largest).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
    // As one policy it would not fit: that is why there are parts.
    const whole = operatorPolicies({ stack: LONGEST_NAME, region: 'us-gov-southwest-999', account: '123456789012', partition: 'aws-us-gov' }).flatMap((p) => p.PolicyDocument.Statement);
    expect(sizeInIam({ Version: '2012-10-17', Statement: whole })).toBeGreaterThan(MANAGED_POLICY_MAX_CHARS);
    expect(servicesWithoutPart()).toEqual([]);
  });

  it('--part prints one part\'s document alone, ready for aws iam create-policy, and names the parts in its errors', async () => {
    for (const { part } of POLICY_PARTS) {
      const run = await runCli(['policy', '--name', 'demo', '--region', 'eu-west-1', '--account', '123456789012', '--part', part], {});
      expect(run.code, run.stderr).toBe(0);
      const expected = operatorPolicies({ stack: 'demo', region: 'eu-west-1', account: '123456789012', partition: 'aws' }).find((p) => p.PolicyName === `demo-operator-${part}`)!.PolicyDocument;
      expect(JSON.parse(run.stdout)).toEqual(expected);
    }
    const wrong = await runCli(['policy', '--part', 'all'], {});
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Invalid values:[\s\S]*Argument: part, Given: "all", Choices: "pipeline", "api"/);
  });

  it('makes every ARN exact for one stack, Region and account, in the partition of the Region', async () => {
    const run = await runCli(['policy', '--name', 'demo', '--region', 'cn-north-1', '--account', '123456789012'], {});
    const text = run.stdout;
    expect(text).not.toMatch(/:\*:/);
    expect((JSON.parse(text) as { PolicyName: string }[]).map((p) => p.PolicyName)).toEqual(['demo-operator-pipeline', 'demo-operator-api']);
    expect(text).toContain('"arn:aws-cn:sqs:cn-north-1:123456789012:demo-requests"');
    expect(text).toContain('"arn:aws-cn:iam::123456789012:role/bedrock-queue/demo-worker"');
    const parts = (JSON.parse(text) as { PolicyDocument: { Statement: { Sid: string; Condition?: unknown; Resource: unknown }[] } }[]).map((p) => p.PolicyDocument);
    for (const part of parts) expect(new Set(part.Statement.map((s) => s.Sid)).size).toBe(part.Statement.length);
    const policy = { Statement: parts.flatMap((p) => p.Statement) };
    expect(policy.Statement.find((s) => s.Sid === 'EventSourceMapping')!.Condition).toEqual({ StringEquals: { 'lambda:FunctionArn': 'arn:aws-cn:lambda:cn-north-1:123456789012:function:demo-worker' } });
    expect(policy.Statement.find((s) => s.Sid === 'PassWorkerRole')!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
    expect(policy.Statement.find((s) => s.Sid === 'ApiChange')!.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/bedrock-queue:stack': 'demo' } });
  });

  it('grants the two permissions the review found missing: TagResource on mappings (tags on create) and ListTags on the function', () => {
    const policy = { Statement: operatorPolicies({ stack: 'demo', region: 'us-east-1', account: '123456789012', partition: 'aws' }).flatMap((p) => p.PolicyDocument.Statement) };
    const grants = (action: string, resource: string) => policy.Statement.some((s) => s.Action.includes(action) && [s.Resource].flat().includes(resource));
    expect(grants('lambda:TagResource', 'arn:aws:lambda:us-east-1:123456789012:event-source-mapping:*')).toBe(true);
    expect(grants('lambda:ListTags', 'arn:aws:lambda:us-east-1:123456789012:function:demo-worker')).toBe(true);
  });

  it('names a reason wherever a call needs an action other than its own', () => {
    const other = PERMISSIONS.filter((p) => p.calls.length === 1 && p.calls[0]!.split(':')[0] === p.action.split(':')[0] && p.calls[0] !== p.action && !p.action.startsWith('apigateway:'));
    expect(other.filter((p) => !p.because).map((p) => `${p.calls[0]} -> ${p.action}`)).toEqual([]);
  });

  it('refuses an account id or Region that is not one', async () => {
    expect((await runCli(['policy', '--account', '1234'], {})).stderr).toMatch(/--account must be a 12-digit AWS account id \(got 1234\)/);
    expect((await runCli(['policy', '--region', 'us east'], {})).code).toBe(2);
  });
});
