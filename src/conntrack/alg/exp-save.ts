// The ALG expectation table in the conntrack save file (save.ts, section
// SEC_EXPECTATIONS): an FTP client that sent PORT just before `swd restart`
// still gets its data connection afterwards. Each live expectation is
// written whole (EXP_WORDS words) with its time left in place of its
// absolute expiry; on restore the time spent stopped is taken off and the
// ones whose time ran out are dropped. Parent ids stay valid because the
// connection section keeps connection ids.

import type { ConnTable } from '../table.ts';
import type { SaveSection } from '../save.ts';
import { SEC_EXPECTATIONS } from '../save-format.ts';
import { EXP_WORDS, E_EXPIRY, E_FLAGS, E_NEXT, E_F_IN_USE } from './expect.ts';

const HEAD_WORDS = 2; // EXP_WORDS, count

const f64 = new Float64Array(1);
const w2 = new Int32Array(f64.buffer);

function wordsOf(p: Uint8Array): Int32Array {
  if (p.byteOffset % 4 === 0) return new Int32Array(p.buffer, p.byteOffset, p.byteLength >>> 2);
  return new Int32Array(p.slice().buffer, 0, p.byteLength >>> 2);
}

export const expectationsSection: SaveSection = {
  id: SEC_EXPECTATIONS,
  version: 1,
  encode(t: ConnTable, nowMs: number): Uint8Array {
    const live = t.exp.liveSlots().filter((s) => new Float64Array(s.buffer, s.byteOffset + E_EXPIRY * 4, 1)[0] > nowMs);
    const out = new Int32Array(HEAD_WORDS + live.length * EXP_WORDS);
    out[0] = EXP_WORDS;
    out[1] = live.length;
    live.forEach((s: Int32Array, i: number) => {
      const o = HEAD_WORDS + i * EXP_WORDS;
      out.set(s, o);
      w2[0] = s[E_EXPIRY];
      w2[1] = s[E_EXPIRY + 1];
      f64[0] -= nowMs; // time left
      out[o + E_EXPIRY] = w2[0];
      out[o + E_EXPIRY + 1] = w2[1];
      out[o + E_NEXT] = 0;
    });
    return new Uint8Array(out.buffer);
  },
  check(payload: Uint8Array, version: number): string | null {
    if (version !== 1) return `expectation section version ${version} is not 1`;
    if (payload.byteLength < HEAD_WORDS * 4 || payload.byteLength % 4 !== 0) return 'expectation section is truncated';
    const w = wordsOf(payload);
    if (w[0] !== EXP_WORDS) return `expectations of ${w[0]} words, this swd keeps ${EXP_WORDS}`;
    if (w[1] < 0 || payload.byteLength !== (HEAD_WORDS + w[1] * EXP_WORDS) * 4) return 'expectation count does not match the section length';
    return null;
  },
  apply(payload, t, ctx): void {
    const w = wordsOf(payload);
    for (let i = 0; i < w[1]; i++) {
      const s = w.slice(HEAD_WORDS + i * EXP_WORDS, HEAD_WORDS + (i + 1) * EXP_WORDS);
      if ((s[E_FLAGS] & E_F_IN_USE) === 0) continue;
      w2[0] = s[E_EXPIRY];
      w2[1] = s[E_EXPIRY + 1];
      const left = f64[0] - ctx.elapsedMs;
      if (!(left > 0)) continue;
      t.exp.add(s, ctx.nowMs + left);
    }
  },
};
