#!/usr/bin/env python3
# Packet-in round trips through a switch with real ports, for
# bench/packet-in.bench.ts: frames of an experimental ethertype (0x88b5) sent
# from NS1's interface into the switch's port 1 miss every table, go up to the
# controller as packet-ins and come back as packet-outs that flood them; one
# round trip is one such frame received on NS2's interface (port 2). Frames
# go in windows of WINDOW (the next window once the last one is through, or
# after a 0.5 s timeout counts the rest as lost), so that neither switch's
# packet-in queue overflows. Prints one JSON line: the rate of each round and
# the frames lost.
#
#   pin-wire.py NS1 IF1 NS2 IF2 WINDOW SECONDS ROUNDS

import ctypes, json, os, socket, struct, sys, time

CLONE_NEWNET = 0x40000000
ETH_P = 0x88b5
libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f'setns {path}')
    finally:
        os.close(fd)


def packet_socket(ns, ifname):
    """An AF_PACKET socket on IFNAME inside namespace NS (sockets keep their namespace)."""
    home = os.open('/proc/self/ns/net', os.O_RDONLY)
    setns(f'/var/run/netns/{ns}')
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P))
        s.bind((ifname, ETH_P))
        return s
    finally:
        if libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), 'setns back')
        os.close(home)


def main():
    ns1, if1, ns2, if2 = sys.argv[1:5]
    window, seconds, rounds = int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
    tx = packet_socket(ns1, if1)
    rx = packet_socket(ns2, if2)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    head = bytes.fromhex('020000000002' '020000000001') + struct.pack('!H', ETH_P)
    frames = [head + struct.pack('!I', i) + bytes(42) for i in range(window)]

    def one_window():
        for f in frames:
            tx.send(f)
        got = 0
        rx.settimeout(0.5)
        try:
            while got < window:
                if len(rx.recv(2048)) >= 14:
                    got += 1
        except socket.timeout:
            pass
        return got

    # Warm up until a whole window comes back (the controller has connected), at most 30 s.
    deadline = time.monotonic() + 30
    while one_window() < window:
        if time.monotonic() > deadline:
            print(json.dumps({'error': 'no packet-outs came back within 30 s'}))
            return 1
    rates, lost = [], 0
    for _ in range(rounds):
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            got = one_window()
            n += got
            lost += window - got
        rates.append(n / (time.monotonic() - t0))
    print(json.dumps({'rates': rates, 'lost': lost}))
    return 0


sys.exit(main())
