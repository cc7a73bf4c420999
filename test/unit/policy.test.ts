import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS, operatorPolicy } from '../../src/provision/permissions.js';
import { runCli } from '../helpers/cli.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('bedrock-queue policy', () => {
  it('prints the policy without credentials, and the README shows exactly its output for the default stack', async () => {
    const run = await runCli(['policy'], { AWS_ACCESS_KEY_ID: '', AWS_PROFILE: 'nowhere' });
    expect(run.code, run.stderr).toBe(0);
    const block = /<!-- policy: bedrock-queue policy -->\n```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(block).toBe(run.stdout.trimEnd());
    expect(JSON.parse(run.stdout)).toEqual(operatorPolicy({ stack: 'bedrock-queue', region: '*', account: '*', partition: 'aws' }));
  });

  it('makes every ARN exact for one stack, Region and account, in the partition of the Region', async () => {
    const run = await runCli(['policy', '--name', 'demo', '--region', 'cn-north-1', '--account', '123456789012'], {});
    const text = run.stdout;
    expect(text).not.toMatch(/:\*:/);
    expect(text).toContain('"arn:aws-cn:sqs:cn-north-1:123456789012:demo-requests"');
    expect(text).toContain('"arn:aws-cn:iam::123456789012:role/bedrock-queue/demo-worker"');
    const policy = JSON.parse(text) as { Statement: { Sid: string; Condition?: unknown; Resource: unknown }[] };
    expect(policy.Statement.find((s) => s.Sid === 'EventSourceMapping')!.Condition).toEqual({ StringEquals: { 'lambda:FunctionArn': 'arn:aws-cn:lambda:cn-north-1:123456789012:function:demo-worker' } });
    expect(policy.Statement.find((s) => s.Sid === 'PassWorkerRole')!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
    expect(policy.Statement.find((s) => s.Sid === 'ApiChange')!.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/bedrock-queue:stack': 'demo' } });
    expect(new Set(policy.Statement.map((s) => s.Sid)).size).toBe(policy.Statement.length);
  });

  it('grants the two permissions the review found missing: TagResource on mappings (tags on create) and ListTags on the function', () => {
    const policy = operatorPolicy({ stack: 'demo', region: 'us-east-1', account: '123456789012', partition: 'aws' });
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
