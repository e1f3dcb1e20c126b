// The fragment module's configuration and counters (OVS's struct ipf
// atomics), in one SharedArrayBuffer that every thread's Ipf attaches to:
// the control plane sets the limits and reads the counters while the PMD
// threads reassemble. Every word is read and written with Atomics; the
// held-fragment count (S_NFRAG) is global, so ipf-set-max-nfrags bounds
// what all threads together hold. Counters are 64-bit as lo/hi word pairs,
// incremented by one at a time (the carry is exact for increments of 1).
// The fragment lists themselves are per thread (ipf.ts); each thread also
// publishes a summary of its lists (key, fragment count, state) in the
// list directory here, a slot per list claimed with compareExchange, so
// that ipf-get-status -m lists every thread's lists. A dump may read a
// slot while its owner updates it (a diagnostic, as OVS's copy of a list).

import { ipv4ToString, ipv6ToString } from './conn.ts';

export const IPF_V4_MIN_FRAG_DEFAULT = 1200;
export const IPF_V6_MIN_FRAG_DEFAULT = 1280;
/** Lowest minimum fragment size ipf-set-min-frag accepts (both families). */
export const IPF_MIN_FRAG_LBOUND = 400;
export const IPF_MAX_FRAGS_DEFAULT = 1000;
/** Highest value ipf-set-max-nfrags accepts. */
export const IPF_NFRAG_UBOUND = 5000;
/** A list not completed this long after its first fragment expires. */
export const IPF_LIST_TIMEOUT_MS = 15_000;

const S_V4_ENABLED = 0;
const S_V6_ENABLED = 1;
const S_MIN_V4 = 2;
const S_MIN_V6 = 3;
const S_NFRAG_MAX = 4;
const S_NFRAG = 5;
const S_CNT = 8;

// Counters, per family (as OVS's ipf_counter_type).
export const IPF_ACCEPTED = 0;
export const IPF_COMPLETED = 1;
export const IPF_EXPIRED = 2;
export const IPF_TOO_SMALL = 3;
export const IPF_OVERLAP = 4;
export const IPF_PURGED = 5;
const N_CNT = 6;
const S_DIR = S_CNT + 2 * N_CNT * 2;
/** Directory slot words: in use, 12 key words (ipf.ts's list key), fragments, state. */
export const DIR_WORDS = 15;
export const DIR_KEY = 1;
export const DIR_NFRAGS = 13;
export const DIR_STATE = 14;
/** Directory slots: lists never outnumber held fragments (at most IPF_NFRAG_UBOUND). */
const DIR_SLOTS = 5000;
const S_WORDS = S_DIR + DIR_SLOTS * DIR_WORDS;
const STATE_NAME = ['unused', 'other frag', 'first frag', 'last frag', 'first/last frag', 'complete', 'reassemble fail'];

export interface IpfFamilyStatus {
  enabled: boolean;
  minFragSize: number;
  accepted: number;
  completed: number;
  expired: number;
  tooSmall: number;
  overlapped: number;
  purged: number;
}

export interface IpfStatus {
  nfragMax: number;
  nfrag: number;
  v4: IpfFamilyStatus;
  v6: IpfFamilyStatus;
}

export class IpfShared {
  readonly w: Int32Array;

  private constructor(readonly sab: SharedArrayBuffer) {
    this.w = new Int32Array(sab);
  }

  static create(): IpfShared {
    const s = new IpfShared(new SharedArrayBuffer(S_WORDS * 4));
    const w = s.w;
    w[S_V4_ENABLED] = 1;
    w[S_V6_ENABLED] = 1;
    w[S_MIN_V4] = IPF_V4_MIN_FRAG_DEFAULT;
    w[S_MIN_V6] = IPF_V6_MIN_FRAG_DEFAULT;
    w[S_NFRAG_MAX] = IPF_MAX_FRAGS_DEFAULT;
    return s;
  }

  static attach(sab: SharedArrayBuffer): IpfShared {
    return new IpfShared(sab);
  }

  enabled(v6: number): boolean {
    return Atomics.load(this.w, v6 ? S_V6_ENABLED : S_V4_ENABLED) !== 0;
  }

  minFrag(v6: number): number {
    return Atomics.load(this.w, v6 ? S_MIN_V6 : S_MIN_V4);
  }

  /** Take room for one more held fragment; false when max-nfrags are held already. */
  reserveFrag(): boolean {
    const max = Atomics.load(this.w, S_NFRAG_MAX);
    if (Atomics.add(this.w, S_NFRAG, 1) >= max) {
      Atomics.sub(this.w, S_NFRAG, 1);
      return false;
    }
    return true;
  }

  releaseFrags(n: number): void {
    Atomics.sub(this.w, S_NFRAG, n);
  }

  count(v6: number, cnt: number, n = 1): void {
    const o = S_CNT + (v6 ? N_CNT * 2 : 0) + cnt * 2;
    for (let i = 0; i < n; i++) if (Atomics.add(this.w, o, 1) === -1) Atomics.add(this.w, o + 1, 1);
  }

