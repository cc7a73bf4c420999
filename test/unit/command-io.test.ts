/**
 * Commands speak only through the Output that main() hands them: run in-process over streams of
 * the test's own, they leave the process's streams and exit code alone.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { Output } from '../../src/output.js';

function streams(stdinText?: string) {
  const collect = () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d) => (text += d));
    return { stream, text: () => text };
  };
  const [stdout, stderr] = [collect(), collect()];
  const stdin = new PassThrough();
  if (stdinText !== undefined) stdin.end(stdinText);
  return { out: new Output({}, stdout.stream, stderr.stream, stdin), stdin, stdout: stdout.text, stderr: stderr.text };
}

describe('commands run in-process through an Output of their own', () => {
  const writes = { stdout: 0, stderr: 0 };
  beforeEach(() => {
    writes.stdout = writes.stderr = 0;
    vi.spyOn(process.stdout, 'write').mockImplementation(() => ++writes.stdout > 0);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => ++writes.stderr > 0);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('policy prints its document on the given stdout, and exits 0', async () => {
    const io = streams();
    const code = await main(['policy', '--part', 'api', '--name', 'demo', '--region', 'eu-west-1', '--account', '123456789012'], io.out);
    expect(code).toBe(0);
    const document = JSON.parse(io.stdout()) as { Statement: { Resource: string | string[] }[] };
    expect(JSON.stringify(document.Statement)).toContain('arn:aws:apigateway:eu-west-1::/restapis');
    expect(io.stderr()).toBe('');
    expect(writes).toEqual({ stdout: 0, stderr: 0 });
    expect(process.exitCode).toBeUndefined();
  });

  it('a usage error goes to the given stderr with exit 2', async () => {
    const io = streams();
    expect(await main(['result', 'not-an-id'], io.out)).toBe(2);
    expect(io.stderr()).toMatch(/^Error: "not-an-id" is not a request id/);
    expect(io.stdout()).toBe('');
    expect(writes).toEqual({ stdout: 0, stderr: 0 });
  });

  it('send reads a prompt piped to the given stdin, and a failure exits 1 on the given stderr', async () => {
    const io = streams('Why is the sky blue?\n');
    const code = await main(['send', '-', '--local', '--name', 'io-not-running'], io.out);
    expect(code).toBe(1);
    expect(io.stderr()).toBe('Error: No local stack io-not-running is running: Start it with "bedrock-queue up --local --name io-not-running".\n');
    // The prompt was read to its end from the stdin given, not the process's.
    expect(io.stdin.readableEnded).toBe(true);
    expect(writes).toEqual({ stdout: 0, stderr: 0 });
    expect(process.exitCode).toBeUndefined();
  });
});
