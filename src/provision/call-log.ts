/** Counts the API calls a command makes, split into reads and mutations (for `--json` stats and benchmarks). */
export class CallLog {
  readonly calls: string[] = [];
  record(service: string, command: string) {
    this.calls.push(`${service}:${command.replace(/Command$/, '')}`);
  }
  get reads() {
    return this.calls.filter(isReadCall);
  }
  get mutations() {
    return this.calls.filter((c) => !isReadCall(c));
  }
}

export function isReadCall(call: string): boolean {
  return /:(Get|List|Describe)/.test(call);
}

/** Any SDK v3 client: their middleware stacks differ in type, not in shape. */
type AnyClient = { middlewareStack: unknown };

/** Records every call in `log` and tags every error with the IAM-style action that failed. */
export function instrument(client: AnyClient, service: string, log: CallLog) {
  // The SDK's middleware stack types differ per client; the handler shape is the same.
  (client.middlewareStack as unknown as { add: (mw: unknown, opts: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const command = context.commandName ?? 'Unknown';
      log.record(service, command);
      try {
        return await next(args);
      } catch (err) {
        if (err && typeof err === 'object') (err as { $action?: string }).$action = `${service}:${command.replace(/Command$/, '')}`;
        throw err;
      }
    },
    { step: 'initialize', name: 'bedrockQueueCallLog' },
  );
}
