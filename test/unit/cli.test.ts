import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** An environment with no AWS configuration at all: no region, no credentials, no profile files. */
const bare = () => {
  const home = tempDir('bq-home-');
  return { HOME: home, AWS_CONFIG_FILE: join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'), AWS_EC2_METADATA_DISABLED: 'true' };
};

describe('the CLI contract', () => {
  it('prints help with examples for every command, fast enough to load no SDK', async () => {
    for (const command of ['up', 'down', 'status', 'top', 'send', 'tail', 'set-concurrency', 'pause', 'resume', 'redrive']) {
      const run = await runCli([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Examples:');
      expect(run.stdout).toContain('--endpoint-url');
    }
  });

  it('prints its version', async () => {
    const run = await runCli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  const usageErrors: [string[], RegExp][] = [
    [[], /Name a command/],
    [['deploy'], /Unknown argument: deploy|Did you mean/],
    [['up', '--bogus'], /^Error: Unknown option: --bogus$/m],
    [['up', '--bogus-flag'], /^Error: Unknown option: --bogus-flag$/m],
    [['tail', '--logs', '--local', '--name', 'demo'], /^Error: --logs follows the worker's CloudWatch log group, on AWS only\. .* with --detach, to \/.+\/bedrock-queue\/demo\.log: tail -f \/.+\/demo\.log$/m],
    [['up', '--detach'], /^Error: --detach works with --local only \(up --local --detach \.\.\.\): on AWS the stack runs in your account, not in a process here\.$/m],
    [['up', '--port', '8080', '--model-latency', '1s'], /^Error: --port, --model-latency work with --local only/m],
    [['up', '--name', 'Bad_Name'], /Invalid --name "Bad_Name"/],
    [['up', '--name', 'a'.repeat(32)], /Invalid --name/],
    [['up', '--concurrency', '1'], /--concurrency must be a whole number from 2 to 1000 \(got 1\)/],
    [['up', '--concurrency', '2.5'], /--concurrency must be a whole number/],
    [['up', '--concurrency', '1001'], /--concurrency must be a whole number/],
    [['up', '--timeout', '901'], /--timeout must be a whole number from 3 to 900/],
    [['up', '--timeout', '2'], /--timeout must be a whole number from 3 to 900 \(got 2\)/],
    [['up', '--log-retention', '2'], /--log-retention must be one of 1, 3, 5/],
    [['up', '--temperature', '1.5'], /--temperature must be a number from 0 to 1/],
    [['up', '--model', 'not a model'], /--model "not a model" is not a Bedrock model id/],
    [['up', '--model-endpoint', 'http://127.0.0.1:11434/v1', '--model', 'llama3.2'], /--model-endpoint works with --local only/],
    [['up', '--local', '--model-endpoint', 'localhost:11434', '--model', 'llama3.2'], /--model-endpoint must be an http:\/\/ or https:\/\/ URL/],
    [['up', '--local', '--model-endpoint', 'http://127.0.0.1:11434/v1'], /--model-endpoint needs --model naming one of that server's models/],
    [['up', '--local', '--model-endpoint', 'http://127.0.0.1:11434/v1', '--model', 'aws:anthropic.claude-3-haiku-20240307-v1:0'], /--model-endpoint needs --model/],
    [['up', '--tag', 'novalue'], /--tag "novalue" must be key=value/],
    [['up', '--tag', 'aws:reserved=x'], /--tag "aws:reserved=x": keys starting with aws: are reserved by AWS/],
    [['up', '--tag', 'AWS:Owner=x'], /keys starting with aws: are reserved/],
    [['up', '--tag', 'bedrock-queue:stack=other'], /bedrock-queue:stack is set by bedrock-queue itself \(use --name\)/],
    [['up', '--tag', 'team=ml;drop'], /--tag "team=ml;drop": AWS allows only letters, digits, spaces and _ \. : \/ = \+ - @/],
    [['up', '--tag', 'cost*center=1'], /AWS allows only letters, digits/],
    [['up', '--tag', `${'k'.repeat(129)}=v`], /key of 1 to 128 characters/],
    [['up', '--tag', `k=${'v'.repeat(257)}`], /value at most 256/],
    [['status', '--endpoint-url', 'localhost:4566'], /Invalid --endpoint-url/],
    [['down', '--name', '--yes'], /^Error: --name needs a value$/m],
    [['send', 'hi', '--max-tokens'], /^Error: --max-tokens needs a value$/m],
    [['up', '--tag'], /^Error: --tag needs a value$/m],
    [['status', '--region'], /^Error: --region needs a value$/m],
    [['tail', '--idle'], /^Error: --idle needs a value$/m],
    [['send', '-', '--system', '-'], /- \(stdin\) stands for the prompt only/],
    // Values as given, never NaN; strict numbers; negative values reach the option's own check.
    [['send', 'p', '--max-tokens', 'abc'], /^Error: --max-tokens must be a whole number from 1 to 200000 \(got abc\)$/m],
    [['up', '--timeout', 'garbage'], /^Error: --timeout must be a whole number from 3 to 900 \(got garbage\)$/m],
    [['up', '--concurrency', '0x10'], /--concurrency must be a whole number from 2 to 1000 \(got 0x10\)/],
    [['up', '--memory', '1e3'], /--memory must be a whole number from 128 to 10240 \(got 1e3\)/],
    [['up', '--temperature', '0x1'], /--temperature must be a number from 0 to 1 \(got 0x1\)/],
    [['up', '--rate-limit', 'fast'], /--rate-limit must be a number above 0 \(got fast\)/],
    [['send', '--file', 'f.jsonl', '--parallel', 'abc'], /--parallel must be a whole number from 1 to 256 \(got abc\)/],
    [['tail', '--count', 'abc'], /--count must be a whole number from 1 to 1000000 \(got abc\)/],
    [['send', 'p', '--wait', '--timeout', '-5s'], /^Error: --timeout must be a duration such as 30s, 5m, 1h or 1d \(got -5s\)$/m],
    [['tail', '--idle', '-1s'], /^Error: --idle must be a duration such as 30s, 5m, 1h or 1d \(got -1s\)$/m],
    [['send', 'p', '--wait', '--timeout', '0'], /--timeout must be longer than 0/],
    [['set-concurrency', 'ten'], /^Error: The concurrency must be a whole number from 2 to 1000 \(got ten\)$/m],
    [['status', '--region', 'us east'], /^Error: Invalid --region "us east": give an AWS Region name such as us-east-1 \(at most 20 characters\)\.$/m],
    [['send', '--file', '/nonexistent/prompts.jsonl'], /^Error: --file \/nonexistent\/prompts\.jsonl cannot be read: no such file$/m],
    [['send', '--file', '/tmp'], /^Error: --file \/tmp cannot be read: it is a directory$/m],
    [['send', '--file', 'f.jsonl', '--retry-for', 'forever'], /--retry-for must be a duration such as 30s, 5m, 1h or 1d \(got forever\)/],
    [['down'], /down deletes resources: pass --yes/],
    [['set-concurrency', '1'], /must be a whole number from 2 to 1000 \(got 1\)/],
    [['set-concurrency', '0'], /must be a whole number from 2 to 1000 \(got 0\)/],
    [['set-concurrency', '-5'], /must be a whole number from 2 to 1000 \(got -5\)/],
    [['set-concurrency'], /Not enough non-option arguments/],
    [['send', ''], /The request is not valid: "prompt" must not be empty/],
    [['send', 'p', '--metadata', 'novalue'], /--metadata "novalue" must be key=value/],
    [['send', 'p', '--timeout', 'soon', '--wait'], /--timeout must be a duration/],
    [['send', '--file', 'f.jsonl', '--wait'], /Arguments file and wait are mutually exclusive/],
    [['tail', '--logs', '--keep'], /Arguments logs and keep are mutually exclusive/],
    [['tail', '--idle', 'forever'], /--idle must be a duration/],
    [['status', '--since', '0m'], /--since must be from 1m to 24h \(1d\) \(got 0m\)/],
    [['top', '--since', 'a while'], /--since must be a duration such as 30s, 5m, 1h or 1d \(got a while\)/],
    [['top', '--interval', '200ms'], /--interval must be at least 1s \(got 200ms\)/],
    [['up', ...Array.from({ length: 50 }, (_, i) => ['--tag', `k${i}=v`]).flat()], /--tag can be given at most 49 times/],
  ];
  for (const [args, message] of usageErrors) {
    it(`exits 2 with a clear message for: ${args.join(' ') || '(no command)'}`, async () => {
      const run = await runCli(args, bare());
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    });
  }

  it('says in one line how to set a region when there is none', async () => {
    const run = await runCli(['status'], { ...bare(), AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Error: No AWS region is set: pass --region, set AWS_REGION.* No AWS account at hand\? "bedrock-queue up --local" runs the same pipeline on this machine\.$/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('says in one line that credentials are missing, with no stack trace', async () => {
    const run = await runCli(['status', '--region', 'us-east-1'], bare());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Error: AWS credentials are missing or invalid.* "bedrock-queue up --local" runs the same pipeline on this machine\.$/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('names the profile that does not exist', async () => {
    const run = await runCli(['status', '--region', 'us-east-1', '--profile', 'nosuch'], bare());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/nosuch/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports an unreachable endpoint in one line', async () => {
    const run = await runCli(['status', '--region', 'us-east-1', '--endpoint-url', 'http://127.0.0.1:9'], { ...bare(), AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Cannot reach the AWS endpoint/);
  });
});
