// The switch's own text as ovs-ofctl prints it: `show` (features reply and
// port list) and `dump-ports` (port stats reply).

import { OFPP_LOCAL } from './actions.ts';
import type { PortStats } from './api.ts';
import type { Bridge } from './bridge.ts';

/**
 * `ovs-ofctl show`: the features reply, one entry per port, the config
 * reply; beneath a port whose device could not be opened, the error as
 * `ovs-vsctl show` words it (`errorOf`).
 */
export function formatShow(br: Bridge, errorOf: (dpPort: number) => string | null = () => null): string[] {
  const lines = [
    `OFPT_FEATURES_REPLY (xid=0x2): dpid:${br.datapathId.toString(16).padStart(16, '0')}`,
    'n_tables:254, n_buffers:0',
    'capabilities: FLOW_STATS TABLE_STATS PORT_STATS QUEUE_STATS ARP_MATCH_IP',
    'actions: output enqueue set_vlan_vid set_vlan_pcp strip_vlan mod_dl_src mod_dl_dst mod_nw_src mod_nw_dst mod_nw_tos mod_tp_src mod_tp_dst',
  ];
  for (const p of br.sortedPorts()) {
    const label = p.ofport === OFPP_LOCAL ? 'LOCAL' : String(p.ofport);
    lines.push(` ${label}(${p.name}): addr:${portMac(p.dpPort)}`);
    lines.push('     config:     0');
    lines.push(`     state:      ${p.up ? '0' : 'LINK_DOWN'}`);
    const err = errorOf(p.dpPort);
    if (err) lines.push(`     error: ${JSON.stringify(err)}`);
    lines.push('     speed: 0 Mbps now, 0 Mbps max');
  }
  lines.push('OFPT_GET_CONFIG_REPLY (xid=0x4): frags=normal miss_send_len=0');
  return lines;
}

/** `ovs-ofctl dump-ports`: the port stats reply, in the order given. */
export function formatPortStats(stats: PortStats[]): string[] {
  const lines = [`OFPST_PORT reply (xid=0x2): ${stats.length} ports`];
  for (const s of stats) {
    const label = s.ofport === OFPP_LOCAL ? 'LOCAL' : String(s.ofport).padStart(2);
    lines.push(`  port ${label}: rx pkts=${s.rxPackets}, bytes=${s.rxBytes}, drop=${s.rxDropped}, errs=${s.rxErrors}, frame=0, over=0, crc=0`);
    lines.push(`           tx pkts=${s.txPackets}, bytes=${s.txBytes}, drop=${s.txDropped}, errs=${s.txErrors}, coll=0`);
  }
  return lines;
}

/** A stable locally administered MAC per datapath port, as OVS's dummy ports have. */
function portMac(dpPort: number): string {
  return `aa:55:aa:55:00:${(dpPort & 0xff).toString(16).padStart(2, '0')}`;
}
