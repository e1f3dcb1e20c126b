// Meter text as ovs-ofctl add-meter/mod-meter/del-meters/dump-meters/
// meter-stats take it (ovs-ofctl(8) "Meter Syntax") -> MeterConfig, with
// OVS's messages (lib/ofp-meter.c's parser): words separated by commas and
// white space; `meter=ID`, the flags `kbps`, `pktps`, `burst`, `stats`, and
// after the first `band...=` the bands, each starting with `type=`.
//
//   meter=1 kbps burst stats bands=type=drop rate=1000 burst_size=100

import { fail, type TextPos } from './errors.ts';
import {
  OFPM13_ALL, OFPM13_CONTROLLER, OFPM13_MAX, OFPM13_SLOWPATH, OFPMBT13_DROP, OFPMBT13_DSCP_REMARK, OFPMF13_BURST,
  OFPMF13_KBPS, OFPMF13_PKTPS, OFPMF13_STATS, type MeterBand, type MeterConfig,
} from './meter.ts';

/** What the text is for: a meter to add or modify (flags and bands), or only a meter id (delete, dump, stats). */
export type MeterTextUse = 'add' | 'modify' | 'delete' | 'select';

/** strtok: the next word of `s` from `i` not made of `delims`, with its offset. */
class Words {
  i = 0;
  constructor(readonly s: string, readonly base: number) {}
  next(delims: string): { w: string; at: number } | null {
    const s = this.s;
    while (this.i < s.length && delims.includes(s[this.i])) this.i++;
    if (this.i >= s.length) return null;
    const at = this.i;
    while (this.i < s.length && !delims.includes(s[this.i])) this.i++;
    const w = s.slice(at, this.i);
    if (this.i < s.length) this.i++; // strtok consumes the delimiter that ended the word
    return { w, at: this.base + at };
  }
}

const NAME_DELIMS = '=, \t\r\n';
const VALUE_DELIMS = ', \t\r\n';

/** OVS's str_to_u32: decimal, 0x hex or 0 octal, the whole word. */
function u32(v: string, pos: TextPos, at: number): number {
  const ok = /^0x[0-9a-f]+$/i.test(v) || /^0[0-7]*$/.test(v) || /^[1-9]\d*$/.test(v);
  const n = ok ? Number(/^0[0-7]+$/.test(v) ? parseInt(v, 8) : BigInt(v)) : NaN;
  if (!ok || n > 0xffffffff) fail(pos, at, 'EVALUE', `invalid numeric format ${v}`);
  return n;
}

function meterId(v: string, pos: TextPos, at: number): number {
  if (v === 'all') return OFPM13_ALL;
  if (v === 'controller') return OFPM13_CONTROLLER;
  if (v === 'slowpath') return OFPM13_SLOWPATH;
  const id = u32(v, pos, at);
  if (id > OFPM13_MAX || id === 0) fail(pos, at, 'EVALUE', 'invalid value for meter');
  return id;
}

/**
 * Parse one meter. `use` says which parts it must have: 'add'/'modify' a
 * meter id, a rate unit and bands; 'delete'/'select' only a meter id.
 */
export function parseMeterText(text: string, use: MeterTextUse, pos: TextPos): MeterConfig {
  const full = use === 'add' || use === 'modify';
  const cfg: MeterConfig = { meterId: 0, flags: 0, bands: [] };
  let head = text;
  let bandText = '';
  let bandAt = 0;
  if (full) {
    const b = text.indexOf('band');
    const eq = b < 0 ? -1 : text.indexOf('=', b + 1);
    if (eq < 0) fail(pos, 0, 'EMETER', 'must specify bands');
    head = text.slice(0, b);
    bandText = text.slice(eq + 1);
    bandAt = eq + 1;
  }
  const words = new Words(head, 0);
  for (let t = words.next(NAME_DELIMS); t; t = words.next(NAME_DELIMS)) {
    const flag = full ? ({ kbps: OFPMF13_KBPS, pktps: OFPMF13_PKTPS, burst: OFPMF13_BURST, stats: OFPMF13_STATS } as Record<string, number>)[t.w] : undefined;
    if (flag !== undefined) {
      cfg.flags |= flag;
      continue;
    }
    const v = words.next(VALUE_DELIMS);
    if (!v) fail(pos, t.at, 'EMETER', `field ${t.w} missing value`);
    if (t.w !== 'meter') fail(pos, t.at, 'EMETER', `unknown keyword ${t.w}`);
    cfg.meterId = meterId(v.w, pos, v.at);
  }
  if (!cfg.meterId) fail(pos, 0, 'EMETER', "must specify 'meter'");
  if (!full) return cfg;
  if (!cfg.flags) fail(pos, 0, 'EMETER', "meter must specify either 'kbps' or 'pktps'");

  const bw = new Words(bandText, bandAt);
  let band: MeterBand | null = null;
  for (let t = bw.next(NAME_DELIMS); t; t = bw.next(NAME_DELIMS)) {
    const v = bw.next(VALUE_DELIMS);
    if (!v) fail(pos, t.at, 'EMETER', `field ${t.w} missing value`);
    if (t.w === 'type') {
      const type = v.w === 'drop' ? OFPMBT13_DROP : v.w === 'dscp_remark' ? OFPMBT13_DSCP_REMARK : 0;
      if (!type) fail(pos, v.at, 'EMETER', `field type unknown value ${v.w}`);
      band = { type, rate: 0, burstSize: 0, precLevel: 0 };
      cfg.bands.push(band);
    } else if (band === null) {
      fail(pos, t.at, 'EMETER', "band must start with the 'type' keyword");
    } else if (t.w === 'rate') band.rate = u32(v.w, pos, v.at);
    else if (t.w === 'burst_size') band.burstSize = u32(v.w, pos, v.at);
    else if (t.w === 'prec_level') {
      const n = /^\d+$/.test(v.w) ? Number(v.w) : NaN;
      if (!(n <= 255)) fail(pos, v.at, 'EVALUE', `invalid prec_level "${v.w}"`);
      band.precLevel = n;
    } else fail(pos, t.at, 'EMETER', `unknown keyword ${t.w}`);
  }
  if (cfg.bands.length === 0) fail(pos, bandAt, 'EMETER', 'meter must have bands');
  for (const b of cfg.bands) {
    if (b.type === OFPMBT13_DSCP_REMARK && !b.precLevel) fail(pos, bandAt, 'EMETER', "'dscp_remark' band must have 'prec_level'");
    if (b.type !== OFPMBT13_DSCP_REMARK && b.precLevel) fail(pos, bandAt, 'EMETER', "Only 'dscp_remark' band may have 'prec_level'");
    if (!b.rate) fail(pos, bandAt, 'EMETER', "band must have 'rate'");
    if (cfg.flags & OFPMF13_BURST) {
      if (!b.burstSize) fail(pos, bandAt, 'EMETER', "band must have 'burst_size' when 'burst' flag is set");
    } else if (b.burstSize) fail(pos, bandAt, 'EMETER', "band may have 'burst_size' only when 'burst' flag is set");
  }
  return cfg;
}

/** The meters of a file (add-meters style: one a line, `#` comments and blank lines skipped). */
export function parseMeterFile(text: string, file: string, use: MeterTextUse): { config: MeterConfig; line: number }[] {
  const out: { config: MeterConfig; line: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const lead = line.length - line.trimStart().length;
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    out.push({ config: parseMeterText(t, use, { file, line: i + 1, col: lead }), line: i + 1 });
  });
  return out;
}
