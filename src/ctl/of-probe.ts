// The inactivity probe of a connection swd accepted (a ptcp:/punix:
// controller target, the bridge's .mgmt socket), as OVS's rconn runs it for
// a connection it did not make (rconn_connect_unreliably): after `probeMs`
// without a message from the peer an echo request goes out; when nothing at
// all comes within another `probeMs` the peer is dropped (not reconnected:
// it is up to the peer to come back). OVS probes the .mgmt socket's
// connections every 60 s and a listener's as its controller's
// inactivity_probe says (5 s by default); 0 never probes.
//
// Single-threaded (the daemon's event loop); the owner calls `run(now)` on
// every tick and `activity(now)` on every message received.

/** OVS's probe interval for the .mgmt socket's connections (bridge.c). */
export const MGMT_PROBE_MS = 60_000;

export type ProbeAction = 'probe' | 'drop' | null;

export class InactivityProbe {
  private lastActivity: number;
  /** When the echo request went out (the rconn IDLE state), or -1 (ACTIVE). */
  private probedAt = -1;

  constructor(
    private readonly probeMs: number,
    now: number,
  ) {
    this.lastActivity = now;
  }

  activity(now: number): void {
    this.lastActivity = now;
    this.probedAt = -1;
  }

  /** Seconds since the probe went out (for the log line). */
  idleSeconds(now: number): number {
    return this.probedAt < 0 ? 0 : (now - this.probedAt) / 1000;
  }

  /** What is due now: send an echo request, drop the peer, or nothing. */
  run(now: number): ProbeAction {
    if (this.probeMs <= 0) return null;
    if (this.probedAt < 0) {
      if (now - this.lastActivity < this.probeMs) return null;
      this.probedAt = now;
      return 'probe';
    }
    return now - this.probedAt >= this.probeMs ? 'drop' : null;
  }
}
