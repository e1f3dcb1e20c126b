// The async-config messages against OVS's vectors (tests/ofp-print.at):
// OpenFlow 1.3's OFPT_SET_ASYNC and Nicira's NXT_SET_ASYNC_CONFIG (unknown
// bits dropped silently), OpenFlow 1.4's property form (an invalid mask is
// OFPACFC_INVALID, an unknown property OFPACFC_UNSUPPORTED), and OVS's
// defaults per version.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSetAsync, defaultAsyncConfig, encodeGetAsyncReply, encodeSetAsync, OAM_FLOW_REMOVED, OAM_PACKET_IN, OAM_PORT_STATUS,
  OFPACFC_INVALID, OFPACFC_UNSUPPORTED, OFPET_ASYNC_CONFIG_FAILED, wireReason, type AsyncConfig,
} from '../../src/openflow/async-config.ts';
import { OfError } from '../../src/openflow/errors.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const NO_MATCH = 1 << 0, ACTION = 1 << 1, INVALID_TTL = 1 << 2, ACTION14 = 0x38, EXPLICIT = 1 << 6, IMPLICIT = 1 << 7;
/** The three types ovs-ofctl prints with reasons, [primary, secondary] each. */
const masks = (c: AsyncConfig) => [OAM_PACKET_IN, OAM_PORT_STATUS, OAM_FLOW_REMOVED].map((t) => [c.primary[t], c.secondary[t]]);
const none = defaultAsyncConfig(4);

function refusal(msg: Buffer): [number, number] {
  try {
    decodeSetAsync(msg, none);
  } catch (e) {
    if (e instanceof OfError) return [e.ofType, e.ofCode];
    throw e;
  }
  throw new Error('accepted');
}

