// The floor under swd's round trip: a forwarder between two interfaces that
// uses swd's own native calls but no pipeline at all (no parse, no lookup,
// no conntrack): whatever comes in on one interface goes out on the other.
// Its round trip is what the kernel interface plus Node plus koffi cost;
// swd's minus this one is what swd's datapath and PMD loop add. Modes:
//
//   ring       swd's system port as it is (SystemBackend): TPACKET_V2 RX
//              ring, TX ring and one send() kick per batch, poll(2)
//   ring-send  the RX ring, but each frame sent with its own sendto() on a
//              plain packet socket (no TX ring)
//   sock       OVS netdev-linux's way: plain AF_PACKET sockets, recv() each
//              packet until EAGAIN, sendto() each, poll(2)
//
// Usage (root): node --import tsx bench/e2e/floor-fwd.ts MODE IFACE1 IFACE2 [worker]
// "worker" runs the loop in a worker thread, as swd's PMD threads do.
// Runs until SIGTERM.

import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { BATCH_MAX, PacketBatch } from '../../src/packet/batch.ts';
import {
  AF_PACKET, bindPacket, ETH_P_ALL, ifNameToIndex, PACKET_ADD_MEMBERSHIP, PACKET_IGNORE_OUTGOING, PACKET_MR_PROMISC,
  poll, POLLIN, recvFd, send, setsockoptBytes, setsockoptInt, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, socket, SOL_PACKET,
} from '../../src/datapath/native/native.ts';
import { SystemBackend } from '../../src/datapath/ports/system.ts';
import type { PortCounters } from '../../src/datapath/port.ts';

type Mode = 'ring' | 'ring-send' | 'sock';

function rawSocket(ifname: string): number {
  const ifindex = ifNameToIndex(ifname);
  const fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockoptInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
  bindPacket(fd, ETH_P_ALL, ifindex);
  const mreq = new Uint8Array(16);
  const mv = new DataView(mreq.buffer);
  mv.setInt32(0, ifindex, true);
  mv.setUint16(4, PACKET_MR_PROMISC, true);
  setsockoptBytes(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 'PACKET_ADD_MEMBERSHIP');
  return fd;
}

function counters(): PortCounters {
  return { rxPackets: 0, rxBytes: 0, rxDropped: 0, rxErrors: 0, txPackets: 0, txBytes: 0, txDropped: 0, txErrors: 0 };
}

function pollSet(fds: number[]): Uint8Array {
  const pfd = new Uint8Array(fds.length * 8);
  const v = new DataView(pfd.buffer);
  fds.forEach((fd, i) => {
    v.setInt32(i * 8, fd, true);
    v.setInt16(i * 8 + 4, POLLIN, true);
  });
  return pfd;
}

function runRing(if1: string, if2: string, plainSend: boolean): never {
  const ports = [new SystemBackend(if1, { rx: true }), new SystemBackend(if2, { rx: true })];
  const out = plainSend ? [rawSocket(if2), rawSocket(if1)] : [];
  const stats = [counters(), counters()];
  const pfd = pollSet(ports.map((p) => p.rxFd));
  const b = new PacketBatch();
  for (;;) {
    let moved = 0;
    for (let i = 0; i < 2; i++) {
      b.clear();
      const n = ports[i]!.receive(b, BATCH_MAX, stats[i]!);
      if (n === 0) continue;
      moved += n;
      const o = ports[1 - i]!;
      for (let k = 0; k < n; k++) {
        if (plainSend) send(out[i]!, b.data[k]!.subarray(b.start[k]!, b.start[k]! + b.len[k]!), b.len[k]!, 0);
        else o.transmit(b.data[k]!, b.start[k]!, b.len[k]!, 0, 0);
      }
      if (!plainSend) o.flush();
    }
    if (moved === 0) poll(pfd, 2, 100);
  }
}

function runSock(if1: string, if2: string): never {
  const fds = [rawSocket(if1), rawSocket(if2)];
  const pfd = pollSet(fds);
  const buf = new Uint8Array(65536);
  for (;;) {
    let moved = 0;
    for (let i = 0; i < 2; i++) {
      for (let k = 0; k < BATCH_MAX; k++) {
        const n = recvFd(fds[i]!, buf, 0);
        if (n <= 0) break;
        send(fds[1 - i]!, buf, n, 0);
        moved++;
      }
    }
    if (moved === 0) poll(pfd, 2, 100);
  }
}

function run(mode: Mode, if1: string, if2: string): never {
  if (mode === 'sock') return runSock(if1, if2);
  return runRing(if1, if2, mode === 'ring-send');
}

if (isMainThread) {
  const [mode, if1, if2, where] = process.argv.slice(2) as [Mode, string, string, string | undefined];
  if (!['ring', 'ring-send', 'sock'].includes(mode) || !if1 || !if2) {
    console.error('usage: floor-fwd.ts ring|ring-send|sock IFACE1 IFACE2 [worker]');
    process.exit(2);
  }
  if (where === 'worker') {
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    new Worker(boot, { eval: true, workerData: { mode, if1, if2 } });
  } else run(mode, if1, if2);
} else {
  const d = workerData as { mode: Mode; if1: string; if2: string };
  run(d.mode, d.if1, d.if2);
}
