// The only place swd calls the C library: the handful of kernel calls Node
// has no API for (packet sockets, their rings and options, ioctl, poll,
// eventfd), through koffi. Everything above this file sees small typed
// functions taking numbers and Uint8Arrays; errors come back as NativeError
// with the errno name.
//
// Thread rules: the library is loaded lazily, once per thread (each worker
// thread loads its own koffi binding; file descriptors and mappings are
// process-wide and may be used from any thread). poll() with a timeout
// blocks the calling thread: only worker threads may block, the main thread
// passes timeout 0.
//
// Linux x86_64/arm64 only (struct layouts below are the 64-bit ones).

import { createRequire } from 'node:module';
import { setMemoryAdviser } from '../../conntrack/memory.ts';

type Fn = (...args: unknown[]) => number;
type PtrFn = (...args: unknown[]) => unknown;

interface Koffi {
  load(path: string): { func(sig: string): (...args: unknown[]) => unknown };
  errno(): number;
  view(ptr: unknown, len: number): ArrayBuffer;
  address(ptr: unknown): bigint;
}

interface Libc {
  socket: Fn;
  setsockopt: Fn;
  getsockopt: Fn;
  bind: Fn;
  sendto: Fn;
  mmap: PtrFn;
  munmap: Fn;
  ioctl: Fn;
  poll: Fn;
  close: Fn;
  open: Fn;
  read: Fn;
  write: Fn;
  ifNameToIndex: Fn;
  eventfd: Fn;
  recv: Fn;
  clockGettime: Fn;
  gettid: Fn;
  setpriority: Fn;
  memmove: PtrFn;
  madvise: Fn;
}

// ------------------------------------------------------------------ constants (linux/if_packet.h, if_ether.h, ...)

export const AF_PACKET = 17;
export const AF_INET = 2;
export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
/** rtnetlink multicast group of link (interface) changes. */
export const RTMGRP_LINK = 1;
export const SOCK_RAW = 3;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const ETH_P_ALL = 0x0003;
export const SOL_PACKET = 263;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;
export const SO_ERROR = 4;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_AUXDATA = 8;
export const PACKET_VERSION = 10;
export const PACKET_COPY_THRESH = 7;
export const PACKET_LOSS = 14;
export const PACKET_TX_RING = 13;
export const PACKET_VNET_HDR = 15;
export const PACKET_FANOUT = 18;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;
export const PACKET_MR_PROMISC = 1;
export const PACKET_OUTGOING = 4;
export const PACKET_FANOUT_HASH = 0;
export const TPACKET_V2 = 1;
export const TPACKET_V3 = 2;

export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_COPY = 1 << 1;
export const TP_STATUS_LOSING = 1 << 2;
export const TP_STATUS_CSUMNOTREADY = 1 << 3;
export const TP_STATUS_CSUM_VALID = 1 << 7;
export const TP_STATUS_AVAILABLE = 0;
export const TP_STATUS_SEND_REQUEST = 1;
export const TP_STATUS_SENDING = 2;
export const TP_STATUS_WRONG_FORMAT = 4;

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_LOCKED = 0x2000;

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const MSG_DONTWAIT = 0x40;

export const POLLIN = 0x001;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

export const IFNAMSIZ = 16;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCETHTOOL = 0x8946;
export const IFF_UP = 0x1;
export const IFF_PROMISC = 0x100;
export const TUNSETIFF = 0x400454ca;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;

export const EAGAIN = 11;
export const EINTR = 4;
export const ENOBUFS = 105;

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST',
  19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE', 90: 'EMSGSIZE', 92: 'ENOPROTOOPT', 93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT', 100: 'ENETDOWN', 105: 'ENOBUFS', 6: 'ENXIO',
};

/** strerror(3)'s words for the errors a port can meet, as OVS prints them in `ovs-vsctl show`. */
const ERRNO_TEXT: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable', ENOMEM: 'Cannot allocate memory', EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy', EEXIST: 'File exists', ENODEV: 'No such device', EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files', ENETDOWN: 'Network is down', ENOBUFS: 'No buffer space available',
  ENXIO: 'No such device or address', EOPNOTSUPP: 'Operation not supported', EAFNOSUPPORT: 'Address family not supported by protocol',
};

/** The text of an errno name (`ENODEV` -> `No such device`); the name itself when unknown. */
export function errnoText(code: string): string {
  return ERRNO_TEXT[code] ?? code;
}

