// The flowtable (seed 004, as Linux's nf_flowtable): a fast path for
// established connections, looked up before the megaflow cache. While a
// packet of a connection takes the full path (megaflows, ct(), recirc),
// the datapath traces what happens to it; when the result is fixed — header
// rewrites (NAT, set_field, dec_ttl) and output ports, the same connection
// at every ct(), +est, no miss, no controller/userspace, no VLAN push/pop,
// no drop — and conntrack says the connection is established both ways
// (src/conntrack/offload.ts), one entry is made for that direction, keyed by
// the packet's key under the union of the masks of the megaflows it went
// through (what translation consulted) plus the addresses, protocol and
// ports. A hit is one lookup, the rewrite and the output: the megaflows'
// counters (and so the rules', the groups' buckets'), the ports' and the
// connection's per-direction counters are credited exactly as the full path
// would. TCP FIN/RST/SYN: both entries go and the packet takes the full path.
// Entries idle for `timeout` go (conntrack's expiry was pushed by every hit,
// so the connection then expires as after its last full-path packet).
// Megaflow changes (revalidation, flush, expiry), port changes and a changed
// connection (mark, label, no longer established, flushed) invalidate them.
//
// Threads: one FlowTable per Datapath (per PMD thread); the configuration
// (per datapath port: protocols and timeout) is a shared Int32Array the
// control thread writes. Hot path: no allocation; entries are made on the
// slow path.

import { FK_HEADER_FIRST } from '../packet/extract.ts';
import {
  CS_ESTABLISHED, CS_INVALID, CS_NEW, CS_RELATED, CS_TRACKED, FK_CT_STATE, FK_ETH_DST_HI, FK_ETH_DST_LO,
  FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_TYPE, FK_IN_PORT, FK_IPV6_DST, FK_IPV6_LABEL, FK_IPV6_SRC, FK_NW_DST,
  FK_NW_PROTO, FK_NW_SRC, FK_NW_TOS, FK_NW_TTL, FK_TCP_FLAGS, FK_TP_DST, FK_TP_SRC, FK_WORDS, IPPROTO_TCP,
  IPPROTO_UDP, TCP_FIN, TCP_RST, TCP_SYN,
} from '../packet/flow-key.ts';
import { BATCH_MAX, CONN_MD_REPLY, type PacketBatch } from '../packet/batch.ts';
import { TCP_SEG_WORDS, tcpSegWords } from '../conntrack/offload.ts';
import { hashFinish, hashMix } from '../packet/hash.ts';
import type { Megaflow } from './megaflow.ts';
import { formatDpActions, output as dpOutput, set as dpSet, type DpAction } from './dp-actions.ts';
import { formatOdpFlowKey } from '../packet/odp-format.ts';

export const FT_TCP = 0x1;
export const FT_UDP = 0x2;
export const FT_DEFAULT_TIMEOUT_SEC = 30;
/** Config words per datapath port: protocols | timeout seconds << 8 (0 = off). */
export const FT_PORTS = 65536;
const MAX_OUTPUTS = 8;
const MAX_PATH = 8;
const OFF_WORDS = 5;

/** What the flowtable needs of conntrack (the datapath's ConntrackHook). */
export interface OffloadConntrack {
  offloadBegin(r: number, id: number, state: Int32Array): boolean;
  offloadHit(r: number, id: number, reply: boolean, len: number, nowMs: number, state: Int32Array, data: Uint8Array, l4: number, l4Len: number): boolean;
  /** The rest of a run of hits (conntrack/offload.ts offloadCredit). */
  offloadCredit(r: number, id: number, reply: boolean, packets: number, bytes: number, nowMs: number, segs: Int32Array, nSegs: number): void;
  offloadEnd(r: number, id: number): void;
}

/** What a hit needs of the datapath: the header rewrite and the transmit. */
export interface FlowtableHost {
  applySetTo(b: PacketBatch, i: number, words: Int32Array, values: Uint32Array): void;
  outputTo(port: number, b: PacketBatch, i: number): void;
}

/** The words every entry's key covers, whatever translation consulted. */
const KEY_ALWAYS = [FK_IN_PORT, FK_ETH_TYPE, FK_NW_SRC, FK_NW_DST, FK_NW_PROTO, FK_TP_SRC, FK_TP_DST,
  FK_IPV6_SRC, FK_IPV6_SRC + 1, FK_IPV6_SRC + 2, FK_IPV6_SRC + 3, FK_IPV6_DST, FK_IPV6_DST + 1, FK_IPV6_DST + 2, FK_IPV6_DST + 3];
