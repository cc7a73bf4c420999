import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { startAwsProxy } from './aws-proxy.js';
import { motoApiGatewayV2Gaps } from './moto-gaps.js';

export interface Moto {
  endpoint: string;
  reset: () => Promise<void>;
  stop: () => Promise<void>;
}

export function motoAvailable(): boolean {
  return spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0;
}

/** Skips on a laptop without moto, visibly; fails under CI, where moto must be there. */
export function requireMoto(): boolean {
  if (motoAvailable()) return true;
  if (process.env.CI) throw new Error('moto_server is not on PATH, and CI is set: the integration tests must run (pip install "moto[server]")');
  console.warn('\n  SKIPPED: integration tests against moto_server (not on PATH; pip install "moto[server]" to run them)\n');
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function post(url: string, body?: unknown) {
  const response = await fetch(url, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
}

/**
 * Starts moto_server on a free loopback port and configures Lambda to run without Docker. Its
 * endpoint is a proxy that answers the API Gateway v2 calls moto lacks (moto-gaps.ts), unless
 * `gaps` is false (the SQS differential tests compare moto's own answers, queue URLs included).
 */
export async function startMoto({ gaps = true } = {}): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d) => (log = (log + d).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`moto_server did not start on ${endpoint}:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const reset = async () => {
    await post(`${endpoint}/moto-api/reset`);
    await post(`${endpoint}/moto-api/config`, { lambda: { use_docker: false } });
  };
  await reset();
  const proxy = gaps ? await startAwsProxy(endpoint, [motoApiGatewayV2Gaps()]) : undefined;
  return {
    endpoint: proxy?.endpoint ?? endpoint,
    reset,
    stop: async () => {
      await proxy?.close();
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}
