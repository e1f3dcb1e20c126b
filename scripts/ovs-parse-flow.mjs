// What Debian's `ovs-ofctl parse-flows` says of one flow line: its output, or
// "error: CODE" (a decode error) / "error: MESSAGE" (a refusal, without the
// file and line prefix). `file` is a scratch file the line is written to.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export function ovsParseFlow(file, flow) {
  writeFileSync(file, flow + '\n');
  const r = spawnSync('ovs-ofctl', ['parse-flows', file], { encoding: 'utf8' });
  const decode = /\*\*\*decode error: ([A-Z0-9_]+)\*\*\*/.exec(r.stdout);
  if (r.status === 0 && !decode) return r.stdout;
  if (decode) return `error: ${decode[1]}`;
  const msg = r.stderr.split('\n').find((x) => x.startsWith('ovs-ofctl: ')) ?? r.stderr.trim();
  return `error: ${msg.replace(/^ovs-ofctl: /, '').replace(`${file}:1: `, '')}`;
}
