// What a device port does when its interface comes or goes (dpif.ts acts on
// the answer). A system port's interface belongs to someone else: it attaches
// when an interface of its name appears and detaches when *its* interface
// (by ifindex) goes. A tap port's device belongs to swd: when it is deleted
// from outside, swd makes it again.
//
// Events are matched by ifindex, never by name alone: after the kernel
// reports lost events (ENOBUFS: `recheck` of every port), the deletion that
// caused the recheck may still be queued behind it, and it names a device
// that has already been replaced.

/** A port as the policy sees it: detached, or attached to the device with this ifindex. */
export type LinkState = { attached: false } | { attached: true; ifindex: number };

/** attach: open the device; detach: stop reading it; remake: detach, then attach. */
export type LinkAction = 'attach' | 'detach' | 'remake' | 'none';

/** The answer to an RTM_NEWLINK ('new') or RTM_DELLINK ('del') for the port's interface name. */
export function linkEventAction(type: 'system' | 'tap', s: LinkState, kind: 'new' | 'del', ifindex: number): LinkAction {
  if (!s.attached) return kind === 'new' ? (type === 'system' ? 'attach' : 'none') : type === 'tap' ? 'attach' : 'none';
  if (kind === 'new' || s.ifindex !== ifindex) return 'none';
  return type === 'tap' ? 'remake' : 'detach';
}

/** The answer when events may have been lost: `ifindex` is the name's current interface (0: none). */
export function linkRecheckAction(type: 'system' | 'tap', s: LinkState, ifindex: number): LinkAction {
  if (!s.attached) return (type === 'tap' ? ifindex === 0 : ifindex !== 0) ? 'attach' : 'none';
  if (ifindex === s.ifindex) return 'none';
  return type === 'tap' || ifindex !== 0 ? 'remake' : 'detach';
}
