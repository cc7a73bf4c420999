import { link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CliError } from '../../errors.js';
import { answers, ensureStateDir, isAlive, readState, stateDir } from './state.js';

/** A stack starts within this bound (the detached parent waits 15 s); a younger lock with a live pid is a start in progress. */
const STARTING_MS = 30_000;
/** A breaker left by a process that died while breaking a stale lock. */
const BREAKER_STALE_MS = 10_000;

interface Holder {
  pid: number;
  token: string;
  at: number;
}

export interface StackLock {
  release: () => Promise<void>;
}

function lockPath(stack: string): string {
  return join(stateDir(), `${stack}.lock`);
}

/** A file of its own, complete before it takes `path`'s name: nobody ever reads a lock half written. */
async function writeTemporary(path: string, content: string): Promise<string> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  return temporary;
}

/**
 * Creates `path` with `content` only if it does not exist. link() is atomic and fails with EEXIST:
 * an open('wx') then a write would leave an empty lock for a moment, which a rival reads as stale.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temporary = await writeTemporary(path, content);
  try {
    await link(temporary, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temporary, { force: true });
  }
}

async function readHolder(path: string): Promise<{ text: string; holder?: Holder } | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    try {
      return { text, holder: JSON.parse(text) as Holder };
    } catch {
      return { text };
    }
  } catch {
    return undefined;
  }
}

/** Whether the lock's holder still starts or runs the stack: its pid lives and it is young, or its state answers with its token. */
async function holderLives(stack: string, holder: Holder | undefined): Promise<boolean> {
  if (!holder || !isAlive(holder.pid)) return false;
  const found = await readState(stack, true);
  const published = found?.state?.controlToken === holder.token;
  // Before it writes its state, a young holder is still starting; after, it must answer with its token.
  if (!published) return Date.now() - holder.at < STARTING_MS;
  return answers(found!.state!);
}

/**
 * Removes a stale lock, unless another process replaced it meanwhile: a breaker file taken with
 * O_EXCL makes the check and the removal one step, so two processes never both break and take it.
 */
async function breakStale(path: string, seen: string): Promise<void> {
  const breaker = `${path}.break`;
  if (!(await createExclusive(breaker, String(process.pid)))) {
    const age = Date.now() - (await stat(breaker).then((s) => s.mtimeMs, () => Date.now()));
    if (age > BREAKER_STALE_MS) await rm(breaker, { force: true });
    return;
  }
  try {
    if ((await readHolder(path))?.text === seen) await rm(path, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

function heldAs(path: string, mine: string): StackLock {
  return {
    release: async () => {
      if ((await readHolder(path))?.text === mine) await rm(path, { force: true });
    },
  };
}

/**
 * Takes over the lock that the process which started this one holds with `inherited` (a detached
 * start locks before it spawns, so a loser never spawns at all); false when that lock is gone.
 */
async function adopt(path: string, inherited: string, mine: string): Promise<boolean> {
  if ((await readHolder(path))?.holder?.token !== inherited) return false;
  await rename(await writeTemporary(path, mine), path);
  return true;
}

/**
 * Takes the stack's lock before anything starts (created atomically, with stale-lock detection), so
 * two `up --local` with one name never both run: the second is refused, whatever the timing.
 * `inherited` is the token of a lock the parent process took for this one.
 */
export async function lockStack(stack: string, token: string, inherited?: string): Promise<StackLock> {
  await ensureStateDir();
  const path = lockPath(stack);
  const mine = JSON.stringify({ pid: process.pid, token, at: Date.now() } satisfies Holder);
  if (inherited && await adopt(path, inherited, mine)) return heldAs(path, mine);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(path, mine)) return heldAs(path, mine);
    const seen = await readHolder(path);
    if (!seen) continue;
    if (await holderLives(stack, seen.holder)) {
      throw new CliError(`The local stack ${stack} is already starting or running (pid ${seen.holder!.pid}). Stop it with "bedrock-queue down --local --name ${stack}", or choose another --name.`);
    }
    await breakStale(path, seen.text);
    await new Promise((resolve) => setTimeout(resolve, 20 * (attempt + 1)));
  }
  throw new CliError(`Could not take the lock ${path} of the local stack ${stack}: another process keeps changing it.`);
}
