// The MAC learning table behind the NORMAL action: one per bridge, keyed by
// (VLAN, MAC), remembering the port a source address was last seen on.
// Slow path only: it is consulted and updated during translation (upcalls),
// and a change that could alter a forwarding decision bumps `generation` so
// that the bridge revalidates its megaflows, as OVS does with its MAC tags.

export const MAC_DEFAULT_AGING_SEC = 300;
export const MAC_DEFAULT_MAX_ENTRIES = 8192;

export interface MacEntry {
  vlan: number;
  mac: string; // "50:54:00:00:00:01"
  port: number;
  /** Time (ms) the address was last learned or refreshed. */
  seenMs: number;
}

export class MacTable {
  private readonly entries = new Map<string, MacEntry>();
  /** Bumped whenever an entry is added, moves port or is removed. */
  generation = 0;

  constructor(
    readonly agingSec = MAC_DEFAULT_AGING_SEC,
    readonly maxEntries = MAC_DEFAULT_MAX_ENTRIES,
  ) {}

  private static keyOf(vlan: number, mac: string): string {
    return `${vlan}/${mac}`;
  }

  /** Learn `mac` on `port`; returns true when this changed the table. */
  learn(vlan: number, mac: string, port: number, nowMs: number): boolean {
    const k = MacTable.keyOf(vlan, mac);
    const e = this.entries.get(k);
    if (e) {
      e.seenMs = nowMs;
      if (e.port === port) return false;
      e.port = port;
      this.generation++;
      return true;
    }
    if (this.entries.size >= this.maxEntries) this.evictOldest();
    this.entries.set(k, { vlan, mac, port, seenMs: nowMs });
    this.generation++;
    return true;
  }

  lookup(vlan: number, mac: string, nowMs: number): number | null {
    const e = this.entries.get(MacTable.keyOf(vlan, mac));
    if (!e) return null;
    if (nowMs - e.seenMs > this.agingSec * 1000) return null;
    return e.port;
  }

  /** Refresh the age of an entry without changing it (packets seen on a megaflow). */
  touch(vlan: number, mac: string, port: number, nowMs: number): void {
    const e = this.entries.get(MacTable.keyOf(vlan, mac));
    if (e && e.port === port) e.seenMs = nowMs;
  }

  /** Forget everything learned on `port` (port removed). */
  flushPort(port: number): void {
    for (const [k, e] of this.entries) {
      if (e.port === port) {
        this.entries.delete(k);
        this.generation++;
      }
    }
  }

  flush(): void {
    if (this.entries.size > 0) this.generation++;
    this.entries.clear();
  }

  /** Drop entries older than the aging time. */
  expire(nowMs: number): void {
    const limit = this.agingSec * 1000;
    for (const [k, e] of this.entries) {
      if (nowMs - e.seenMs > limit) {
        this.entries.delete(k);
        this.generation++;
      }
    }
  }

  private evictOldest(): void {
    let oldestKey: string | null = null;
    let oldest = Infinity;
    for (const [k, e] of this.entries) {
      if (e.seenMs < oldest) {
        oldest = e.seenMs;
        oldestKey = k;
      }
    }
    if (oldestKey !== null) {
      this.entries.delete(oldestKey);
      this.generation++;
    }
  }

  list(): MacEntry[] {
    return [...this.entries.values()];
  }

  /** `ovs-appctl fdb/show` text. */
  formatShow(nowMs: number): string[] {
    const lines = [' port  VLAN  MAC                Age'];
    const rows = this.list().sort((a, b) => a.port - b.port || a.vlan - b.vlan || a.mac.localeCompare(b.mac));
    for (const e of rows) {
      const age = Math.floor((nowMs - e.seenMs) / 1000);
      lines.push(`${String(e.port).padStart(5)}  ${String(e.vlan).padStart(4)}  ${e.mac}  ${String(age).padStart(3)}`);
    }
    return lines;
  }
}
