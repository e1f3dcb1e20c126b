// bin/launch.js's freshness check on small trees of its own (no compiler):
// dist/ counts as built from the sources only while every file and folder
// under src/ and the tsconfig files are as the build's snapshot recorded
// them. Any edit, touch, new, deleted or renamed file makes it stale, as
// does a missing or broken manifest. That the bins then really run dist/ or
// the sources is bin-modes.test.ts's part.

import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSnapshot, isFresh, MANIFEST, SETTLE_MS, snapshot, writeManifest } from '../../bin/launch.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A package root with a few sources and a manifest recording them, as the build leaves it. */
function builtTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'swd-fresh-'));
  roots.push(root);
  for (const d of ['src/ctl', 'src/packet', 'dist']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'src/ctl/a.ts'), "export const a = 1;\n");
  writeFileSync(join(root, 'src/packet/b.ts'), "export const b = 2;\n");
  writeFileSync(join(root, 'src/packet/table.json'), '{"x":1}\n');
  writeFileSync(join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(join(root, 'tsconfig.build.json'), '{}\n');
  writeManifest(buildSnapshot(root), root);
  return root;
}

const later = (path: string) => {
  const t = new Date(statSync(path).mtimeMs + 5_000);
  utimesSync(path, t, t);
};

describe('the freshness check of dist/', () => {
  it('records every file and folder under src/ and the tsconfig files', () => {
    const root = builtTree();
    expect(snapshot(root).map(([p, , size]) => [p, size])).toEqual([
      ['src', -1],
      ['src/ctl', -1],
      ['src/ctl/a.ts', 20],
      ['src/packet', -1],
      ['src/packet/b.ts', 20],
      ['src/packet/table.json', 8],
      ['tsconfig.json', 3],
      ['tsconfig.build.json', 3],
    ]);
  });

  it('snapshots for a build only once the newest source is older than a clock tick', () => {
    const root = builtTree();
    writeFileSync(join(root, 'src/ctl/a.ts'), 'export const a = 2;\n');
    const s = buildSnapshot(root);
    expect(Date.now() - Math.max(...s.map((e) => e[1]))).toBeGreaterThanOrEqual(SETTLE_MS - 1);
  });

  it('is fresh as built, and stays so when nothing changes', () => {
    const root = builtTree();
    expect(isFresh(root)).toBe(true);
    expect(isFresh(root)).toBe(true);
  });

  const changes: [string, (root: string) => void][] = [
    ['a source edited', (r) => writeFileSync(join(r, 'src/packet/b.ts'), 'export const b = 3;\n')],
    ['a source edited to a new size', (r) => writeFileSync(join(r, 'src/ctl/a.ts'), 'export const a = 12345;\n')],
    ['a source touched (same bytes, newer mtime)', (r) => later(join(r, 'src/ctl/a.ts'))],
    ['a non-TypeScript file under src/ changed', (r) => writeFileSync(join(r, 'src/packet/table.json'), '{"x":2}\n')],
    ['a source added', (r) => writeFileSync(join(r, 'src/ctl/new.ts'), 'export {};\n')],
    ['a folder added', (r) => mkdirSync(join(r, 'src/nat'))],
    ['a source deleted', (r) => unlinkSync(join(r, 'src/packet/b.ts'))],
    ['a source renamed', (r) => renameSync(join(r, 'src/packet/b.ts'), join(r, 'src/packet/c.ts'))],
    ['tsconfig.json changed', (r) => later(join(r, 'tsconfig.json'))],
    ['tsconfig.build.json changed', (r) => writeFileSync(join(r, 'tsconfig.build.json'), '{ }\n')],
    ['the manifest missing', (r) => unlinkSync(join(r, MANIFEST))],
    ['the manifest broken', (r) => writeFileSync(join(r, MANIFEST), '{"inputs":')],
    ['the manifest empty', (r) => writeFileSync(join(r, MANIFEST), '{"inputs":[]}')],
    ['dist/ missing', (r) => rmSync(join(r, 'dist'), { recursive: true })],
  ];
  for (const [what, change] of changes) {
    it(`is stale with ${what}`, () => {
      const root = builtTree();
      change(root);
      expect(isFresh(root)).toBe(false);
    });
  }

  it('is fresh again once rebuilt after a change', () => {
    const root = builtTree();
    writeFileSync(join(root, 'src/ctl/new.ts'), 'export {};\n');
    expect(isFresh(root)).toBe(false);
    writeManifest(buildSnapshot(root), root);
    expect(isFresh(root)).toBe(true);
  });
});
