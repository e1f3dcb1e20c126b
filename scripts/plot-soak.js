#!/usr/bin/env node
// Plot a soak run's samples (soak-rss.csv: seconds,rss_kb,connections,megaflows,slab_records)
// as an SVG: resident memory in MiB on the left axis, connections and slab records
// on the right one. Usage: node scripts/plot-soak.js soak-rss.csv > soak-rss.svg
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) { process.stderr.write('usage: plot-soak.js CSV > SVG\n'); process.exit(2); }
const rows = readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
if (rows.length < 2) { process.stderr.write(`${file}: fewer than two samples\n`); process.exit(1); }

const W = 800, H = 360, L = 70, R = 80, T = 30, B = 50;
const t = rows.map((r) => r[0] / 60);
const rss = rows.map((r) => r[1] / 1024);
const conns = rows.map((r) => r[2]);
const slab = rows.map((r) => r[4] ?? 0);
const tMax = Math.max(...t);
const rssMax = Math.ceil(Math.max(...rss) * 1.2 / 50) * 50;
const rightMax = Math.ceil(Math.max(...conns, ...slab) * 1.2 / 1000) * 1000 || 1000;
const x = (v) => L + (v / tMax) * (W - L - R);
const yl = (v) => H - B - (v / rssMax) * (H - T - B);
const yr = (v) => H - B - (v / rightMax) * (H - T - B);
const path = (ys, f) => ys.map((v, i) => `${i ? 'L' : 'M'}${x(t[i]).toFixed(1)},${f(v).toFixed(1)}`).join(' ');

const out = [];
out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">swd soak: resident memory, connections and slab records over time</text>`);
for (let i = 0; i <= 5; i++) {
  const v = (rssMax / 5) * i, y = yl(v);
  out.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${L - 6}" y="${y + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
  out.push(`<text x="${W - R + 6}" y="${y + 4}">${((rightMax / 5) * i).toFixed(0)}</text>`);
}
for (let m = 0; m <= tMax; m += Math.max(1, Math.round(tMax / 10))) {
  out.push(`<text x="${x(m)}" y="${H - B + 16}" text-anchor="middle">${m}</text>`);
}
out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">minutes</text>`);
out.push(`<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">RSS (MiB)</text>`);
out.push(`<path d="${path(rss, yl)}" fill="none" stroke="#c00" stroke-width="2"/>`);
out.push(`<path d="${path(conns, yr)}" fill="none" stroke="#06c" stroke-width="1"/>`);
out.push(`<path d="${path(slab, yr)}" fill="none" stroke="#090" stroke-width="1" stroke-dasharray="4 3"/>`);
out.push(`<text x="${L + 10}" y="${T + 14}" fill="#c00">RSS (MiB, left)</text>`);
out.push(`<text x="${L + 130}" y="${T + 14}" fill="#06c">connections (right)</text>`);
out.push(`<text x="${L + 270}" y="${T + 14}" fill="#090">slab records ever used (right)</text>`);
out.push('</svg>');
process.stdout.write(out.join('\n') + '\n');
