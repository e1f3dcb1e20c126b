// Fail modes (ovs-vswitchd.conf.db(5) Bridge fail_mode; OVS's
// ofproto/fail-open.c): what a bridge with controllers does while none of
// them is connected.
//
//   secure      nothing: the installed flows stay and nothing else happens.
//   standalone  (also when unset) after every controller has had the chance
//               to probe and reconnect — disconnected (not admitted) for 3 ×
//               the longest inactivity probe interval, and at least 1 s —
//               the bridge fails open: its flows are flushed and every packet
//               goes to NORMAL (OVS's hidden fail-open flow), until a
//               controller is admitted again, which takes the bridge back
//               (with empty tables, for the controller to fill).
//
// Only controllers swd connects to (tcp:/unix:) count, as in OVS: a
// bridge with only listeners never fails open.

import type { Controller, ControllerLog } from './of-controller.ts';

export type FailMode = 'secure' | 'standalone';
export const FAIL_MODES: readonly FailMode[] = ['secure', 'standalone'];

export class FailOpen {
  active = false;
  private lastDisconnSecs = 0;

  constructor(
    private readonly bridge: string,
    private readonly log: ControllerLog,
    private readonly flush: () => void,
  ) {}

  /** Decide at `now` (ms); returns whether the bridge is failed open. */
  run(now: number, mode: FailMode, controllers: Controller[]): boolean {
    const active = controllers.filter((c) => c.target.kind === 'tcp' || c.target.kind === 'unix');
    if (mode !== 'standalone' || active.length === 0) {
      if (this.active) this.recover();
      return false;
    }
    let failMs = Infinity, maxProbe = 0;
    for (const c of active) {
      failMs = Math.min(failMs, c.admitted ? 0 : now - c.lastAdmitted);
      maxProbe = Math.max(maxProbe, c.settings.inactivityProbeMs);
    }
    const secs = Math.floor(failMs / 1000);
    if (secs > 0 && failMs >= 3 * maxProbe) {
      if (!this.active) {
        this.log.warn({ bridge: this.bridge, seconds: secs }, `${this.bridge}: could not connect to controller for ${secs} seconds, failing open`);
        this.active = true;
        this.lastDisconnSecs = secs;
        this.flush();
      } else if (secs > this.lastDisconnSecs + 60) {
        this.log.info({ bridge: this.bridge, seconds: secs }, `${this.bridge}: still in fail-open mode after ${secs} seconds disconnected from controller`);
        this.lastDisconnSecs = secs;
      }
    } else if (this.active && active.some((c) => c.admitted)) this.recover();
    return this.active;
  }

  private recover(): void {
    this.log.warn({ bridge: this.bridge }, `${this.bridge}: no longer in fail-open mode`);
    this.active = false;
    this.lastDisconnSecs = 0;
  }
}
