// The link watcher's thread (link-watch.ts): one NETLINK_ROUTE socket bound
// to RTMGRP_LINK; sleeps in poll(2) at most POLL_MS at a time so that a stop
// request (ctl[0] = 1) is seen promptly, reads every queued message without
// blocking and posts the decoded events. It touches no port and no packet.

import { parentPort, workerData } from 'node:worker_threads';
import {
  AF_NETLINK, bindNetlink, closeFd, ENOBUFS, MSG_DONTWAIT, NETLINK_ROUTE, poll, POLLIN, recvFd, RTMGRP_LINK,
  SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW, socket,
} from '../native/native.ts';
import { parseLinkMessages, type LinkMessage } from './link-msg.ts';

const POLL_MS = 200;
const ctl = workerData.ctl as Int32Array;
const post = (m: LinkMessage) => parentPort!.postMessage(m);

let fd = -1;
try {
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  bindNetlink(fd, RTMGRP_LINK);
} catch (e) {
  if (fd >= 0) closeFd(fd);
  post({ kind: 'error', message: `rtnetlink: ${(e as Error).message}` });
  process.exit(0);
}
post({ kind: 'ready' });

const buf = new Uint8Array(64 * 1024);
const pfd = new Uint8Array(8);
const pv = new DataView(pfd.buffer);
pv.setInt32(0, fd, true);
pv.setInt16(4, POLLIN, true);
while (Atomics.load(ctl, 0) === 0) {
  pv.setInt16(6, 0, true);
  if (poll(pfd, 1, POLL_MS) <= 0) continue;
  for (;;) {
    const n = recvFd(fd, buf, MSG_DONTWAIT);
    if (n === 0) break;
    if (n < 0) {
      if (-n === ENOBUFS) post({ kind: 'resync' });
      else break;
      continue;
    }
    for (const ev of parseLinkMessages(buf, n)) post(ev);
  }
}
closeFd(fd);
