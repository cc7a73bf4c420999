import { STACK_TAG, TAG_RULES, resourceNames } from '../contract.js';
import { resolveSettings } from '../settings.js';
import { CliError, foreignError } from '../errors.js';
import { realSleep, type Sleep } from '../waiter.js';
import { apiKey } from './api-key.js';
import { createClients, regionOnly, resolveAccount, type Account, type AwsTarget } from './aws.js';
import { CallLog } from './call-log.js';
import { eventSourceMapping } from './event-source-mapping.js';
import { workerFunction } from './function.js';
import { logGroup } from './log-group.js';
import { deadLetterQueue, requestsQueue, resultsQueue } from './queue.js';
import { restApi } from './rest-api.js';
import { resultsTable } from './results-table.js';
import { withRetry } from './retry.js';
import { apiRole, batchRole, schedulerRole, workerRole } from './role.js';
import { batchBucket } from './batch-bucket.js';
import { governorRolePolicy } from './governor-policy.js';
import { schedule } from './schedule.js';
import { missingTags, pick, runPuts } from './diff.js';
import { Change, type Ctx, type Ids, type Live, type Resource, type StackOptions, type WorkerCode } from './types.js';
import { usagePlan } from './usage-plan.js';
import { websocketApi } from './websocket-api.js';
import { workerCode } from './zip.js';

/** Creation order; deletion runs it backwards. Each resource only needs those before it; the roles
 * come first so IAM has the most time to propagate before Lambda needs them. */
export const RESOURCES: Resource<any>[] = [
  apiRole,
  // Before the worker's role and function: its id is in the role's policy and the function's environment.
  websocketApi,
  workerRole,
  deadLetterQueue,
  resultsQueue,
  requestsQueue,
  resultsTable,
  logGroup,
  workerFunction,
  eventSourceMapping,
  // The governor's (--autopilot, --budget), there only while it is on: after the mapping it steers.
  governorRolePolicy,
  schedulerRole,
  schedule,
  restApi,
  apiKey,
  usagePlan,
  // The discount route's (--discount), there only while it is on.
  batchBucket,
  batchRole,
];

export interface SessionInput {
  stack: string;
  target: AwsTarget;
  /** Known up front (the local target), so no STS call is made. */
  account?: Account;
  /**
   * False for commands that find everything by name (send): the Region is enough, and the STS call
   * is saved; the account id is then unknown (empty), so no ARN may be built from it.
   */
  identify?: boolean;
  options?: StackOptions;
  sleep?: Sleep;
  note?: (message: string) => void;
  code?: () => Promise<WorkerCode>;
}

export interface Session {
  ctx: Ctx;
  calls: CallLog;
}

export async function openSession(input: SessionInput): Promise<Session> {
  const calls = new CallLog();
  const clients = createClients(input.target, calls);
  const account = input.account ?? (input.identify === false ? await regionOnly(clients) : await resolveAccount(clients, input.target));
  const memo = new Map<string, Promise<unknown>>();
  let code: Promise<WorkerCode> | undefined;
  const options = input.options ?? {};
  const env = { sleep: input.sleep ?? realSleep, note: input.note ?? (() => {}) };
  const ctx: Ctx = {
    ...env,
    stack: input.stack,
    names: resourceNames(input.stack),
    account,
    clients,
    options,
    settings: resolveSettings(options, {}),
    tags: { ...options.tags, [STACK_TAG]: input.stack },
    ids: { queueUrls: {} },
    emulatorEndpoint: input.target.endpointUrl ?? process.env.AWS_ENDPOINT_URL_API_GATEWAY ?? process.env.AWS_ENDPOINT_URL,
    live: {},
    code: () => (code ??= (input.code ?? workerCode)()),
    once: <T>(key: string, call: () => Promise<T>) => {
      if (!memo.has(key)) memo.set(key, call());
      return memo.get(key) as Promise<T>;
    },
    retry: (rules, call) => withRetry(env, rules, call),
  };
  return { ctx, calls };
}

export interface Observed {
  resource: Resource<Live>;
  live?: Live;
  owned: boolean;
}

/** Reads every resource of the stack at once, then settles the effective settings and ids from what is live and ours. */
export async function observe(ctx: Ctx): Promise<Observed[]> {
  const lives = await Promise.all(RESOURCES.map((r) => r.read(ctx)));
  const tagged = RESOURCES.map((_, i) => lives[i]?.tags[STACK_TAG] === ctx.stack);
  const taggedByKey = new Map(RESOURCES.map((r, i) => [r.key, tagged[i]!]));
  const observed = RESOURCES.map((resource, i) => {
    const live = lives[i];
    const owned = !!live && (tagged[i]! || (!!resource.ownedWith && resource.ownedWith.every((key) => taggedByKey.get(key))));
    return { resource, live, owned };
  });
  for (const { resource, live, owned } of observed) if (live && owned) learn(ctx, resource.ids?.(ctx, live));
  const liveSettings = Object.assign({}, ...observed.map((o) => (o.live && o.owned ? o.resource.liveSettings?.(o.live) ?? {} : {})));
  ctx.live = liveSettings;
  ctx.settings = resolveSettings(ctx.options, liveSettings);
  return observed;
}

/** Hands the ids a resource learned (reading or creating it) to the resources after it. */
function learn(ctx: Ctx, ids: Partial<Ids> | undefined) {
  if (!ids) return;
  const { queueUrls, ...rest } = ids;
  Object.assign(ctx.ids, rest);
  Object.assign(ctx.ids.queueUrls, queueUrls);
}

/** remove: a resource of ours that the settings no longer call for (the governor's, once it is off). */
export type Action = 'create' | 'update' | 'unchanged' | 'foreign' | 'remove';

