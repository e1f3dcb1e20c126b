// The JSON-RPC methods of the OpenFlow connection manager (of-listener.ts):
// set-controller / get-controller / del-controller and set-fail-mode /
// get-fail-mode / del-fail-mode as ovs-vsctl has them, and `show`, which
// adds each bridge's controllers (after the ports, in the style of the port
// lines) and its fail mode to the switch's own `show`. docs/rpc.md lists them.

import { SwitchError } from '../ofproto/api.ts';
import type { MethodSpec } from './methods.ts';
import type { ControllerStatus } from './of-controller.ts';
import { FAIL_MODES, type FailMode } from './of-failmode.ts';
import type { OpenFlowListeners } from './of-listener.ts';

/** Inactivity probes below this are refused (OVS rounds anything below 5 s up to 5 s; swd takes short ones, for tests). */
export const MIN_PROBE_MS = 100;
export const MIN_BACKOFF_MS = 1000;

function fmtVersion(v: number | null): string {
  return v === null ? '' : `OpenFlow1${v - 1}`;
}

/** One controller as `show` prints it: a head line like a port's, then its state, indented. */
export function controllerLines(s: ControllerStatus): string[] {
  const lines = [` controller(${s.target}): ${s.state}`];
  lines.push(`     is_connected: ${s.isConnected}${s.mode === 'passive' && s.connections > 1 ? ` (${s.connections} connections)` : ''}`);
  if (s.isConnected) {
    lines.push(`     role:         ${s.role ?? 'other'}`);
    if (s.version !== null) lines.push(`     version:      ${fmtVersion(s.version)}`);
    if (s.secSinceConnect !== null) lines.push(`     connected:    ${s.secSinceConnect} s ago`);
  } else if (s.mode === 'active') {
    lines.push(`     attempts:     ${s.attempts}, backoff ${s.backoffSec} s`);
    if (s.secSinceDisconnect !== null) lines.push(`     disconnected: ${s.secSinceDisconnect} s ago`);
  }
  if (s.lastError && !s.isConnected) lines.push(`     last_error:   ${JSON.stringify(s.lastError)}`);
  if (s.packetIns || s.packetInsDropped) lines.push(`     packet_ins:   ${s.packetIns} sent, ${s.packetInsDropped} dropped`);
  return lines;
}

function failModeLine(mode: FailMode | null, failedOpen: boolean, n: number): string[] {
  if (mode === null && n === 0) return [];
  return [` fail_mode: ${mode ?? 'standalone (default)'}${failedOpen ? ', failed open (NORMAL)' : ''}`];
}

export function openflowMethods(of: () => OpenFlowListeners | null): Record<string, MethodSpec> {
  const get = () => {
    const o = of();
    if (!o) throw new SwitchError('ENOTSUP', 'this switch has no OpenFlow connections');
    return o;
  };
  const ms = (v: number | undefined, name: string, min: number, zeroOk: boolean) => {
    if (v === undefined) return undefined;
    if (!(zeroOk && v === 0) && v < min) throw new SwitchError('EINVAL', `${name} must be ${zeroOk ? '0 (off) or ' : ''}at least ${min} ms`);
    return v;
  };
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SwitchError) throw e;
      throw new SwitchError((e as { code?: string }).code ?? 'EINVAL', (e as Error).message);
    }
  };
  return {
    'set-controller': {
      mutating: true,
      call: (_sw, p) => {
        const bridge = p.str('bridge');
        const targets = p.strList('targets');
        if (targets.length === 0) throw new SwitchError('EINVAL', 'set-controller needs at least one target (del-controller removes them)');
        const inactivityProbeMs = ms(p.optInt('inactivityProbeMs', 0, 2 ** 31 - 1), 'the inactivity probe', MIN_PROBE_MS, true);
        const maxBackoffMs = ms(p.optInt('maxBackoffMs', 0, 2 ** 31 - 1), 'max-backoff', MIN_BACKOFF_MS, false);
        wrap(() => get().setControllers(bridge, targets.map((target) => ({ target, inactivityProbeMs, maxBackoffMs }))));
        return {};
      },
    },
    'get-controller': {
      call: (_sw, p) => {
        const o = get(), bridge = p.str('bridge');
        const controllers = o.controllerStatus(bridge);
        return { controllers, lines: controllers.map((c) => c.target) };
      },
    },
    'del-controller': {
      mutating: true,
      call: (_sw, p) => (get().setControllers(p.str('bridge'), []), {}),
    },
    'set-fail-mode': {
      mutating: true,
      call: (_sw, p) => {
        const mode = p.str('mode');
        if (!FAIL_MODES.includes(mode as FailMode)) throw new SwitchError('EINVAL', `fail mode must be secure or standalone, not '${mode}'`);
        get().setFailMode(p.str('bridge'), mode as FailMode);
        return {};
      },
    },
    'get-fail-mode': {
      call: (_sw, p) => {
        const mode = get().getFailMode(p.str('bridge'));
        return { failMode: mode, lines: mode ? [mode] : [] };
      },
    },
    'del-fail-mode': {
      mutating: true,
      call: (_sw, p) => (get().setFailMode(p.str('bridge'), null), {}),
    },
    show: {
      call: async (sw, p) => {
        const bridge = p.str('bridge');
        const r = (await sw.show(bridge)) as { lines: string[] } & Record<string, unknown>;
        const o = of();
        if (!o) return r;
        const controllers = o.controllerStatus(bridge);
        const failMode = o.getFailMode(bridge), failedOpen = o.failOpenActive(bridge);
        const extra = [...controllers.flatMap(controllerLines), ...failModeLine(failMode, failedOpen, controllers.length)];
        const lines = [...r.lines];
        // After the ports, before the config reply that closes ovs-ofctl's show.
        const at = lines.findIndex((l) => l.startsWith('OFPT_GET_CONFIG_REPLY'));
        lines.splice(at < 0 ? lines.length : at, 0, ...extra);
        return { ...r, controllers, failMode, failedOpen, lines };
      },
    },
  };
}