describe('async config messages, as OVS reads and writes them', () => {
  it('OFPT_SET_ASYNC (OF1.3): primary no_match invalid_ttl / add delete / off; secondary no_match action invalid_ttl / all / idle hard', () => {
    const msg = hex('04 1c 00 20 00 00 00 00 00 00 10 05 00 00 10 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03');
    const c = decodeSetAsync(msg, none);
    // no_match stands for the explicit miss too (the implicit one only below 1.3); action for 1.4's refinements of it.
    expect(masks(c)).toEqual([[NO_MATCH | INVALID_TTL | EXPLICIT, NO_MATCH | ACTION | INVALID_TTL | EXPLICIT | ACTION14], [0x3, 0x7], [0, 0x3]]);
    // Written back, bit 12 (not a reason) is gone.
    expect(encodeSetAsync(4, 0, c).toString('hex')).toBe(hex('04 1c 00 20 00 00 00 00 00 00 00 05 00 00 00 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03').toString('hex'));
    expect(encodeGetAsyncReply(4, 7, c).toString('hex')).toBe(hex('04 1b 00 20 00 00 00 07 00 00 00 05 00 00 00 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03').toString('hex'));
  });

  it('NXT_SET_ASYNC_CONFIG (OpenFlow 1.0): the same masks; below 1.3 no_match covers the implicit miss', () => {
    const msg = hex('01 04 00 28 00 00 00 00 00 00 23 20 00 00 00 13 00 00 10 05 00 00 10 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03');
    const c = decodeSetAsync(msg, defaultAsyncConfig(1));
    expect(masks(c)).toEqual([[NO_MATCH | INVALID_TTL | EXPLICIT | IMPLICIT, NO_MATCH | ACTION | INVALID_TTL | EXPLICIT | IMPLICIT | ACTION14], [0x3, 0x7], [0, 0x3]]);
    expect(encodeSetAsync(1, 0, c).toString('hex')).toBe(hex('01 04 00 28 00 00 00 00 00 00 23 20 00 00 00 13 00 00 00 05 00 00 00 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03').toString('hex'));
  });

  it('OFPT_SET_ASYNC (OF1.4): properties change what they name; primary action / add modify / idle delete; secondary no_match invalid_ttl / delete / delete group_delete meter_delete', () => {
    const msg = hex(`05 1c 00 38 00 00 00 02 00 00 00 08 00 00 00 05 00 01 00 08 00 00 00 02 00 02 00 08 00 00 00 02
      00 03 00 08 00 00 00 05 00 04 00 08 00 00 00 1c 00 05 00 08 00 00 00 05`);
    const c = decodeSetAsync(msg, defaultAsyncConfig(5));
    expect(masks(c)).toEqual([[ACTION, NO_MATCH | INVALID_TTL | EXPLICIT], [0x5, 0x2], [0x5, 0x1c]]);
    // Written with every property, in OVS's order (secondary, primary per type).
    const reply = encodeGetAsyncReply(5, 2, c);
    expect(reply.length).toBe(8 + 12 * 8);
    expect(reply.subarray(8, 56).toString('hex')).toBe(hex(`00 00 00 08 00 00 00 05 00 01 00 08 00 00 00 02 00 02 00 08 00 00 00 02
      00 03 00 08 00 00 00 05 00 04 00 08 00 00 00 1c 00 05 00 08 00 00 00 05`).toString('hex'));
    expect(decodeSetAsync(encodeSetAsync(5, 2, c), none)).toEqual(c);
  });

  it('OF1.4: an invalid mask is OFPACFC_INVALID, an unknown property OFPACFC_UNSUPPORTED', () => {
    expect(refusal(hex(`05 1c 00 38 00 00 00 02 00 00 00 08 00 00 00 40 00 01 00 08 00 00 00 02 00 02 00 08 00 00 00 02
      00 03 00 08 00 00 00 05 00 04 00 08 00 00 00 1c 00 05 00 08 00 00 00 05`))).toEqual([OFPET_ASYNC_CONFIG_FAILED, OFPACFC_INVALID]);
    expect(refusal(hex(`05 1c 00 38 00 00 00 02 00 00 00 08 00 00 00 05 00 11 00 08 00 00 00 02 00 02 00 08 00 00 00 02
      00 03 00 08 00 00 00 05 00 04 00 08 00 00 00 1c 00 05 00 08 00 00 00 05`))).toEqual([OFPET_ASYNC_CONFIG_FAILED, OFPACFC_UNSUPPORTED]);
  });

  it('OVS\'s defaults: a slave gets port status only; flow-removed reasons by version; misses as each version reports them', () => {
    expect(masks(defaultAsyncConfig(1))).toEqual([[NO_MATCH | ACTION | ACTION14 | EXPLICIT | IMPLICIT, 0], [0x7, 0x7], [0x7, 0]]);
    expect(masks(defaultAsyncConfig(4))).toEqual([[NO_MATCH | ACTION | ACTION14 | EXPLICIT, 0], [0x7, 0x7], [0xf, 0]]);
    expect(masks(defaultAsyncConfig(5))[2]).toEqual([0x3f, 0]);
    expect([wireReason(6, 1), wireReason(6, 4), wireReason(7, 1), wireReason(3, 4), wireReason(3, 5)]).toEqual([1, 0, 0, 1, 3]);
  });

  it('random bytes and mutations of the vectors decode or fail with an OpenFlow error, never anything else', () => {
    const vectors = [
      hex('04 1c 00 20 00 00 00 00 00 00 10 05 00 00 10 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03'),
      hex('05 1c 00 38 00 00 00 02 00 00 00 08 00 00 00 05 00 01 00 08 00 00 00 02 00 02 00 08 00 00 00 02 00 03 00 08 00 00 00 05 00 04 00 08 00 00 00 1c 00 05 00 08 00 00 00 05'),
      hex('01 04 00 28 00 00 00 00 00 00 23 20 00 00 00 13 00 00 10 05 00 00 10 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03'),
    ];
    const mutated = fc.tuple(fc.constantFrom(...vectors), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(64)).map(([v, flips, cut]) => {
      const b = Buffer.from(v);
      for (const [at, x] of flips) if (at % b.length >= 4) b[at % b.length] = x; // keep version and type
      const out = b.subarray(0, Math.max(8, b.length - cut));
      out.writeUInt16BE(out.length, 2);
      return out;
    });
    const random = fc.uint8Array({ minLength: 8, maxLength: 80 }).map((a) => {
      const b = Buffer.from(a);
      b[0] = [1, 4, 5, 6][b[0] & 3];
      b.writeUInt16BE(b.length, 2);
      return b;
    });
    fc.assert(fc.property(fc.oneof(mutated, random), (msg) => {
      try {
        decodeSetAsync(msg, none);
      } catch (e) {
        if (!(e instanceof OfError)) throw e;
      }
    }), { numRuns: 2000 });
  });
});
