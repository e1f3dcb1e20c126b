// TCP connections per second from ns1 to ns2: one or several clients each
// connecting and closing in a loop (python3, a plain socket per connection),
// a server that accepts and closes (a thread per listening socket: it must
// not be what limits 8 clients). Every connection is a new conntrack entry and a full
// handshake and close through the switch, so this is the rate at which the
// path sets up connections, not moves bytes.

import type { Endpoints } from './iperf.ts';

export interface CpsResult {
  /** Connections completed (connect() returned) per second. */
  cps: number;
  /** connect() calls that failed or timed out (1 s each). */
  failed: number;
}

const SERVER_PY = `
import socket, sys, threading
def serve(s):
    while True:
        c, _ = s.accept()
        c.close()
socks = []
for _ in range(int(sys.argv[3])):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(4096)
    socks.append(s)
for s in socks[1:]:
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print('listening', flush=True)
serve(socks[0])
`;

const CLIENT_PY = `
import socket, sys, time
ip, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
n = failed = 0
start = time.monotonic(); end = start + secs
while time.monotonic() < end:
    c = socket.socket()
    c.settimeout(1.0)
    try:
        c.connect((ip, port)); n += 1
    except OSError:
        failed += 1
    c.close()
print(n / (time.monotonic() - start), failed)
`;

/** Connections per second of `clients` parallel clients together. */
export async function tcpConnectRate(ep: Endpoints, seconds: number, clients = 1): Promise<CpsResult> {
  const { topo, clientNs, serverNs, serverIp, port } = ep;
  // The client's side keeps each closed connection in TIME_WAIT: give it the
  // whole port range (a per-namespace setting, the host is untouched).
  topo.execSync(clientNs, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65535'], { check: true });
  const srv = topo.spawn(serverNs, ['python3', '-u', '-c', SERVER_PY, serverIp, String(port), String(Math.min(clients, 4))]);
  try {
    const deadline = Date.now() + 5_000;
    while (!srv.stdout.includes('listening')) {
      if (!srv.running || Date.now() > deadline) throw new Error(`connect-rate server did not start: ${srv.stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const runs = await Promise.all(
      Array.from({ length: clients }, () =>
        topo.exec(clientNs, ['python3', '-c', CLIENT_PY, serverIp, String(port), String(seconds)], { timeoutMs: (seconds + 30) * 1000 }),
      ),
    );
    let cps = 0;
    let failed = 0;
    for (const r of runs) {
      const [c, f] = r.stdout.trim().split(/\s+/).map(Number);
      if (r.code !== 0 || c === undefined || f === undefined || Number.isNaN(c)) {
        throw new Error(`connect-rate client: ${r.stderr.trim() || r.stdout.trim()}`);
      }
      cps += c;
      failed += f;
    }
    return { cps, failed };
  } finally {
    await srv.stop('SIGTERM', 1_000);
  }
}
