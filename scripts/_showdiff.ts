import { agrees, loadCorpus, loadKnown, swdAnswer } from '../test/ofproto/ovs-corpus.ts';
const filter = process.argv[2] ?? '';
for (const c of loadCorpus()) {
  const swd = swdAnswer(c.flow);
  if (agrees(c.ovs, swd)) continue;
  const txt = `${c.src}: ${c.flow}\n  ovs: ${c.ovs.trim().replace(/\n/g, '\n       ')}\n  swd: ${swd.trim().replace(/\n/g, '\n       ')}\n`;
  if (txt.includes(filter)) console.log(txt);
}
