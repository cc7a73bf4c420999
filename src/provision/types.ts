import type { ResourceNames } from '../contract.js';
import type { Settings, StackOptions } from '../settings.js';
import type { Account, Clients } from './aws.js';
import type { RetryEnv, RetryRule } from './retry.js';

export type { Settings, StackOptions } from '../settings.js';

export interface WorkerCode {
  zip: Uint8Array;
  /** base64 SHA-256 of the zip, as Lambda reports CodeSha256. */
  sha256: string;
}

/** Identifiers learned while reading or creating, used by the resources that depend on them. */
export interface Ids {
  queueUrls: Record<string, string>;
  restApiId?: string;
  websocketApiId?: string;
  apiKeyId?: string;
  /** The event source mapping's UUID: the governor changes that mapping, and no other. */
  mappingUuid?: string;
}

/** What the model preflight learned: the exact ARNs the worker's policy grants InvokeModel on. */
export interface ModelAccess {
  /** The inference profile's ARN, when the model is called through one. */
  profileArn?: string;
  /** The foundation models' ARNs (for a profile, every destination Region's, Region-less global ones included). */
  modelArns: string[];
}

export interface Ctx extends RetryEnv {
  stack: string;
  names: ResourceNames;
  account: Account;
  clients: Clients;
  options: StackOptions;
  settings: Settings;
  /** The stack tag plus the extra tags given on the command line. */
  tags: Record<string, string>;
  ids: Ids;
  /** The emulator's endpoint (--endpoint-url, AWS_ENDPOINT_URL[_API_GATEWAY]), when AWS is emulated. */
  emulatorEndpoint?: string;
  /** Settings as they are live (before the command line's), known after observe. */
  live: Partial<Settings>;
  /** Set by the model preflight of `up`; absent when it was skipped or not run. */
  modelAccess?: ModelAccess;
  code: () => Promise<WorkerCode>;
  /** Runs a call once per command, sharing its result between resources (e.g. one ListQueues for three queues). */
  once: <T>(key: string, call: () => Promise<T>) => Promise<T>;
  retry: <T>(rules: RetryRule[], call: () => Promise<T>) => Promise<T>;
}

/** Corrects one or more fields of a live resource with one call or a few. */
export type Put = () => Promise<void>;

/**
 * One field that differs, and the put that corrects it: fields corrected by one call share one
 * put, which the engine runs once. The plan shows these objects and `up` runs exactly their puts.
 */
export class Change {
  readonly #put: Put;
  constructor(readonly field: string, readonly live: unknown, readonly desired: unknown, put: Put) {
    this.#put = put;
  }

  get put(): Put {
    return this.#put;
  }
}

export interface Live {
  tags: Record<string, string>;
  /** Ids of further resources with the same name and the stack tag, left by a create that was retried. */
  duplicates?: string[];
}

/**
 * One resource kind: find it by name and tag, create it, say what differs (each difference with
 * its put), delete it. What every resource shares is the engine's: tags, adopting our own
 * resource after a create conflict, duplicates, and handing on the ids each one learns.
 */
export interface Resource<L extends Live = Live> {
  key: string;
  kind: string;
  name: (ctx: Ctx) => string;
  read: (ctx: Ctx) => Promise<L | undefined>;
  /** The ids an owned live resource makes known to the resources after it. */
  ids?: (ctx: Ctx, live: L) => Partial<Ids>;
  /** Settings this resource is the authority for, as they are live. */
  liveSettings?: (live: L) => Partial<Settings>;
  /** What differs from the settings, tags aside. */
  diff: (ctx: Ctx, live: L) => Change[] | Promise<Change[]>;
  /** Creates it, with the stack's tags, ready for what depends on it; returns the ids it learned. */
  create: (ctx: Ctx) => Promise<Partial<Ids>>;
  /** Adds tags to the live resource (tags already there and not ours are left alone). */
  tag: (ctx: Ctx, live: L, tags: Record<string, string>) => Promise<void>;
  /**
   * A create that failed with this error met a resource of the same name: the engine reads it with
   * `readAfterConflict` (else `read`), adopts it when it carries the stack tag, and converges it.
   */
  createConflict?: (err: unknown) => boolean;
  readAfterConflict?: (ctx: Ctx) => Promise<L | undefined>;
  /** Waits until an adopted resource can be changed and used (one that was being created, say). */
  settle?: (ctx: Ctx, live: L) => Promise<void>;
  remove: (ctx: Ctx, live: L) => Promise<void>;
  /** Waits until a removal is seen through: `down` waits for these side by side, while it removes the rest. */
  untilRemoved?: (ctx: Ctx, live: L) => Promise<void>;
  /** Deletes one of the live resource's duplicates (resources whose create is not idempotent). */
  removeDuplicate?: (ctx: Ctx, id: string) => Promise<void>;
  /** Also ours, without the stack tag, when the resources with these keys are all ours. */
  ownedWith?: string[];
  /** It carries no tags of its own (an inline policy): the engine neither checks nor adds them. */
  untaggable?: true;
  /** Whether the settings call for it (absent: always). One not called for is removed by `up` if it is there. */
  wanted?: (ctx: Ctx) => boolean;
}
