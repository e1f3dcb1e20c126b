// The dpctl/ipf-* commands (ovs-vswitchd(8)) as the switch serves them:
// OVS's argument checks and message texts, over the fragment module's
// shared configuration (src/conntrack/ipf-shared.ts); -m lists every
// thread's fragment lists (the shared list directory).

import type { Conntrack } from '../conntrack/conntrack.ts';
import { formatIpfStatus } from '../conntrack/ipf-shared.ts';
import { SwitchError } from './api.ts';

function family(s: string, quoted: boolean): boolean {
  if (s !== 'v4' && s !== 'v6') {
    throw new SwitchError('EINVAL', quoted ? "parameter missing: 'v4' for IPv4 or 'v6' for IPv6" : 'parameter missing: v4 for IPv4 or v6 for IPv6');
  }
  return s === 'v6';
}

const u32 = (s: string) => (/^\d+$/.test(s) && Number(s) <= 0xffffffff ? Number(s) : null);

export class IpfCommands {
  constructor(private readonly ct: Conntrack) {}

  setEnabled(fam: string, on: boolean) {
    this.ct.ipf.shared.setEnabled(family(fam, true), on);
    return { lines: [`${on ? 'enabling' : 'disabling'} fragmentation reassembly successful`] };
  }

  setMinFrag(fam: string, size: string) {
    const v6 = family(fam, false);
    const n = u32(size);
    if (n === null) throw new SwitchError('EINVAL', 'parameter missing for minimum fragment size');
    if (!this.ct.ipf.shared.setMinFrag(v6, n)) throw new SwitchError('EPERM', 'requested minimum fragment size too small; see documentation');
    return { lines: ['setting minimum fragment size successful'] };
  }

  setMaxNfrags(nfrags: string) {
    const n = u32(nfrags);
    if (n === null) throw new SwitchError('EINVAL', 'parameter missing for maximum fragments');
    if (!this.ct.ipf.shared.setMaxNfrags(n)) throw new SwitchError('EPERM', 'setting maximum fragments failed');
    return { lines: ['setting maximum fragments successful'] };
  }

  getStatus(verbose: boolean) {
    const status = this.ct.ipf.shared.status();
    const lists = verbose ? this.ct.ipf.dumpLists() : null;
    const text = formatIpfStatus(status, lists);
    return { ...status, lists: lists ?? undefined, lines: text.replace(/\n$/, '').split('\n') };
  }
}
