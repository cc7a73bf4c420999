import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeSha256, deterministicZip, workerCode } from '../../src/provision/zip.js';
import { tempDir } from '../helpers/temp.js';

const entries = [
  { name: 'index.mjs', data: Buffer.from('export const handler = async () => ({ batchItemFailures: [] });\n') },
  { name: 'lib/ünïcode.txt', data: Buffer.from('x'.repeat(10_000)) },
];

describe('the Lambda zip', () => {
  it('is byte-identical for the same files, whatever their order, so CodeSha256 only changes with the code', () => {
    const a = deterministicZip(entries);
    const b = deterministicZip([...entries].reverse());
    expect(Buffer.compare(a, b)).toBe(0);
    expect(codeSha256(a)).toBe(codeSha256(b));
    const changed = deterministicZip([{ ...entries[0]!, data: Buffer.from('export const handler = async () => null;\n') }, entries[1]!]);
    expect(codeSha256(changed)).not.toBe(codeSha256(a));
  });

  it('is a valid archive for an independent reader (Python zipfile), with the contents intact', () => {
    const dir = tempDir('bq-zip-');
    const file = join(dir, 'code.zip');
    writeFileSync(file, deterministicZip(entries));
    const check = spawnSync('python3', ['-c', [
      'import sys, zipfile, json',
      'z = zipfile.ZipFile(sys.argv[1])',
      'assert z.testzip() is None',
      'print(json.dumps({i.filename: [len(z.read(i)), i.date_time[0]] for i in z.infolist()}))',
    ].join('\n'), file], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(JSON.parse(check.stdout)).toEqual({ 'index.mjs': [entries[0]!.data.length, 1980], 'lib/ünïcode.txt': [10_000, 1980] });
  });

  it('zips the built worker bundle as index.mjs', async () => {
    const code = await workerCode();
    expect(code.sha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(code.zip.subarray(30, 30 + 'index.mjs'.length).toString()).toBe('index.mjs');
  });
});
