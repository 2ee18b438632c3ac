#!/usr/bin/env python3
"""Samples the accept queue of a listening TCP port (connections the kernel has completed but the
server has not accept()ed yet: rx_queue of the LISTEN line in /proc/net/tcp) every INTERVAL s
until killed (SIGTERM/SIGINT), then prints one line: the longest queue seen and for how long the
queue was not empty. A client's first request on such a connection waits there, with its clock
(wrk's) already running. Used by bench/load/predict.sh and bench/load/me.sh (TIMELINE=1).

  acceptq.py PORT [INTERVAL]      (default 0.01 s)
"""
import signal
import sys
import time

port = int(sys.argv[1])
interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
hexport = f"{port:04X}"
stop = False


def on_signal(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def queue_len():
    # Only the listening socket's line is read: LISTEN is state 0A.
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[3] == "0A" and p[1].endswith(":" + hexport):
                return int(p[4].split(":")[1], 16)
    return 0


longest, busy, first, last = 0, 0.0, None, None
prev_t = time.monotonic()
while not stop:
    n = queue_len()
    t = time.monotonic()
    if n > 0:
        busy += t - prev_t
        first = t if first is None else first
        last = t
        longest = max(longest, n)
    prev_t = t
    time.sleep(interval)
if first is None:
    print("accept queue: always empty")
else:
    print(f"accept queue: longest {longest} connections waiting for accept(); not empty for "
          f"{1000 * busy:.0f} ms in all, last seen non-empty {1000 * (last - first):.0f} ms after first")
