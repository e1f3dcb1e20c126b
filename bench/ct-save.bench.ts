// Conntrack across a restart: time to save a table of N connections to disk
// (temp file + fsync + rename, as `swd stop` does), the file's size, and the
// time to restore it into a fresh table with another hash seed (every
// record re-inserted, as the next `swd start` does before its ports open).
//
//   npm run bench -- ct-save           CT_SAVE_CONNS=N (default 1,000,000)
//
// The save file goes to CT_SAVE_DIR (default the OS temp directory): put it
// on the disk the database lives on to measure that disk's fsync.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conntrack } from '../src/conntrack/conntrack.ts';
import type { CtExec } from '../src/conntrack/execute.ts';
import { restoreConntrackFile, saveConntrackFile } from '../src/conntrack/save-file.ts';
import { PacketBatch } from '../src/packet/batch.ts';
import { REC_BYTES } from '../src/conntrack/layout.ts';
import type { BenchRow } from './run.ts';
import { loadConn, TEMPLATE } from './ct-packets.ts';

const N = Number(process.env.CT_SAVE_CONNS ?? 1_000_000);
const COMMIT: CtExec = { zone: 0, commit: true, force: false, mark: null, label: null, nat: null, alg: 0 };

export async function rows(): Promise<BenchRow[]> {
  const capacity = Math.ceil(N * 1.1);
  const ct = Conntrack.create({ capacity, maxConns: capacity });
  const now = Date.now();
  const b = new PacketBatch(256);
  b.push(TEMPLATE);
  for (let i = 0; i < N; i++) {
    loadConn(b, 0, i);
    b.ctConn[0] = 0; // a new packet carries no connection
    ct.execute(b, 0, b.keys, 0, COMMIT, now);
  }
  if (ct.nconns() !== N) throw new Error(`filled ${ct.nconns()} of ${N} connections`);
  const dir = mkdtempSync(join(process.env.CT_SAVE_DIR ?? tmpdir(), 'swd-ct-save-'));
  try {
    const file = join(dir, 'swd.db.conntrack');
    const saved = saveConntrackFile(ct, file, now);
    const size = statSync(file).size;
    const fresh = Conntrack.create({ capacity, maxConns: capacity });
    const restored = restoreConntrackFile(fresh, file, now);
    if (restored.status !== 'restored' || restored.restored !== N) throw new Error(`restore: ${JSON.stringify(restored)}`);
    const note = `${N.toLocaleString('en-US')} UDP connections, ${REC_BYTES} B records`;
    return [
      { bench: 'ct-save', case: 'save (write + fsync + rename)', value: saved.ms, unit: 'ms', note },
      { bench: 'ct-save', case: 'file size', value: size / 2 ** 20, unit: 'MiB', note: `${(size / N).toFixed(1)} B per connection` },
      { bench: 'ct-save', case: 'restore (read + check + re-insert)', value: restored.ms, unit: 'ms', note },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
