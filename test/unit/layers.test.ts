/**
 * The house reads straight down: cli -> commands -> local -> operate -> provision -> client ->
 * worker -> the shared floor (contract, settings, output, errors, waiter, flag values). No module
 * imports from a floor above its own, none is part of a cycle, and none outgrows ~300 lines.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');
const FLOORS = ['cli.ts', 'commands', 'local', 'operate', 'provision', 'client', 'worker'];
const MAX_LINES = 320;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The floor of a module: its place in FLOORS, or the shared floor below them all. */
function floor(path: string): number {
  const top = relative(SRC, path).split('/')[0]!;
  const at = FLOORS.indexOf(top);
  return at === -1 ? FLOORS.length : at;
}

/** Every module a file imports, statically or with import(), types included. */
function imports(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)].map((m) => resolve(dirname(path), `${m[1]}.ts`));
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, imports(f)]));
const name = (path: string) => relative(SRC, path);

describe('the layout of src/', () => {
  it('imports only from its own floor or the floors below', () => {
    const upward = files.flatMap((f) => graph.get(f)!.filter((to) => floor(to) < floor(f)).map((to) => `${name(f)} -> ${name(to)}`));
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map(name).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const to of graph.get(f) ?? []) visit(to, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it(`keeps every source file under ${MAX_LINES} lines`, () => {
    const long = files.map((f) => [name(f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, lines]) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('finds what it checks: every module, and the imports between them', () => {
    expect(files.length).toBeGreaterThan(80);
    expect(graph.get(join(SRC, 'cli.ts'))).toContain(join(SRC, 'commands/up.ts'));
  });
});
