// The fragment module's configuration and counters (OVS's struct ipf
// atomics), in one SharedArrayBuffer that every thread's Ipf attaches to:
// the control plane sets the limits and reads the counters while the PMD
// threads reassemble. Every word is read and written with Atomics; the
// held-fragment count (S_NFRAG) is global, so ipf-set-max-nfrags bounds
// what all threads together hold. Counters are 64-bit as lo/hi word pairs,
// incremented by one at a time (the carry is exact for increments of 1).
// The fragment lists themselves are per thread (ipf.ts).

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
const S_WORDS = S_CNT + 2 * N_CNT * 2;

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
