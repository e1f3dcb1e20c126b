// ICMP echo round trips from one namespace to another, spaced out so that
// each request finds the path idle (a switch thread that went to sleep must
// wake for it: that is the latency a request/response protocol sees), with
// percentiles. python3 raw sockets: no ping binary needed, and microsecond
// resolution.

import type { Topology } from '../../test/netns/topology.ts';

export interface RttResult {
  /** Median and 99th percentile round trip, ms (NaN when no reply came). */
  p50Ms: number;
  p99Ms: number;
  sent: number;
  received: number;
}

const PING_PY = `
import os, socket, struct, sys, time
dst, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = (os.getpid() * 7) & 0xffff
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
rtts = []
body = b'swd-bench-rtt'
for seq in range(1, count + 1):
    hdr = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
    pkt = struct.pack('!BBHHH', 8, 0, csum(hdr + body), ident, seq) + body
    sent = time.perf_counter()
    s.sendto(pkt, (dst, 0))
    deadline = sent + 1.0
    while True:
        left = deadline - time.perf_counter()
        if left <= 0: break
        s.settimeout(left)
        try: data, _ = s.recvfrom(2048)
        except socket.timeout: break
        ihl = (data[0] & 15) * 4
        t, _c, _s, i, q = struct.unpack('!BBHHH', data[ihl:ihl + 8])
        if t == 0 and i == ident and q == seq:
            rtts.append('%.4f' % ((time.perf_counter() - sent) * 1000))
            break
    time.sleep(gap)
print(count, *rtts)
`;

/** `count` echo requests from `ns` to `dst`, one every `gapMs` after the previous reply (or its 1 s timeout). */
export async function pingRtt(topo: Topology, ns: string, dst: string, count: number, gapMs: number): Promise<RttResult> {
  const r = await topo.exec(ns, ['python3', '-c', PING_PY, dst, String(count), String(gapMs / 1000)], {
    timeoutMs: count * (gapMs + 1000) + 10_000,
  });
  if (r.code !== 0) throw new Error(`ping: ${r.stderr.trim()}`);
  const [sent, ...rtt] = r.stdout.trim().split(/\s+/).map(Number);
  const s = rtt.sort((a, b) => a - b);
  const pct = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN);
  return { p50Ms: pct(50), p99Ms: pct(99), sent: sent ?? count, received: s.length };
}
