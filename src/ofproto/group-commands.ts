// The group commands of the control plane (ovs-ofctl add-group(s),
// mod-group, del-groups, dump-groups, dump-group-stats) on a bridge's group
// table. Each command checks everything before it changes anything (a
// groups file is applied all or nothing), and bumps the bridge's generation
// so that the switch revalidates the megaflows that went through a changed
// or deleted group.

import { SwitchError, type GroupEntry, type GroupStatsEntry } from './api.ts';
import type { Bridge } from './bridge.ts';
import { ParseError } from './errors.ts';
import { Group, OFPG_ALL, OFPG_ANY, OFPG_MAX, type GroupSpec } from './group.ts';
import { formatGroup, formatGroupStats } from './group-format.ts';
import { parseGroupFile, parseGroupText } from './group-parse.ts';
import type { OfAction } from './actions.ts';

/** What the group commands need from the switch. */
export interface GroupHost {
  bridge(name: string): Bridge;
  /** Refuse bucket actions the switch cannot run (same checks as for flows). */
  checkActions(actions: OfAction[]): void;
  revalidate(): void;
  now(): number;
}

export class GroupCommands {
  constructor(private readonly host: GroupHost) {}

  /** Switch-side checks of a group mod (OVS's ofproto group checks), located at its line. */
  private check(br: Bridge, g: GroupSpec, where: string, adding: Set<number>, command: 'add' | 'modify'): void {
    const bad = (code: string, what: string): never => {
      throw new SwitchError(code, `${where}${code}: ${what}`);
    };
    if (g.groupId > OFPG_MAX) bad('OFPGMFC_INVALID_GROUP', `group_id=${g.groupId === OFPG_ALL ? 'all' : g.groupId} is reserved`);
    if (command === 'add' && (br.groups.has(g.groupId) || adding.has(g.groupId))) bad('OFPGMFC_GROUP_EXISTS', `group ${g.groupId} already exists`);
    if (g.type === 'indirect' && g.buckets.length !== 1) bad('OFPGMFC_INVALID_GROUP', 'an indirect group needs exactly one bucket');
    const ids = new Set<number>();
    for (const b of g.buckets) {
      if (ids.has(b.bucketId)) bad('OFPGMFC_BAD_BUCKET', `duplicate bucket id ${b.bucketId}`);
      ids.add(b.bucketId);
      if ((g.type === 'all' || g.type === 'indirect') && (b.watchPort !== null || b.watchGroup !== null)) {
        bad('OFPGMFC_WATCH_UNSUPPORTED', `${g.type} groups do not watch ports or groups`);
      }
      this.host.checkActions(b.actions);
    }
  }

  private parse(text: string, file: string, command: 'add' | 'modify'): { spec: GroupSpec; where: string }[] {
    try {
      return parseGroupFile(text, file, command).map((p) => ({ spec: p.spec, where: `${file}:${p.line}: ` }));
    } catch (e) {
      if (e instanceof ParseError) throw new SwitchError('EPARSE', e.message);
      throw e;
    }
  }

  addGroups(bridge: string, text: string, file: string) {
    const br = this.host.bridge(bridge);
    const parsed = this.parse(text, file, 'add');
    const adding = new Set<number>();
    for (const { spec, where } of parsed) {
      this.check(br, spec, where, adding, 'add');
      adding.add(spec.groupId);
    }
    const now = this.host.now();
    for (const { spec } of parsed) br.putGroup(new Group(spec, now));
    this.host.revalidate();
    return { added: parsed.length };
  }

  modGroups(bridge: string, text: string, file: string, mayCreate: boolean) {
    const br = this.host.bridge(bridge);
    const parsed = this.parse(text, file, 'modify');
    for (const { spec, where } of parsed) {
      if (!mayCreate && !br.groups.has(spec.groupId)) {
        throw new SwitchError('OFPGMFC_UNKNOWN_GROUP', `${where}OFPGMFC_UNKNOWN_GROUP: group ${spec.groupId} does not exist`);
      }
      this.check(br, spec, where, new Set(), 'modify');
    }
    const now = this.host.now();
    for (const { spec } of parsed) br.putGroup(new Group(spec, now));
    this.host.revalidate();
    return { modified: parsed.length };
  }

  delGroups(bridge: string, match: string | null) {
    const br = this.host.bridge(bridge);
    const id = groupIdArg(match);
    let n = 0;
    if (id === OFPG_ALL) for (const g of [...br.groups.keys()]) n += br.deleteGroup(g) ? 1 : 0;
    else n = br.deleteGroup(id) ? 1 : 0;
    this.host.revalidate();
    return { deleted: n };
  }

  private selected(br: Bridge, groupId: number | null): Group[] {
    const all = [...br.groups.values()].sort((a, b) => a.id - b.id);
    if (groupId === null || groupId === OFPG_ALL || groupId === OFPG_ANY) return all;
    return all.filter((g) => g.id === groupId);
  }

  dumpGroups(bridge: string, groupId: number | null) {
    const br = this.host.bridge(bridge);
    const groups: GroupEntry[] = this.selected(br, groupId).map((g) => ({ groupId: g.id, type: g.spec.type, text: formatGroup(g.spec) }));
    return { groups, lines: ['NXST_GROUP_DESC reply (xid=0x2):', ...groups.map((g) => ` ${g.text}`)] };
  }

  dumpGroupStats(bridge: string, groupId: number | null) {
    const br = this.host.bridge(bridge);
    const now = this.host.now();
    const stats: GroupStatsEntry[] = this.selected(br, groupId).map((g) => {
      const refCount = br.groupRefCount(g.id);
      return {
        groupId: g.id,
        durationSec: Number(((now - g.createdMs) / 1000).toFixed(3)),
        refCount,
        packetCount: g.nPackets,
        byteCount: g.nBytes,
        buckets: g.bucketPackets.map((p, i) => ({ packetCount: p, byteCount: g.bucketBytes[i] })),
        text: formatGroupStats(g, refCount, now),
      };
    });
    return { stats, lines: ['NXST_GROUP reply (xid=0x6):', ...stats.map((s) => ` ${s.text}`)] };
  }
}

/** `group_id=N`, `N`, `all` or nothing (every group). */
export function groupIdArg(match: string | null): number {
  const t = (match ?? '').trim();
  if (t === '') return OFPG_ALL;
  try {
    const spec = parseGroupText(/^\d+$|^all$/i.test(t) ? `group_id=${t.toLowerCase()}` : t, 'delete', { file: '(command line)', line: 1, col: 0 });
    return spec.groupId;
  } catch (e) {
    if (e instanceof ParseError) throw new SwitchError('EPARSE', e.message);
    throw e;
  }
}
