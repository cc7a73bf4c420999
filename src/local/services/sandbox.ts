import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Handler } from './mapping.js';

/** The messages between the sandbox and its thread (src/local/services/function-host.ts). */
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
  return existsSync(beside) ? beside : new URL('../../../dist/function-host.mjs', import.meta.url);
}

interface Thread {
  worker: Worker;
  ready: Promise<void>;
  pending: Map<number, { resolve: (response: Response) => void; reject: (err: Error) => void }>;
}

/**
 * The worker bundle in threads of its own (warm containers, each with its own module state),
 * invoked like a Lambda function; an invocation goes to the least busy one. If a thread dies (an
 * uncaught error in the function), its invocations in flight fail, as on Lambda, and the next
 * invocation on that slot starts a fresh thread (a cold start).
 */
export class FunctionSandbox {
  private readonly threads: (Thread | undefined)[];
  private nextId = 0;

  /** `onLogLine` sees each line the function writes, as CloudWatch Logs would (the local metrics read them); `printLine` says how stderr shows it. */
  constructor(private readonly bundle: URL, private readonly env: Record<string, string | undefined>, containers = 1, private readonly onLogLine?: (line: string) => void,
    private readonly printLine: (line: string) => string = (line) => line) {
    this.threads = Array.from({ length: containers }, () => undefined);
  }

  private slot(slot: number): Thread {
    return (this.threads[slot] ??= this.spawn(slot));
  }

  /** Starts the threads and waits for the bundle to load, so that a broken bundle fails `up --local` at once. */
  async start(): Promise<void> {
    await Promise.all(this.threads.map((_, slot) => this.slot(slot).ready));
  }

  readonly handler: Handler = async (event, context) => {
    let best = 0;
    for (let slot = 1; slot < this.threads.length; slot++) if ((this.threads[slot]?.pending.size ?? 0) < (this.threads[best]?.pending.size ?? 0)) best = slot;
    const thread = this.slot(best);
    await thread.ready;
    const id = this.nextId++;
    return new Promise<Response>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ id, event, deadline: Date.now() + context.getRemainingTimeInMillis() } satisfies Invocation);
    });
  };

  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((thread) => thread?.worker.terminate()));
  }

  private spawn(slot: number): Thread {
    // The function's log lines are logs, not the command's data: they go to stderr (CloudWatch's place).
    const worker = new Worker(hostScript(), { workerData: { bundle: this.bundle.href }, env: this.env, stdout: true });
    createInterface({ input: worker.stdout, crlfDelay: Infinity }).on('line', (line) => {
      this.onLogLine?.(line);
      process.stderr.write(`${this.printLine(line)}\n`);
    });
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
      if (this.threads[slot] === thread) this.threads[slot] = undefined;
      for (const waiting of thread.pending.values()) waiting.reject(err);
      thread.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the function's thread exited with code ${code}`)));
    return thread;
  }
}
