// The layout DESIGN.md promises, checked on the sources themselves: no
// import cycle anywhere in src (type-only imports included: they still tie
// two modules' concepts together), each layer imports only layers below it
// (ctl -> openflow -> ofproto -> datapath -> conntrack -> nat -> packet),
// and no source file grows past 500 lines (STYLE.md: past that it is two
// concepts).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');
const LAYERS = ['packet', 'nat', 'conntrack', 'datapath', 'ofproto', 'openflow', 'ctl'];
const MAX_LINES = 500;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a module (static, re-exports and dynamic import() with a literal). */
function imports(file: string): string[] {
  // Comments may show import forms as examples: leave them out.
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)|new URL\('(\.[^']+\.ts)'/g;
  for (const m of text.matchAll(re)) out.push(resolve(dirname(file), m[1] ?? m[2] ?? m[3]));
  return out;
}

const layerOf = (file: string) => LAYERS.indexOf(relative(SRC, file).split('/')[0]);

describe('source layout', () => {
  const files = sources(SRC);
  const graph = new Map(files.map((f) => [f, imports(f)]));

  it('every relative import names an existing source file', () => {
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${relative(SRC, f)} -> ${relative(SRC, d)}`));
    expect(missing).toEqual([]);
  });

  it('has no import cycle', () => {
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 1);
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d].map((x) => relative(SRC, x)).join(' -> '));
        else if (!state.has(d) && graph.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('each layer imports only the layers below it', () => {
    const upward = [...graph].flatMap(([f, deps]) =>
      deps.filter((d) => graph.has(d) && layerOf(d) > layerOf(f)).map((d) => `${relative(SRC, f)} -> ${relative(SRC, d)}`));
    expect(files.every((f) => layerOf(f) >= 0)).toBe(true);
    expect(upward).toEqual([]);
  });

  it(`no source file is longer than ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length - 1] as const)
      .filter(([, n]) => n > MAX_LINES);
    expect(long).toEqual([]);
  });
});
