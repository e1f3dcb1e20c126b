// What a controller-bound packet carries beside its bytes: the reason, the
// table, the cookie of the rule that sent it, the `controller` action's
// userdata, max_len and controller id. OVS puts these in the userspace
// action's cookie (and the userdata in a frozen state behind a recirc id);
// swd's userspace action carries one number: the reason and table in its
// low 16 bits, and above them a small id into this table of everything
// else, interned by content at translation (the slow path). On the way up
// (the main thread, once per packet-in) the id is looked up: no allocation.
//
// Ids only grow. When the table holds MAX_ENTRIES it starts over empty and
// tells its owner (`onReset`, the bridge bumps its generation so that every
// megaflow is translated again and gets fresh ids); a packet still carrying
// an id from before finds nothing and goes up with the reason and table
// alone (cookie "none"), as OpenFlow allows.
//
// Single-threaded: interned and looked up on the main thread (translation
// and the OpenFlow connections both run there).

/** The packet-in details of one `controller` action (or table miss). */
export interface PacketInMeta {
  /** OpenFlow reason (OFPR_*), or PIN_IMPLICIT_MISS. */
  readonly reason: number;
  readonly table: number;
  /** The sending rule's cookie; all ones when no rule sent it (packet-out). */
  readonly cookie: bigint;
  /** The controller action's userdata bytes, or null. */
  readonly userdata: Buffer | null;
  /** Bytes of the packet to send (the action's max_len; 65535: all). */
  readonly maxLen: number;
  /** Only connections with this controller id get it (NXT_SET_CONTROLLER_ID; 0 by default). */
  readonly controllerId: number;
  /** The action said `pause` (NXT_PACKET_IN2's continuation). */
  readonly pause: boolean;
}

export const COOKIE_NONE = 0xffffffffffffffffn;
/** The low 16 bits of the userspace action's number: reason << 8 | table. */
const ID_SCALE = 0x10000;
const MAX_ENTRIES = 0x10000;

/** The details of a packet-in whose id is unknown: only what the number's low bits say. */
export function bareMeta(word: number): PacketInMeta {
  const low = word % ID_SCALE;
  return { reason: low >>> 8, table: low & 0xff, cookie: COOKIE_NONE, userdata: null, maxLen: 65535, controllerId: 0, pause: false };
}

export class PacketInTable {
  private readonly byKey = new Map<string, number>();
  private readonly byId = new Map<number, PacketInMeta>();
  private nextId = 1;
  /** Called when the table started over (the owner must retranslate its megaflows). */
  onReset: (() => void) | null = null;

  get size(): number {
    return this.byId.size;
  }

  /** The userspace action's number for these details. */
  intern(m: PacketInMeta): number {
    const low = ((m.reason & 0xff) << 8) | (m.table & 0xff);
    const key = `${low},${m.cookie},${m.userdata?.toString('hex') ?? ''},${m.maxLen},${m.controllerId},${m.pause ? 1 : 0}`;
    let id = this.byKey.get(key);
    if (id === undefined) {
      if (this.byId.size >= MAX_ENTRIES) {
        this.byKey.clear();
        this.byId.clear();
        this.onReset?.();
      }
      id = this.nextId++;
      this.byKey.set(key, id);
      this.byId.set(id, m);
    }
    return id * ID_SCALE + low;
  }

  /** The details behind a userspace action's number (null: unknown id; see bareMeta). */
  lookup(word: number): PacketInMeta | null {
    return this.byId.get(Math.floor(word / ID_SCALE)) ?? null;
  }
}