/** KEY_ALWAYS's first words, those an IPv4 key can have non-zero. */
const KEY_ALWAYS_V4 = 7;
/** Header words a hit may rewrite (applySet keeps their checksums right). */
const REWRITABLE = new Set([FK_ETH_SRC_HI, FK_ETH_SRC_LO, FK_ETH_DST_HI, FK_ETH_DST_LO, FK_NW_SRC, FK_NW_DST, FK_NW_TOS,
  FK_NW_TTL, FK_IPV6_LABEL, FK_TP_SRC, FK_TP_DST, FK_IPV6_SRC, FK_IPV6_SRC + 1, FK_IPV6_SRC + 2, FK_IPV6_SRC + 3,
  FK_IPV6_DST, FK_IPV6_DST + 1, FK_IPV6_DST + 2, FK_IPV6_DST + 3]);

/** The shared configuration: per datapath port, the protocols offloaded and the idle timeout. */
export class FlowtableConfig {
  readonly words: Int32Array;
  constructor(buf?: SharedArrayBuffer) {
    this.words = new Int32Array(buf ?? new SharedArrayBuffer(FT_PORTS * 4));
  }
  get buffer(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }
  set(port: number, protos: number, timeoutSec: number): void {
    Atomics.store(this.words, port & 0xffff, protos === 0 ? 0 : (protos | (timeoutSec << 8)));
  }
}

export interface FtEntry {
  hash: number;
  next: FtEntry | null;
  /** Words compared, and the key's values there. */
  words: Int32Array;
  key: Uint32Array;
  conn: number;
  connId: number;
  reply: boolean;
  /** Mark and label the entry was made under (conntrack/offload.ts OFF_*). */
  state: Int32Array;
  setWords: Int32Array;
  setValues: Uint32Array;
  outputs: Int32Array;
  megaflows: Megaflow[];
  timeoutMs: number;
  createdMs: number;
  usedMs: number;
  packets: number;
  bytes: number;
}

export interface FlowtableStats {
  hits: number;
  added: number;
  teardowns: number;
  stale: number;
  expired: number;
}

export class FlowTable {
  readonly stats: FlowtableStats = { hits: 0, added: 0, teardowns: 0, stale: 0, expired: 0 };
  private readonly buckets = new Map<number, FtEntry>();
  private count = 0;
  // The trace of the packet on the full path (one at a time: a Datapath is single-threaded).
  tracing = false;
  private readonly origKey = new Uint32Array(FK_WORDS);
  private readonly outKey = new Uint32Array(FK_WORDS);
  private readonly outputs = new Int32Array(MAX_OUTPUTS);
  private nOutputs = 0;
  private readonly path: (Megaflow | null)[] = new Array<Megaflow | null>(MAX_PATH).fill(null);
  private nPath = 0;
  private conn = -1;
  private connId = 0;
  private connMd = 0;
  private readonly stateScratch = new Int32Array(OFF_WORDS);
  // The run: packets of one batch hitting the same entry one after another.
  // The first is checked and counted by conntrack at once (offloadHit); the
  // rest skip the lookup and the lock and are counted when the run ends
  // (another entry, a packet for the full path, the batch's end, any entry
  // removed): the megaflows', the entry's and conntrack's counters are exact
  // whenever the batch is not running.
  private run: FtEntry | null = null;
  private runPackets = 0;
  private runBytes = 0;
  private runFlags = 0;
  private runNow = 0;
  /** Packets after the run's first, and their bytes and TCP segments (conntrack's part). */
  private runCtPackets = 0;
  private runCtBytes = 0;
  private runSegs = 0;
  private readonly segs = new Int32Array(BATCH_MAX * 2 * TCP_SEG_WORDS);

  constructor(readonly config: FlowtableConfig, private readonly ct: OffloadConntrack | null) {}

  get size(): number {
    return this.count;
  }

  /** Offload protocols of packet slot i's in_port (0 = none), for a packet the flowtable may take. */
  private protosFor(keys: Uint32Array, k: number): number {
    const c = this.config.words[keys[k + FK_IN_PORT] & 0xffff];
    if (c === 0) return 0;
    const p = keys[k + FK_NW_PROTO];
    if (p === IPPROTO_TCP) return c & FT_TCP;
    if (p === IPPROTO_UDP) return c & FT_UDP;
    return 0;
  }

