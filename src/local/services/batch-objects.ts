/**
 * The local target's bucket for `batch --discount`: the S3 calls the discount route makes
 * (PutObject, GetObject, ListObjectsV2, DeleteObject, path-style), answered as S3 answers them,
 * over files in the stack's state directory. A write lands in a temporary file renamed into place
 * once it is on disk, so a reader never sees half an object.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

const xml = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function s3Error(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(xml(`<Error><Code>${code}</Code><Message>${escape(message)}</Message></Error>`));
}

export class LocalObjects {
  constructor(readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  }

  /** The file of an object; undefined for a bucket or key that would leave the bucket's directory. */
  path(bucket: string, key: string): string | undefined {
    if (!key || bucket === '.' || bucket === '..') return undefined;
    const root = join(this.directory, bucket);
    const path = join(root, key);
    const inside = relative(root, path);
    return !inside || inside.startsWith('..') || isAbsolute(inside) ? undefined : path;
  }

  read(bucket: string, key: string): string | undefined {
    const path = this.path(bucket, key);
    return path && existsSync(path) ? path : undefined;
  }

  /** Keys under a prefix, in S3's order (UTF-8 binary). */
  keys(bucket: string, prefix: string): { key: string; size: number }[] {
    const root = join(this.directory, bucket);
    const found: { key: string; size: number }[] = [];
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (!entry.name.endsWith('.part')) found.push({ key: relative(root, path).split(sep).join('/'), size: statSync(path).size });
      }
    };
    walk(root);
    return found.filter((k) => k.key.startsWith(prefix)).sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }

  /** Writes an object from a stream. */
  async write(bucket: string, key: string, body: NodeJS.ReadableStream) {
    const path = this.path(bucket, key)!;
    mkdirSync(dirname(path), { recursive: true });
    const part = `${path}.${process.pid}.${Date.now()}.part`;
    await pipeline(body, createWriteStream(part, { mode: 0o600, flush: true }));
    renameSync(part, path);
  }

  /** Serves one S3 request. */
  async serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://local');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    if (!bucket) return s3Error(res, 400, 'InvalidRequest', 'The local bucket takes path-style requests.');
    if (!key && req.method === 'GET' && url.searchParams.get('list-type') === '2') return this.list(bucket, url.searchParams, res);
    const path = this.path(bucket, key);
    if (!path) return s3Error(res, 400, 'InvalidRequest', `Unsupported request ${req.method} ${url.pathname}`);
    if (req.method === 'PUT') {
      await this.write(bucket, key, req);
      res.writeHead(200, { etag: '"local"' });
      return res.end();
    }
    if (req.method === 'DELETE') {
      rmSync(path, { force: true });
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (!existsSync(path)) return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(statSync(path).size) });
      if (req.method === 'HEAD') return res.end();
      return pipeline(createReadStream(path), res);
    }
    s3Error(res, 405, 'MethodNotAllowed', `The specified method is not allowed against this resource: ${req.method}`);
  }

  /** ListObjectsV2: up to max-keys (1,000) keys a page, the next page from the continuation token. */
  private list(bucket: string, query: URLSearchParams, res: ServerResponse) {
    const prefix = query.get('prefix') ?? '';
    const max = Math.min(1000, Number(query.get('max-keys') ?? 1000) || 1000);
    const start = Number(query.get('continuation-token') ?? 0) || 0;
    const all = this.keys(bucket, prefix);
    const page = all.slice(start, start + max);
    const truncated = start + max < all.length;
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(xml(`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${escape(bucket)}</Name><Prefix>${escape(prefix)}</Prefix>`
      + `<KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>`
      + (truncated ? `<NextContinuationToken>${start + max}</NextContinuationToken>` : '')
      + page.map((k) => `<Contents><Key>${escape(k.key)}</Key><Size>${k.size}</Size></Contents>`).join('')
      + '</ListBucketResult>'));
  }
}
