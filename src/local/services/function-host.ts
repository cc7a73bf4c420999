// The local "Lambda sandbox": a worker thread that imports the very worker bundle Lambda runs and
// answers invocations posted by the mapping emulator. Its process.env is its own, set like the
// function's, so the CLI's environment is left alone; and it runs on its own core.
import { parentPort, workerData } from 'node:worker_threads';
import type { Handler } from './mapping.js';
import { READY, type Invocation, type InvocationReply } from './sandbox.js';

const { bundle } = workerData as { bundle: string };
const { handler } = await import(bundle) as { handler: Handler };

parentPort!.on('message', ({ id, event, deadline }: Invocation) => {
  const context = { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  handler(event, context).then(
    (response) => parentPort!.postMessage({ id, response } satisfies InvocationReply),
    (err: unknown) => parentPort!.postMessage({ id, error: String((err as Error)?.message ?? err) } satisfies InvocationReply),
  );
});
parentPort!.postMessage(READY);