  /** A packet arriving (depth 0): forward it from an entry (true), or trace its full path (false). */
  tryHit(host: FlowtableHost, b: PacketBatch, i: number, nowMs: number): boolean {
    const keys = b.keys;
    const k = i * FK_WORDS;
    this.tracing = false;
    if (this.ct === null || this.protosFor(keys, k) === 0) {
      this.endRun();
      return false;
    }
    const tcp = keys[k + FK_NW_PROTO] === IPPROTO_TCP;
    const flags = tcp ? keys[k + FK_TCP_FLAGS] : 0;
    if (this.count > 0) {
      const len = b.len[i];
      let e = this.run;
      if (e !== null && (flags & (TCP_FIN | TCP_RST | TCP_SYN)) === 0 && this.runSegs < BATCH_MAX * 2 && matches(e, keys, k)) {
        // The run goes on: conntrack counts this one when it ends.
        this.runCtPackets++;
        this.runCtBytes += len;
        if (tcp) {
          const l4 = b.l4[i];
          if (tcpSegWords(this.segs, this.runSegs, b.data[i], l4, b.start[i] + len - l4)) this.runSegs++;
        }
      } else {
        this.endRun();
        const h = hashWords(keys, k);
        e = this.buckets.get(h) ?? null;
        while (e !== null && !(e.hash === h && matches(e, keys, k))) e = e.next;
        if (e !== null) {
          if ((flags & (TCP_FIN | TCP_RST | TCP_SYN)) !== 0) {
            // Teardown: conntrack must see this packet; the connection leaves the flowtable.
            this.removeConn(e.conn, e.connId);
            this.ct.offloadEnd(e.conn, e.connId);
            this.stats.teardowns++;
            return false;
          }
          const l4 = b.l4[i];
          if (!this.ct.offloadHit(e.conn, e.connId, e.reply, len, nowMs, e.state, b.data[i], l4, b.start[i] + len - l4)) {
            this.removeConn(e.conn, e.connId);
            this.stats.stale++;
            return false;
          }
          this.run = e;
        }
      }
      if (e !== null) {
        this.runNow = nowMs;
        this.runPackets++;
        this.runBytes += len;
        this.runFlags |= flags;
        if (e.setWords.length > 0) host.applySetTo(b, i, e.setWords, e.setValues);
        const outs = e.outputs;
        for (let o = 0; o < outs.length; o++) host.outputTo(outs[o], b, i);
        this.stats.hits++;
        return true;
      }
    }
    if ((flags & (TCP_FIN | TCP_RST | TCP_SYN)) !== 0) return false;
    // Trace this packet's full path.
    for (let w = 0; w < FK_WORDS; w++) this.origKey[w] = keys[k + w];
    this.nOutputs = 0;
    this.nPath = 0;
    this.conn = -1;
    this.tracing = true;
    return false;
  }

  /** The batch is done: what its last run owes is counted. */
  endBatch(): void {
    this.endRun();
  }

  /** Count the run's packets in its megaflows, its entry and (all but the first) its connection. */
  private endRun(): void {
    const e = this.run;
    if (e === null) return;
    this.run = null;
    const n = this.runPackets, bytes = this.runBytes, now = this.runNow;
    const mfs = e.megaflows;
    for (let m = 0; m < mfs.length; m++) {
      const mf = mfs[m];
      mf.packets += n;
      mf.bytes += bytes;
      mf.usedMs = now;
      if (this.runFlags !== 0) mf.tcpFlags |= this.runFlags;
    }
    e.packets += n;
    e.bytes += bytes;
    e.usedMs = now;
    if (this.runCtPackets > 0) this.ct!.offloadCredit(e.conn, e.connId, e.reply, this.runCtPackets, this.runCtBytes, now, this.segs, this.runSegs);
    this.runPackets = this.runBytes = this.runFlags = 0;
    this.runCtPackets = this.runCtBytes = this.runSegs = 0;
  }

  // ---- the trace, called by the datapath while tracing

  traceFail(): void {
    this.tracing = false;
  }

  traceMegaflow(mf: Megaflow): void {
    if (this.nPath >= MAX_PATH) this.tracing = false;
    else this.path[this.nPath++] = mf;
  }