export class NativeError extends Error {
  readonly code: string;
  constructor(readonly call: string, readonly errno: number) {
    const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${call}: ${name}`);
    this.name = 'NativeError';
    this.code = name;
  }
}

// ------------------------------------------------------------------ loading

let koffi: Koffi | null = null;
let libc: Libc | null = null;
let loadError: Error | null = null;

function lib(): Libc {
  if (libc) return libc;
  if (loadError) throw loadError;
  try {
    if (process.platform !== 'linux') throw new Error(`needs Linux (this is ${process.platform})`);
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const c = koffi.load('libc.so.6');
    const f = (sig: string) => c.func(sig) as Fn;
    libc = {
      socket: f('int socket(int domain, int type, int protocol)'),
      setsockopt: f('int setsockopt(int fd, int level, int name, void *val, uint32_t len)'),
      getsockopt: f('int getsockopt(int fd, int level, int name, void *val, void *len)'),
      bind: f('int bind(int fd, void *addr, uint32_t len)'),
      sendto: f('long sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t alen)'),
      mmap: c.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)') as PtrFn,
      munmap: f('int munmap(void *addr, size_t len)'),
      ioctl: f('int ioctl(int fd, unsigned long req, void *arg)'),
      poll: f('int poll(void *fds, unsigned long nfds, int timeout)'),
      close: f('int close(int fd)'),
      open: f('int open(const char *path, int flags)'),
      read: f('long read(int fd, void *buf, size_t len)'),
      write: f('long write(int fd, void *buf, size_t len)'),
      ifNameToIndex: f('unsigned int if_nametoindex(const char *name)'),
      eventfd: f('int eventfd(unsigned int initval, int flags)'),
      recv: f('long recv(int fd, void *buf, size_t len, int flags)'),
      clockGettime: f('int clock_gettime(int clk, void *ts)'),
      gettid: f('int gettid()'),
      setpriority: f('int setpriority(int which, unsigned int who, int prio)'),
      // memmove(b, b, 0) returns b: the address of a buffer's memory.
      memmove: c.func('void *memmove(void *dst, void *src, size_t n)') as PtrFn,
      madvise: f('int madvise(uintptr_t addr, size_t len, int advice)'),
    };
    return libc;
  } catch (e) {
    loadError = new Error(`native access unavailable: ${(e as Error).message}`);
    throw loadError;
  }
}

/** Whether the native calls can be used here (Linux, koffi loads). */
export function nativeAvailable(): boolean {
  try {
    lib();
    return true;
  } catch {
    return false;
  }
}

function errno(): number {
  return koffi!.errno();
}

function check(call: string, r: number): number {
  if (r < 0) throw new NativeError(call, errno());
  return r;
}

// ------------------------------------------------------------------ calls

export function ifNameToIndex(name: string): number {
  const r = lib().ifNameToIndex(name);
  if (r === 0) throw new NativeError(`if_nametoindex(${name})`, errno());
  return r;
}

export function socket(domain: number, type: number, protocol: number): number {
  return check('socket', lib().socket(domain, type, protocol));
}

export function closeFd(fd: number): void {
  lib().close(fd);
}

export function setsockoptBytes(fd: number, level: number, name: number, val: Uint8Array, what: string): void {
  check(`setsockopt(${what})`, lib().setsockopt(fd, level, name, val, val.length));
}

export function setsockoptInt(fd: number, level: number, name: number, v: number, what: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  setsockoptBytes(fd, level, name, b, what);
}

/** getsockopt into `out`; returns the length the kernel wrote. */
export function getsockoptBytes(fd: number, level: number, name: number, out: Uint8Array, what: string): number {
  const len = new Uint32Array([out.length]);
  check(`getsockopt(${what})`, lib().getsockopt(fd, level, name, out, len));
  return len[0];
}

/** struct sockaddr_ll for bind(): family, protocol (network order), ifindex. */
export function bindPacket(fd: number, protocol: number, ifindex: number): void {
  const sa = new Uint8Array(20);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, protocol, false);
  v.setInt32(4, ifindex, true);
  check('bind', lib().bind(fd, sa, sa.length));
}

/** A shared read-write mapping of `len` bytes of fd (a packet ring). */
export interface Mapping {
  readonly ptr: unknown;
  readonly len: number;
  readonly bytes: Uint8Array;
}

export function mmapShared(fd: number, len: number): Mapping {
  const c = lib();
  const ptr = c.mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ptr === null || koffi!.address(ptr) === 0xffffffffffffffffn) throw new NativeError('mmap', errno());
  return { ptr, len, bytes: new Uint8Array(koffi!.view(ptr, len)) };
}

export function munmap(m: Mapping): void {
  lib().munmap(m.ptr, m.len);
}

/** Send one frame; returns bytes sent or -errno (EAGAIN/ENOBUFS are normal under load). */
export function send(fd: number, buf: Uint8Array | null, len: number, flags: number): number {
  const r = lib().sendto(fd, buf, len, flags, null, 0);
  return r < 0 ? -errno() : r;
}

/** Non-blocking read; returns the length, 0 when nothing is there (EAGAIN), -errno on error. */
export function readFd(fd: number, buf: Uint8Array): number {
  const r = lib().read(fd, buf, buf.length);
  if (r >= 0) return r;
  const e = errno();
  return e === EAGAIN ? 0 : -e;
}

/** write(); returns bytes written or -errno. */
export function writeFd(fd: number, buf: Uint8Array, len: number): number {
  const r = lib().write(fd, buf, len);
  return r < 0 ? -errno() : r;
}

export function openDev(path: string, flags: number): number {
  const r = lib().open(path, flags);
  if (r < 0) throw new NativeError(`open(${path})`, errno());
  return r;
}

/** ioctl with an in/out argument buffer. */
export function ioctl(fd: number, req: number, arg: Uint8Array, what: string): void {
  check(`ioctl(${what})`, lib().ioctl(fd, req, arg));
}

/** struct ifreq (40 bytes): name, then the union at offset 16. */
export function ifreq(name: string): Uint8Array {
  const b = new Uint8Array(40);
  const n = Buffer.from(name, 'latin1');
  if (n.length >= IFNAMSIZ) throw new NativeError(`ifreq(${name})`, 22);
  b.set(n, 0);
  return b;
}

/**
 * poll(2) over `pfd` (struct pollfd[n]: int fd, short events, short revents),
 * prepared by the caller. Returns the number ready, 0 on timeout (EINTR too).
 */
export function poll(pfd: Uint8Array, n: number, timeoutMs: number): number {
  const r = lib().poll(pfd, n, timeoutMs);
  if (r < 0) {
    const e = errno();
    if (e === EINTR) return 0;
    throw new NativeError('poll', e);
  }
  return r;
}

export function eventFd(): number {
  return check('eventfd', lib().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

const one = new BigUint64Array([1n]);
const oneBytes = new Uint8Array(one.buffer);
const drainBuf = new Uint8Array(8);

/** Wake whoever polls the eventfd. */
export function eventFdSignal(fd: number): void {
  lib().write(fd, oneBytes, 8);
}

export function eventFdDrain(fd: number): void {
  lib().read(fd, drainBuf, 8);
}

/** Bind a netlink socket to the multicast `groups` (struct sockaddr_nl; the kernel picks the port id). */
export function bindNetlink(fd: number, groups: number): void {
  const sa = new Uint8Array(12);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AF_NETLINK, true);
  v.setUint32(8, groups >>> 0, true);
  check('bind', lib().bind(fd, sa, sa.length));
}

/** recv(); returns the length, 0 when nothing is there (EAGAIN), -errno on error. */
export function recvFd(fd: number, buf: Uint8Array, flags: number): number {
  const r = lib().recv(fd, buf, buf.length, flags);
  if (r >= 0) return r;
  const e = errno();
  return e === EAGAIN ? 0 : -e;
}

export const CLOCK_REALTIME = 0;
const tsBuf = new BigInt64Array(2);

/**
 * CLOCK_REALTIME in microseconds (a float: sub-microsecond digits are lost
 * at today's epoch), the clock a packet ring's tp_sec/tp_nsec are in. For
 * measurements (rx-trace.ts), not the hot path.
 */
export function realtimeUs(): number {
  lib().clockGettime(CLOCK_REALTIME, tsBuf);
  return Number(tsBuf[0]) * 1e6 + Number(tsBuf[1]) / 1e3;
}

const PRIO_PROCESS = 0;

/** Set the calling thread's nice value (setpriority on its thread id). */
export function setThreadNice(nice: number): void {
  const c = lib();
  check('setpriority', c.setpriority(PRIO_PROCESS, c.gettid(), nice));
}

const MADV_HUGEPAGE = 14;
const HUGE_PAGE = 2n << 20n;

/** The address of a buffer's memory (memmove(b, b, 0) returns b); throws when native calls are unavailable. */
export function bufferAddress(buf: ArrayBufferLike): bigint {
  const c = lib();
  const view = new Uint8Array(buf);
  return koffi!.address(c.memmove(view, view, 0));
}

/**
 * Ask for transparent huge pages on `buf` (madvise MADV_HUGEPAGE on the
 * 2 MB-aligned part of its memory; the allocator's buffer does not start on
 * a page). Must be called before the memory is first touched. False when
 * the kernel or this platform refuses (THP "never", no koffi): the buffer
 * works as before either way.
 */
export function adviseHugePages(buf: ArrayBufferLike): boolean {
  try {
    const c = lib();
    const addr = bufferAddress(buf);
    const start = ((addr + HUGE_PAGE - 1n) / HUGE_PAGE) * HUGE_PAGE;
    const end = ((addr + BigInt(buf.byteLength)) / HUGE_PAGE) * HUGE_PAGE;
    if (end <= start) return false;
    return c.madvise(start, end - start, MADV_HUGEPAGE) === 0;
  } catch {
    return false;
  }
}

// Conntrack's slab and index ask for huge pages once this layer is loaded
// (conntrack/memory.ts; dpif.ts loads it before it creates the table).
setMemoryAdviser(adviseHugePages);
