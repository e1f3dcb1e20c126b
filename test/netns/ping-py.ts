// The ICMP echo client the netns tests and the latency benches run in a
// namespace (python3 raw sockets, so no ping binary is needed): argv dst,
// count, wait (s per reply), gap (s between pings). Hooks put Python lines
// (at the loop's indentation) around each ping: `setup` once before the
// loop, `beforeSend` just before the request goes (`seq` is its number),
// `onReply` when its reply came (`rtt_ms` its round trip); `end` after the
// loop (by default it prints the replies and the round trips in ms).

export interface PingHooks {
  setup?: string;
  beforeSend?: string;
  onReply?: string;
  end?: string;
}

const indent = (code: string | undefined, n: number) => (code ?? '').split('\n').filter((l) => l.trim() !== '').map((l) => ' '.repeat(n) + l).join('\n');

export function pingPy(h: PingHooks = {}): string {
  return `
import os, socket, struct, sys, time
dst, count, wait, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
got = 0
rtts = []
${indent(h.setup, 0)}
for seq in range(1, count + 1):
    body = b'swd-topology-ping'
    hdr = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
    pkt = struct.pack('!BBHHH', 8, 0, csum(hdr + body), ident, seq) + body
${indent(h.beforeSend, 4)}
    sent = time.perf_counter()
    s.sendto(pkt, (dst, 0))
    deadline = sent + wait
    while True:
        left = deadline - time.perf_counter()
        if left <= 0: break
        s.settimeout(left)
        try: data, _ = s.recvfrom(2048)
        except socket.timeout: break
        ihl = (data[0] & 15) * 4
        t, _c, _s, i, q = struct.unpack('!BBHHH', data[ihl:ihl + 8])
        if t == 0 and i == ident and q == seq:
            rtt_ms = (time.perf_counter() - sent) * 1000
            got += 1
            rtts.append('%.4f' % rtt_ms)
${indent(h.onReply, 12)}
            break
    if gap: time.sleep(gap)
${indent(h.end ?? 'print(got, *rtts)', 0)}
`;
}