  /** Claim a directory slot (its first word index), or -1 when none is free. */
  claimDir(hint: number): number {
    for (let n = 0; n < DIR_SLOTS; n++) {
      const at = S_DIR + ((hint + n) % DIR_SLOTS) * DIR_WORDS;
      if (Atomics.compareExchange(this.w, at, 0, 1) === 0) return at;
    }
    return -1;
  }

  releaseDir(at: number): void {
    if (at >= 0) Atomics.store(this.w, at, 0);
  }

  /** The -m lines: every thread's fragment lists, in OVS's format. */
  dumpLists(): string[] {
    const out: string[] = [];
    const w = this.w;
    for (let s = 0; s < DIR_SLOTS; s++) {
      const at = S_DIR + s * DIR_WORDS;
      if (Atomics.load(w, at) === 0) continue;
      const kb = at + DIR_KEY;
      const tz = w[kb + 10];
      const v6 = tz >>> 16 === 0x86dd;
      const src = v6 ? ipv6ToString(w, kb) : ipv4ToString(w[kb]);
      const dst = v6 ? ipv6ToString(w, kb + 4) : ipv4ToString(w[kb + 4]);
      out.push(
        `(src=${src},dst=${dst},recirc_id=${w[kb + 9] >>> 0},ip_id=${w[kb + 8] >>> 0},` +
          `dl_type=0x${(tz >>> 16).toString(16)},zone=${tz & 0xffff},nw_proto=${w[kb + 11]},` +
          `num_fragments=${w[at + DIR_NFRAGS]},state=${STATE_NAME[w[at + DIR_STATE]] ?? 'unused'})`,
      );
    }
    return out;
  }

  // --- control plane

  setEnabled(v6: boolean, on: boolean): void {
    Atomics.store(this.w, v6 ? S_V6_ENABLED : S_V4_ENABLED, on ? 1 : 0);
  }

  /** False (nothing changed) when below IPF_MIN_FRAG_LBOUND. */
  setMinFrag(v6: boolean, n: number): boolean {
    if (!Number.isInteger(n) || n < IPF_MIN_FRAG_LBOUND || n > 0xffffffff) return false;
    Atomics.store(this.w, v6 ? S_MIN_V6 : S_MIN_V4, n | 0);
    return true;
  }

  /** False (nothing changed) when above IPF_NFRAG_UBOUND. */
  setMaxNfrags(n: number): boolean {
    if (!Number.isInteger(n) || n < 0 || n > IPF_NFRAG_UBOUND) return false;
    Atomics.store(this.w, S_NFRAG_MAX, n);
    return true;
  }

  private counter(v6: number, cnt: number): number {
    const o = S_CNT + (v6 ? N_CNT * 2 : 0) + cnt * 2;
    return (Atomics.load(this.w, o + 1) >>> 0) * 0x100000000 + (Atomics.load(this.w, o) >>> 0);
  }

  private family(v6: number): IpfFamilyStatus {
    return {
      enabled: this.enabled(v6),
      minFragSize: this.minFrag(v6) >>> 0,
      accepted: this.counter(v6, IPF_ACCEPTED),
      completed: this.counter(v6, IPF_COMPLETED),
      expired: this.counter(v6, IPF_EXPIRED),
      tooSmall: this.counter(v6, IPF_TOO_SMALL),
      overlapped: this.counter(v6, IPF_OVERLAP),
      purged: this.counter(v6, IPF_PURGED),
    };
  }

  status(): IpfStatus {
    return {
      nfragMax: Atomics.load(this.w, S_NFRAG_MAX),
      nfrag: Math.max(0, Atomics.load(this.w, S_NFRAG)),
      v4: this.family(0),
      v6: this.family(1),
    };
  }
}

/** `dpctl/ipf-get-status` text (ovs-vswitchd(8)); `lists` are the -m lines. */
export function formatIpfStatus(s: IpfStatus, lists: string[] | null): string {
  const p = '        ';
  const fam = (n: string, f: IpfFamilyStatus) => [
    `${p}min ${n} frag size: ${f.minFragSize}`,
    `${p}${n} frags accepted: ${f.accepted}`,
    `${p}${n} frags completed: ${f.completed}`,
    `${p}${n} frags expired: ${f.expired}`,
    `${p}${n} frags too small: ${f.tooSmall}`,
    `${p}${n} frags overlapped: ${f.overlapped}`,
    `${p}${n} frags purged: ${f.purged}`,
  ];
  const out = [
    `${p}Fragmentation Module Status`,
    `${p}---------------------------`,
    `${p}v4 enabled: ${s.v4.enabled ? 1 : 0}`,
    `${p}v6 enabled: ${s.v6.enabled ? 1 : 0}`,
    `${p}max num frags (v4/v6): ${s.nfragMax}`,
    `${p}num frag: ${s.nfrag}`,
    ...fam('v4', s.v4),
    ...fam('v6', s.v6),
  ];
  let text = out.join('\n') + '\n';
  if (lists !== null) {
    text += `\n${p}Fragment Lists:\n\n`;
    for (const l of lists) text += l + '\n';
  }
  return text;
}