  traceOutput(port: number, keys: Uint32Array, k: number): void {
    if (this.nOutputs === 0) {
      for (let w = 0; w < FK_WORDS; w++) this.outKey[w] = keys[k + w];
    } else {
      // Outputs of differently rewritten copies: not one fixed result.
      for (let w = FK_HEADER_FIRST; w < FK_WORDS; w++) if (this.outKey[w] !== keys[k + w]) this.tracing = false;
    }
    if (this.nOutputs >= MAX_OUTPUTS) this.tracing = false;
    else this.outputs[this.nOutputs++] = port;
  }

  /** After a ct(): the packet must be +est on one connection throughout. */
  traceCt(b: PacketBatch, i: number): void {
    const st = b.keys[i * FK_WORDS + FK_CT_STATE];
    const c = b.ctConn[i] - 1;
    if ((st & (CS_TRACKED | CS_ESTABLISHED)) !== (CS_TRACKED | CS_ESTABLISHED) || (st & (CS_NEW | CS_INVALID | CS_RELATED)) !== 0 || c < 0 ||
        (this.conn >= 0 && (this.conn !== c || this.connId !== b.ctConnId[i]))) {
      this.tracing = false;
      return;
    }
    this.conn = c;
    this.connId = b.ctConnId[i];
    this.connMd = b.ctConnMd[i];
  }

  /** The traced packet is done: make its entry if its path was a fixed result (slow path: allocates). */
  traceEnd(b: PacketBatch, i: number, nowMs: number): void {
    if (!this.tracing) return;
    this.tracing = false;
    if (this.conn < 0 || this.nOutputs === 0 || b.dropped[i] !== 0 || this.ct === null) return;
    // Checks that allocate nothing first: a path that cannot be offloaded costs no garbage per packet.
    for (let w = FK_HEADER_FIRST; w < FK_WORDS; w++) {
      if (this.outKey[w] !== this.origKey[w] && w !== FK_TCP_FLAGS && !REWRITABLE.has(w)) return;
    }
    if (!this.ct.offloadBegin(this.conn, this.connId, this.stateScratch)) return;
    const state = this.stateScratch.slice();
    const words: number[] = [];
    const sets: number[] = [];
    const vals: number[] = [];
    for (let w = FK_HEADER_FIRST; w < FK_WORDS; w++) {
      if (this.outKey[w] === this.origKey[w] || w === FK_TCP_FLAGS) continue;
      sets.push(w);
      vals.push(this.outKey[w]);
    }
    const mask = new Uint32Array(FK_WORDS);
    for (let p = 0; p < this.nPath; p++) {
      const m = this.path[p]!.mask;
      mask[FK_IN_PORT] |= m[FK_IN_PORT];
      for (let w = FK_HEADER_FIRST; w < FK_WORDS; w++) mask[w] |= m[w];
    }
    for (const w of KEY_ALWAYS) mask[w] = 0xffffffff;
    for (let w = 0; w < FK_WORDS; w++) if (mask[w] !== 0) words.push(w);
    const key = new Uint32Array(words.length * 2);
    words.forEach((w, j) => {
      key[j * 2] = this.origKey[w] & mask[w];
      key[j * 2 + 1] = mask[w];
    });
    const hash = hashWords(this.origKey, 0);
    const cfg = this.config.words[this.origKey[FK_IN_PORT] & 0xffff];
    const e: FtEntry = {
      hash, next: null, words: Int32Array.from(words), key, conn: this.conn, connId: this.connId,
      reply: (this.connMd & CONN_MD_REPLY) !== 0, state, setWords: Int32Array.from(sets), setValues: Uint32Array.from(vals),
      outputs: this.outputs.slice(0, this.nOutputs), megaflows: this.path.slice(0, this.nPath) as Megaflow[],
      timeoutMs: ((cfg >>> 8) || FT_DEFAULT_TIMEOUT_SEC) * 1000, createdMs: nowMs, usedMs: nowMs, packets: 0, bytes: 0,
    };
    e.next = this.buckets.get(hash) ?? null;
    this.buckets.set(hash, e);
    this.count++;
    this.stats.added++;
  }

  // ---- management (slow path)

  entries(): FtEntry[] {
    const out: FtEntry[] = [];
    for (const head of this.buckets.values()) for (let e: FtEntry | null = head; e !== null; e = e.next) out.push(e);
    return out;
  }

