/**
 * The local bucket of `batch --discount --local`: keys stay inside their bucket's directory, and a
 * listing is in S3's order, pages of up to 1,000 keys.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LocalObjects } from '../../src/local/services/batch-objects.js';
import { tempDir } from '../helpers/temp.js';

describe('the local bucket', () => {
  it('keeps every key inside its bucket', () => {
    const objects = new LocalObjects(tempDir('bq-objects-'));
    expect(objects.path('b', 'batch/run/input/0.jsonl')).toMatch(/\/b\/batch\/run\/input\/0\.jsonl$/);
    for (const [bucket, key] of [['b', '../c/x'], ['b', '../../etc/passwd'], ['..', 'x'], ['.', 'x'], ['b', '']]) {
      expect(objects.path(bucket!, key!), `${bucket}/${key}`).toBeUndefined();
    }
  });

  it('lists keys under a prefix in S3\'s order, without unfinished writes', async () => {
    const objects = new LocalObjects(tempDir('bq-objects-'));
    for (const key of ['batch/r/output/0/j/0.jsonl.out', 'batch/r/input/1.jsonl', 'batch/r/input/0.jsonl', 'other/x']) await objects.write('b', key, Readable.from(['{}']));
    expect(objects.keys('b', 'batch/').map((k) => k.key)).toEqual(['batch/r/input/0.jsonl', 'batch/r/input/1.jsonl', 'batch/r/output/0/j/0.jsonl.out']);
    expect(objects.keys('b', 'batch/r/input/')).toEqual([{ key: 'batch/r/input/0.jsonl', size: 2 }, { key: 'batch/r/input/1.jsonl', size: 2 }]);
  });
});
