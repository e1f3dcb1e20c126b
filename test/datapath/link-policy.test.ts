// The attach/detach policy of device ports (src/datapath/ports/link-policy.ts),
// run against a model of the kernel and of the link watcher: interfaces made
// and deleted from outside, events delivered late, and lost events reported
// (ENOBUFS) ahead of the ones still queued, as a netlink socket reports them.
// Whatever the order, a port ends attached to the interface that exists, and
// a tap port counts one link reset per deletion from outside. (Matching a
// tap's deletion by name alone made swd remake the device on the deletion of
// the one it had just replaced, for ever: the CI failure of 2026-12-02.)

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { linkEventAction, linkRecheckAction, type LinkAction, type LinkState } from '../../src/datapath/ports/link-policy.ts';

type Ev = { kind: 'new' | 'del'; ifindex: number } | { kind: 'resync' };
type Op = 'create' | 'delete' | 'deliver' | 'overflow';

/** One port of `type` named like one interface; returns the port's end state after every event is delivered. */
function run(type: 'system' | 'tap', ops: Op[]) {
  let kernel = 0; // the name's current ifindex, 0 = no interface
  let next = 10;
  let port = { attached: false } as LinkState; // (`as`: the closures change it, which narrowing does not see)
  let resets = 0;
  let deletes = 0;
  let queue: Ev[] = [];
  const make = () => {
    kernel = next++;
    queue.push({ kind: 'new', ifindex: kernel });
  };
  const act = (a: LinkAction) => {
    if ((a === 'detach' || a === 'remake') && port.attached) {
      resets++;
      // Closing a tap's descriptor deletes its device, if it is still there.
      if (type === 'tap' && kernel === port.ifindex) {
        kernel = 0;
        queue.push({ kind: 'del', ifindex: port.ifindex });
      }
      port = { attached: false };
    }
    if ((a === 'attach' || a === 'remake') && !port.attached) {
      if (type === 'tap' && kernel === 0) make();
      if (kernel !== 0 && (type === 'system' || kernel === next - 1)) port = { attached: true, ifindex: kernel };
    }
  };
  const deliver = () => {
    const ev = queue.shift()!;
    act(ev.kind === 'resync' ? linkRecheckAction(type, port, kernel) : linkEventAction(type, port, ev.kind, ev.ifindex));
  };
  act(linkRecheckAction(type, port, kernel)); // the watcher's 'ready'
  for (const op of ops) {
    if (op === 'create' && kernel === 0 && type === 'system') make();
    else if (op === 'delete' && kernel !== 0) {
      if (port.attached && port.ifindex === kernel) deletes++;
      queue.push({ kind: 'del', ifindex: kernel });
      kernel = 0;
    } else if (op === 'deliver' && queue.length > 0) deliver();
    else if (op === 'overflow' && queue.length > 0) {
      // The newest event did not fit; the error is read before what is queued.
      queue.pop();
      queue = [{ kind: 'resync' }, ...queue.filter((e) => e.kind !== 'resync')];
    }
  }
  // A policy that remakes a tap on its own deletion would never settle.
  for (let i = 0; i < 1000 && queue.length > 0; i++) deliver();
  return { kernel, port, resets, deletes, settled: queue.length === 0 };
}

const ops = fc.array(fc.constantFrom<Op>('create', 'delete', 'deliver', 'overflow'), { maxLength: 30 });

describe('device ports that come and go', () => {
  it('a stale deletion queued behind a resync does not reset the remade tap device', () => {
    // Tap made (10), deleted from outside, events lost: resync first, then the deletion of 10.
    const r = run('tap', ['deliver', 'delete', 'overflow', 'deliver']);
    expect(r).toMatchObject({ port: { attached: true, ifindex: r.kernel }, resets: 1, deletes: 1, settled: true });
    expect(linkEventAction('tap', { attached: true, ifindex: 11 }, 'del', 10)).toBe('none');
    expect(linkEventAction('tap', { attached: true, ifindex: 11 }, 'del', 11)).toBe('remake');
  });

  it('a tap port ends on a device of its own, one reset per deletion from outside', () => {
    fc.assert(
      fc.property(ops, (o) => {
        const r = run('tap', o);
        expect(r.settled).toBe(true);
        expect(r.kernel).not.toBe(0);
        expect(r.port).toEqual({ attached: true, ifindex: r.kernel });
        expect(r.resets).toBe(r.deletes);
      }),
      { numRuns: 2000 },
    );
  });

  it('a system port ends attached exactly when its interface exists', () => {
    fc.assert(
      fc.property(ops, (o) => {
        const r = run('system', o);
        expect(r.settled).toBe(true);
        expect(r.port).toEqual(r.kernel === 0 ? { attached: false } : { attached: true, ifindex: r.kernel });
        expect(r.resets).toBeLessThanOrEqual(r.deletes + o.filter((x) => x === 'overflow').length);
      }),
      { numRuns: 2000 },
    );
  });
});
