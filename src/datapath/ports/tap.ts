// A tap port: a TAP device swd creates through /dev/net/tun (IFF_TAP |
// IFF_NO_PI: plain Ethernet frames, no packet-information prefix), brings up,
// and removes with the port (the device is not persistent: it goes away when
// its descriptor closes, however swd ends).
//
// No offloads are turned on (no TUNSETOFFLOAD, no vnet header), so the kernel
// completes checksums and segments before handing frames to the device, and
// frames from swd are cut to the segment size before they are written.
//
// The descriptor is process-wide: the thread that creates the device owns it
// and closes it; a PMD thread reading it gets a TapBackend on the same fd
// (`TapBackend.attach`) whose close() leaves it open. Reads and writes of one
// frame are atomic in the kernel, so several threads may write.

import { HEADROOM, type PacketBatch } from '../../packet/batch.ts';
import {
  AF_INET, closeFd, ifNameToIndex, ifreq, ioctl, IFF_NO_PI, IFF_TAP, IFF_UP, NativeError, O_CLOEXEC, O_NONBLOCK, O_RDWR, openDev,
  readFd, SIOCGIFFLAGS, SIOCSIFFLAGS, SOCK_CLOEXEC, SOCK_DGRAM, socket, TUNSETIFF, writeFd,
} from '../native/native.ts';
import { PortError, type PortCounters, type RxBackend } from '../port.ts';
import { segment, type FrameSink } from './offload.ts';

const TUN_DEVICE = '/dev/net/tun';
const MAX_FRAME = 65535 + 18;

export class TapBackend implements RxBackend, FrameSink {
  readonly type = 'tap';
  private readonly scratch = new Uint8Array(65536 + 256);
  gsoDrops = 0;

  private constructor(
    readonly ifname: string,
    readonly rxFd: number,
    private readonly owner: boolean,
    /** The device's ifindex when it was made (0 in a PMD thread's view): events for another device of that name are not ours. */
    readonly ifindex: number,
  ) {}

  /** Create the TAP device `name` and bring it up. */
  static create(name: string): TapBackend {
    let fd = -1;
    let ifindex = 0;
    try {
      fd = openDev(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
      const req = ifreq(name);
      new DataView(req.buffer).setUint16(16, IFF_TAP | IFF_NO_PI, true);
      ioctl(fd, TUNSETIFF, req, 'TUNSETIFF');
      setUp(name);
      ifindex = ifNameToIndex(name);
    } catch (e) {
      if (fd >= 0) closeFd(fd);
      if (e instanceof NativeError) {
        const why = e.code === 'EBUSY' || e.code === 'EINVAL' ? ' (an interface of that name exists and is not a free tap)' : '';
        throw new PortError(e.code, `cannot create tap device '${name}': ${e.message}${why}`);
      }
      throw e;
    }
    return new TapBackend(name, fd, true, ifindex);
  }

  /** Another thread's view of an existing tap descriptor. */
  static attach(name: string, fd: number): TapBackend {
    return new TapBackend(name, fd, false, 0);
  }

  receive(b: PacketBatch, max: number, stats: PortCounters): number {
    const first = b.count;
    while (b.count < max) {
      const slot = b.data[b.count];
      const n = readFd(this.rxFd, slot.subarray(HEADROOM, HEADROOM + Math.min(MAX_FRAME, b.slotRoom())));
      if (n === 0) break;
      if (n < 0) {
        stats.rxErrors++;
        break;
      }
      if (n < 14) {
        stats.rxDropped++;
        continue;
      }
      b.commit(n);
      stats.rxPackets++;
      stats.rxBytes += n;
    }
    return b.count - first;
  }

  transmit(d: Uint8Array, start: number, len: number, _nowMs: number, gso: number): boolean {
    if (gso !== 0) {
      const n = segment(d, start, len, gso, this, this.scratch);
      if (n < 0) this.gsoDrops++;
      return n > 0;
    }
    return writeFd(this.rxFd, d.subarray(start, start + len), len) === len;
  }

  sendFrame(f: Uint8Array, len: number): void {
    writeFd(this.rxFd, f, len);
  }

  close(): void {
    if (this.owner) closeFd(this.rxFd);
  }
}

/** ifconfig NAME up. */
function setUp(name: string): void {
  const s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  try {
    const req = ifreq(name);
    ioctl(s, SIOCGIFFLAGS, req, 'SIOCGIFFLAGS');
    const v = new DataView(req.buffer);
    v.setUint16(16, v.getUint16(16, true) | IFF_UP, true);
    ioctl(s, SIOCSIFFLAGS, req, 'SIOCSIFFLAGS');
  } finally {
    closeFd(s);
  }
}