export interface PlanItem {
  key: string;
  kind: string;
  name: string;
  action: Action;
  changes: Change[];
}

/** AWS counts the tags already on a resource towards its 50: refuse before any write what would pass that. */
function checkTagRoom(ctx: Ctx, observed: Observed[]) {
  const full = observed.flatMap(({ resource, live, owned }) => {
    if (!live || !owned) return [];
    const count = new Set([...Object.keys(live.tags), ...Object.keys(ctx.tags)]).size;
    return count > TAG_RULES.maxTags ? [`${resource.kind} ${resource.name(ctx)} (${Object.keys(live.tags).length} live, ${count} with yours)`] : [];
  });
  if (full.length) {
    throw new CliError(`AWS allows ${TAG_RULES.maxTags} tags on a resource, and these would carry more: ${full.join(', ')}. Give fewer --tag, or remove tags you no longer need from them.`);
  }
}

/** The plan, in dependency order; a resource the settings do not call for is in it only to be removed. */
export async function plan(ctx: Ctx, observed: Observed[]): Promise<PlanItem[]> {
  checkTagRoom(ctx, observed);
  const items = await Promise.all(observed.map(async ({ resource, live, owned }): Promise<PlanItem | undefined> => {
    const base = { key: resource.key, kind: resource.kind, name: resource.name(ctx) };
    if (resource.wanted && !resource.wanted(ctx)) return live && owned ? { ...base, action: 'remove', changes: [] } : undefined;
    if (!live) return { ...base, action: 'create' as const, changes: [] };
    if (!owned) return { ...base, action: 'foreign' as const, changes: [] };
    const changes = await changesOf(ctx, resource, live);
    return { ...base, action: changes.length ? 'update' as const : 'unchanged' as const, changes };
  }));
  return items.filter((item): item is PlanItem => item !== undefined);
}

/** What differs on a live resource of ours, each with its put: its duplicates first, then its own fields, then the tags it lacks. */
async function changesOf<L extends Live>(ctx: Ctx, resource: Resource<L>, live: L): Promise<Change[]> {
  const duplicates = live.duplicates ?? [];
  const missing = resource.untaggable ? {} : missingTags(ctx.tags, live.tags);
  return [
    ...(duplicates.length ? [new Change('duplicates', duplicates, [], async () => {
      for (const id of duplicates) await resource.removeDuplicate!(ctx, id);
    })] : []),
    ...await resource.diff(ctx, live),
    ...(Object.keys(missing).length ? [new Change('tags', pick(live.tags, Object.keys(missing)), missing, () => resource.tag(ctx, live, missing))] : []),
  ];
}

export type StepRunner = (item: PlanItem, run: () => Promise<void>) => Promise<void>;

/** Applies a plan in dependency order, running exactly its changes; a failure stops here, and a re-run picks up where it stopped. */
export async function apply(ctx: Ctx, observed: Observed[], items: PlanItem[], step: StepRunner): Promise<void> {
  const foreign = items.filter((i) => i.action === 'foreign');
  if (foreign.length) throw foreignError(foreign, ctx.stack);
  for (const item of items) {
    const { resource, live } = observed.find((o) => o.resource.key === item.key)!;
    if (item.action === 'create') await step(item, () => createOrAdopt(ctx, resource));
    if (item.action === 'update') await step(item, () => runPuts(item.changes));
    if (item.action === 'remove') await step(item, () => resource.remove(ctx, live!));
  }
}

/**
 * Creates the resource; when the create meets one of the same name (a create interrupted or
 * retried, a listing that lagged), adopts it if it carries the stack tag and converges it.
 */
export async function createOrAdopt<L extends Live>(ctx: Ctx, resource: Resource<L>): Promise<void> {
  try {
    learn(ctx, await resource.create(ctx));
  } catch (err) {
    if (!resource.createConflict?.(err)) throw err;
    const live = await (resource.readAfterConflict ?? resource.read)(ctx);
    if (!live || live.tags[STACK_TAG] !== ctx.stack) throw foreignError([{ kind: resource.kind, name: resource.name(ctx) }], ctx.stack);
    learn(ctx, resource.ids?.(ctx, live));
    await resource.settle?.(ctx, live);
    await runPuts(await changesOf(ctx, resource, live));
  }
}

/**
 * Deletes every resource of the stack in reverse order, leaving resources that are not ours alone.
 * Removals that take a while to be seen through (queues) are waited for side by side, while the
 * rest goes on, and all together at the end (`waiting` shows that wait).
 */
export async function destroy(ctx: Ctx, observed: Observed[], step: StepRunner, waiting: (title: string, run: () => Promise<void>) => Promise<void> = (_, run) => run()): Promise<void> {
  const seenThrough: { name: string; done: Promise<void> }[] = [];
  for (const { resource, live, owned } of [...observed].reverse()) {
    if (!live || !owned) continue;
    const item: PlanItem = { key: resource.key, kind: resource.kind, name: resource.name(ctx), action: 'update', changes: [] };
    await step(item, async () => {
      for (const id of live.duplicates ?? []) await resource.removeDuplicate!(ctx, id);
      await resource.remove(ctx, live);
    });
    const done = resource.untilRemoved?.(ctx, live);
    if (!done) continue;
    // Awaited below: until then a failure must not count as unhandled.
    done.catch(() => undefined);
    seenThrough.push({ name: item.name, done });
  }
  if (!seenThrough.length) return;
  await waiting(`Waiting until ${seenThrough.map((s) => s.name).join(', ')} ${seenThrough.length > 1 ? 'are' : 'is'} gone`, async () => {
    await Promise.all(seenThrough.map((s) => s.done));
  });
}
