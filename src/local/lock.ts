import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../errors.js';
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

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o600);
    await handle.writeFile(content);
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
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

/**
 * Takes the stack's lock before anything starts (O_EXCL, with stale-lock detection), so two
 * `up --local` with one name never both run: the second is refused, whatever the timing.
 */
export async function lockStack(stack: string, token: string): Promise<StackLock> {
  await ensureStateDir();
  const path = lockPath(stack);
  const mine = JSON.stringify({ pid: process.pid, token, at: Date.now() } satisfies Holder);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(path, mine)) {
      return {
        release: async () => {
          if ((await readHolder(path))?.text === mine) await rm(path, { force: true });
        },
      };
    }
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
