// A subtable's batch lookup specialized for its mask (subtable.ts), as
// OVS's dpcls picks a lookup function made for the miniflow's shape
// (lib/dpif-netdev-lookup-generic.c's specialized variants): the mask's
// word offsets and bits are constants in the code, the hash's murmur3
// rounds and the compares unrolled. The generic loops read the word list,
// the mask and each packet's running hash from arrays for every word of
// every packet; at 1,000 megaflows those reads were most of the lookup.
//
// The code is made from numbers only (word offsets, mask values, the seed,
// the cell stride), never from anything a packet or a user gives. It must
// compute the same hash as Subtable.hash() (the table was filled by it) and
// answer as Subtable.find(): a property test holds it to the generic path.
// Where code generation is not allowed (node
// --disallow-code-generation-from-strings) compile returns null and the
// subtable uses its generic loops.
//
// Each compiled function is used by the one thread that owns the subtable;
// the scratch arrays are per thread (module state).

import { BATCH_MAX } from '../packet/batch.ts';
import { FK_WORDS } from '../packet/flow-key.ts';
import { REC_WORDS } from './mf-records.ts';

/** What a compiled lookup needs of its subtable: the one-packet probe, for a packet not in its home cell. */
export interface ProbeOnward {
  find(key: Uint32Array, ofs: number, h: number): number;
}

/**
 * For the packets pkt[0..n) (indices into `keys`), the slot + 1 of each
 * one's megaflow, or 0, into found[0..n), from the subtable's `cells`
 * (`capMask`) and the cache's record words `rec`.
 */
export type BatchLookup = (
  keys: Uint32Array, pkt: Int32Array, n: number, found: Int32Array, cells: Int32Array, capMask: number, rec: Int32Array, st: ProbeOnward,
) => void;

// Scratch between the two passes (one thread, one batch at a time).
const hs = new Int32Array(BATCH_MAX);
const ofs = new Int32Array(BATCH_MAX);
const at = new Int32Array(BATCH_MAX);
const rs = new Int32Array(BATCH_MAX);

/** The masked key word `i` of the packet at `o`, as int32 (a full mask needs no AND: ^ and Math.imul take int32 anyway). */
function maskedWord(word: number, mask: number): string {
  return mask === -1 ? `keys[o + ${word}]` : `(keys[o + ${word}] & ${mask})`;
}

/**
 * The lookup for a subtable whose mask covers `words` (mask values `maskv`,
 * as int32), the first `nRec` of them in the slot records and the rest in
 * the cell after hash and slot, cells of `stride` words, hashed from `seed`.
 */
export function compileBatchLookup(words: Int32Array, maskv: Int32Array, nRec: number, stride: number, seed: number): BatchLookup | null {
  const hash: string[] = [];
  for (let i = 0; i < words.length; i++) {
    hash.push(
      `k = Math.imul(${maskedWord(words[i], maskv[i])}, 0xcc9e2d51); k = (k << 15) | (k >>> 17); k = Math.imul(k, 0x1b873593);`,
      'h ^= k; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) | 0;',
    );
  }
  const diff: string[] = ['(cells[c] ^ hs[j])'];
  for (let i = 0; i < words.length; i++) {
    const stored = i < nRec ? `rec[r + ${i}]` : `cells[c + ${2 + i - nRec}]`;
    diff.push(`(${maskedWord(words[i], maskv[i])} ^ ${stored})`);
  }
  const body = `'use strict';
return function lookupBatch(keys, pkt, n, found, cells, capMask, rec, st) {
  for (let j = 0; j < n; j++) {
    const o = pkt[j] * ${FK_WORDS};
    let h = ${seed | 0}, k = 0;
    ${hash.join('\n    ')}
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
    ofs[j] = o; hs[j] = h & 0x3fffffff;
  }
  // The home cells apart from the hashes: a tight loop keeps all of the batch's reads in flight at once.
  for (let j = 0; j < n; j++) {
    const c = (hs[j] & capMask) * ${stride};
    at[j] = c; rs[j] = cells[c + 1] * ${REC_WORDS};
  }
  // A home cell holding another hash (a fifth of them at the table's usual load): the cells
  // after it, up to this hash or an empty one, are in the same or the next line of the small table.
  for (let j = 0; j < n; j++) {
    let c = at[j];
    if (cells[c] === hs[j] || cells[c + 1] === 0) continue;
    const h = hs[j];
    let i = ((c >> ${Math.log2(stride)}) + 1) & capMask;
    for (;;) {
      c = i * ${stride};
      if (cells[c] === h || cells[c + 1] === 0) break;
      i = (i + 1) & capMask;
    }
    at[j] = c; rs[j] = cells[c + 1] * ${REC_WORDS};
  }
  for (let j = 0; j < n; j++) {
    const o = ofs[j], r = rs[j], c = at[j];
    const d = ${diff.join('\n      | ')};
    // r = 0: the probe ended on an empty cell, no megaflow; d != 0: another key of the same hash (rare), probe on.
    found[j] = r === 0 ? 0 : d === 0 ? cells[c + 1] : st.find(keys, o, hs[j]);
  }
};`;
  try {
    return new Function('hs', 'ofs', 'at', 'rs', body)(hs, ofs, at, rs) as BatchLookup;
  } catch {
    return null;
  }
}