  /** Drop every entry (flow tables, groups, ports or megaflows changed). */
  flush(): number {
    this.endRun();
    const n = this.count;
    if (n === 0) return 0;
    for (const e of this.entries()) this.ct?.offloadEnd(e.conn, e.connId);
    this.buckets.clear();
    this.count = 0;
    return n;
  }

  /** Drop the entries that go through one of these megaflows (they left the cache). */
  dropMegaflows(dead: Megaflow[]): void {
    this.endRun();
    const gone = new Set(dead);
    for (const e of this.entries()) {
      if (!e.megaflows.some((m) => gone.has(m))) continue;
      this.remove(e);
      this.ct?.offloadEnd(e.conn, e.connId);
    }
  }

  /** Drop entries idle for their timeout. */
  expire(nowMs: number): number {
    this.endRun();
    let n = 0;
    for (const e of this.entries()) {
      if (nowMs - e.usedMs < e.timeoutMs) continue;
      this.remove(e);
      this.ct?.offloadEnd(e.conn, e.connId);
      n++;
    }
    this.stats.expired += n;
    return n;
  }

  /** Drop the entries of one connection (both directions). */
  removeConn(conn: number, id: number): void {
    this.endRun();
    for (const e of this.entries()) if (e.conn === conn && e.connId === id) this.remove(e);
  }

  private remove(e: FtEntry): void {
    let head = this.buckets.get(e.hash) ?? null;
    if (head === e) {
      if (e.next === null) this.buckets.delete(e.hash);
      else this.buckets.set(e.hash, e.next);
    } else {
      while (head !== null && head.next !== e) head = head.next;
      if (head === null) return;
      head.next = e.next;
    }
    this.count--;
  }
}

function matches(e: FtEntry, keys: Uint32Array, k: number): boolean {
  const w = e.words;
  const kv = e.key;
  for (let j = 0; j < w.length; j++) if (((keys[k + w[j]] & kv[j * 2 + 1]) >>> 0) !== kv[j * 2]) return false;
  return true;
}

/** Hash of the words every entry covers (so a packet finds its bucket before knowing the entry's mask). */
function hashWords(keys: Uint32Array, k: number): number {
  let h = 0;
  // IPv4: the IPv6 address words are zero, not worth hashing.
  const n = keys[k + FK_ETH_TYPE] === 0x0800 ? KEY_ALWAYS_V4 : KEY_ALWAYS.length;
  for (let j = 0; j < n; j++) h = hashMix(h, keys[k + KEY_ALWAYS[j]]);
  return hashFinish(h) | 0;
}

/** One dump-offloaded line: the entry's key (as dump-dp-flows prints a match), counters, age and actions. */
export function formatFtEntry(e: FtEntry, nowMs: number, portName?: (n: number) => string): string {
  const key = new Uint32Array(FK_WORDS);
  const mask = new Uint32Array(FK_WORDS);
  e.words.forEach((w, j) => {
    key[w] = e.key[j * 2];
    mask[w] = e.key[j * 2 + 1];
  });
  const match = formatOdpFlowKey(key, 0, mask, 0, false, portName).replace(/^recirc_id\(0\),/, '');
  const acts: DpAction[] = [];
  const v6 = key[FK_ETH_TYPE] === 0x86dd;
  const l4 = key[FK_NW_PROTO] === IPPROTO_TCP ? 'tcp' : 'udp';
  for (const [hdr, pick] of [['eth', (w: number) => w >= FK_ETH_SRC_HI && w <= FK_ETH_DST_LO],
    [v6 ? 'ipv6' : 'ipv4', (w: number) => w !== FK_TP_SRC && w !== FK_TP_DST && !(w >= FK_ETH_SRC_HI && w <= FK_ETH_DST_LO)],
    [l4, (w: number) => w === FK_TP_SRC || w === FK_TP_DST]] as const) {
    const ws: number[] = [];
    const vs: number[] = [];
    e.setWords.forEach((w, j) => { if (pick(w)) { ws.push(w); vs.push(e.setValues[j]); } });
    if (ws.length) acts.push(dpSet(hdr, ws, vs));
  }
  for (const p of e.outputs) acts.push(dpOutput(p));
  const age = ((nowMs - e.createdMs) / 1000).toFixed(3);
  const used = ((nowMs - e.usedMs) / 1000).toFixed(3);
  return `${match}, packets:${e.packets}, bytes:${e.bytes}, age:${age}s, used:${used}s, actions:${formatDpActions(acts, portName)}`;
}
