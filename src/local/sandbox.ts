import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import type { Handler } from './mapping.js';

/** The messages between the sandbox and its thread (src/local/function-host.ts). */
export interface Invocation {
  id: number;
  event: Parameters<Handler>[0];
  /** Epoch ms at which the invocation times out. */
  deadline: number;
}

type Response = Awaited<ReturnType<Handler>>;
export type InvocationReply = { id: number; response: Response } | { id: number; error: string };
/** Posted once the bundle is imported, before any invocation. */
export const READY = 'ready';

function hostScript(): URL {
  const beside = new URL('./function-host.mjs', import.meta.url);
  return existsSync(beside) ? beside : new URL('../../dist/function-host.mjs', import.meta.url);
}

interface Thread {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve: (response: Response) => void; reject: (err: Error) => void }>;
}

/**
 * The worker bundle in a thread of its own, invoked like a Lambda function. If the thread dies (an
 * uncaught error in the function), its invocations in flight fail, as on Lambda, and the next
 * invocation starts a fresh thread (a cold start).
 */
export class FunctionSandbox {
  private thread?: Thread;
  private nextId = 0;

  constructor(private readonly bundle: URL, private readonly env: Record<string, string | undefined>) {}

  /** Starts the thread and waits for the bundle to load, so that a broken bundle fails `up --local` at once. */
  async start(): Promise<void> {
    await (this.thread ??= this.spawn()).ready;
  }

  readonly handler: Handler = async (event, context) => {
    const thread = (this.thread ??= this.spawn());
    await thread.ready;
    const id = this.nextId++;
    return new Promise<Response>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ id, event, deadline: Date.now() + context.getRemainingTimeInMillis() } satisfies Invocation);
    });
  };

  async close(): Promise<void> {
    const thread = this.thread;
    this.thread = undefined;
    await thread?.worker.terminate();
  }

  private spawn(): Thread {
    // The function's log lines are logs, not the command's data: they go to stderr (CloudWatch's place).
    const worker = new Worker(hostScript(), { workerData: { bundle: this.bundle.href }, env: this.env, stdout: true });
    worker.stdout.pipe(process.stderr, { end: false });
    const thread: Thread = { worker, pending: new Map(), ready: undefined! };
    thread.ready = new Promise<void>((resolve, reject) => {
      worker.once('message', (message) => (message === READY ? resolve() : reject(new Error(`the function's thread answered before it was ready: ${String(message)}`))));
      worker.once('error', reject);
    });
    worker.on('message', (reply: InvocationReply | typeof READY) => {
      if (reply === READY) return;
      const waiting = thread.pending.get(reply.id);
      thread.pending.delete(reply.id);
      if ('error' in reply) waiting?.reject(new Error(reply.error));
      else waiting?.resolve(reply.response);
    });
    const fail = (err: Error) => {
      if (this.thread === thread) this.thread = undefined;
      for (const waiting of thread.pending.values()) waiting.reject(err);
      thread.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the function's thread exited with code ${code}`)));
    return thread;
  }
}
