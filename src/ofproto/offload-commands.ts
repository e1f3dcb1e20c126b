// swctl offload-set / offload-show / dump-offloaded: the flowtable
// (src/datapath/flowtable.ts) switched on per bridge, for TCP, UDP or both,
// with an idle timeout. The setting is part of the bridge's saved
// configuration (BridgeConfig.offload, the argument text); default off.

import { FT_DEFAULT_TIMEOUT_SEC, FT_TCP, FT_UDP } from '../datapath/flowtable.ts';
import type { Dpif } from '../datapath/dpif.ts';
import { SwitchError } from './api.ts';
import type { Bridge } from './bridge.ts';

export interface OffloadSetting {
  protos: number;
  timeoutSec: number;
}

const OFF: OffloadSetting = { protos: 0, timeoutSec: FT_DEFAULT_TIMEOUT_SEC };

/** `on|off [tcp|udp|all] [timeout=SECS]`. */
export function parseOffload(args: string[]): OffloadSetting {
  const [mode, ...rest] = args;
  if (mode !== 'on' && mode !== 'off') throw new SwitchError('EINVAL', `offload-set: expected on or off, got '${mode ?? ''}'`);
  let protos = FT_TCP | FT_UDP;
  let timeoutSec = FT_DEFAULT_TIMEOUT_SEC;
  for (const a of rest) {
    const t = /^timeout=(\d+)$/.exec(a);
    if (t) {
      timeoutSec = Number(t[1]);
      if (timeoutSec < 1 || timeoutSec > 0xffffff) throw new SwitchError('EINVAL', `offload-set: timeout must be 1..${0xffffff} seconds`);
    } else if (a === 'tcp') protos = FT_TCP;
    else if (a === 'udp') protos = FT_UDP;
    else if (a === 'all') protos = FT_TCP | FT_UDP;
    else throw new SwitchError('EINVAL', `offload-set: unknown argument '${a}' (expected tcp, udp, all or timeout=SECS)`);
  }
  return { protos: mode === 'on' ? protos : 0, timeoutSec };
}

/** The setting as offload-show prints it and the database keeps it. */
export function formatOffload(s: OffloadSetting): string {
  if (s.protos === 0) return 'off';
  const p = s.protos === FT_TCP ? 'tcp' : s.protos === FT_UDP ? 'udp' : 'all';
  return `on ${p} timeout=${s.timeoutSec}`;
}

export class OffloadCommands {
  private readonly settings = new Map<string, OffloadSetting>();

  constructor(private readonly dpif: () => Dpif) {}

  get(bridge: string): OffloadSetting {
    return this.settings.get(bridge) ?? OFF;
  }

  set(br: Bridge, args: string[]): { lines: string[] } {
    const s = parseOffload(args);
    if (s.protos === 0) this.settings.delete(br.name);
    else this.settings.set(br.name, s);
    for (const p of br.sortedPorts()) this.applyPort(br.name, p.dpPort);
    return { lines: [] };
  }

  /** A port joined the bridge (or the setting changed): give its datapath port the bridge's setting. */
  applyPort(bridge: string, dpPort: number): void {
    const s = this.get(bridge);
    this.dpif().setOffload(dpPort, s.protos, s.timeoutSec);
  }

  forget(bridge: string): void {
    this.settings.delete(bridge);
  }

  show(bridge: string): { offload: string; lines: string[] } {
    const t = formatOffload(this.get(bridge));
    return { offload: t, lines: [`${bridge}: offload ${t}`] };
  }

  /** Flowtable entries whose in_port belongs to the bridge (all bridges without one). */
  dump(bridges: Bridge[]): { lines: string[] } {
    // Lines of the PMD threads name ports by datapath number, the main thread's by name.
    const names = new Set(bridges.flatMap((b) => b.sortedPorts().flatMap((p) => [p.name, String(p.dpPort)])));
    const lines = this.dpif().offloaded().filter((l) => {
      const m = /^in_port\(([^)]+)\)/.exec(l);
      return m !== null && names.has(m[1]);
    });
    return { lines };
  }
}
