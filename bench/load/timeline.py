#!/usr/bin/env python3
"""Samples a server's answered-request counter from /metrics every INTERVAL seconds until killed
(SIGTERM/SIGINT), then prints one line: the longest stretch with no answer at all, the slowest
and fastest 1-second windows, and the number of samples. Used by bench/load/predict.sh and
bench/load/me.sh (TIMELINE=1) to tell apart "a few connections starve" (the server keeps answering
at a steady rate while some requests wait) from "everything stalls at once" (the counter stops).

  timeline.py URL REGEX [INTERVAL]     URL: the server's /metrics; REGEX: the counter line(s),
                                       their values summed (e.g. a route's 2xx)
"""
import re
import signal
import sys
import time
import urllib.request

url, pattern = sys.argv[1], re.compile(sys.argv[2])
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
samples = []
stop = False


def on_signal(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def read():
    total = 0.0
    with urllib.request.urlopen(url, timeout=2) as r:
        for line in r.read().decode().splitlines():
            if pattern.match(line):
                total += float(line.rsplit(" ", 1)[1])
    return total


next_t = time.monotonic()
while not stop:
    try:
        samples.append((time.monotonic(), read()))
    except Exception:
        pass
    next_t += interval
    time.sleep(max(0.0, next_t - time.monotonic()))

# The run proper: from the first sample that moved to the last one that moved.
moving = [i for i in range(1, len(samples)) if samples[i][1] > samples[i - 1][1]]
if len(moving) < 2:
    print("timeline: too few samples")
    sys.exit(0)
s = samples[moving[0] - 1: moving[-1] + 1]
longest, start = 0.0, None
for i in range(1, len(s)):
    if s[i][1] == s[i - 1][1]:
        start = s[i - 1][0] if start is None else start
        longest = max(longest, s[i][0] - start)
    else:
        start = None
rates = []
j = 0
for i in range(len(s)):
    while j < len(s) and s[j][0] - s[i][0] < 1.0:
        j += 1
    if j >= len(s):
        break
    rates.append((s[j][1] - s[i][1]) / (s[j][0] - s[i][0]))
print(f"timeline: longest stretch with no answer {1000 * longest:.0f} ms; 1-s windows min "
      f"{min(rates):.0f}/s, max {max(rates):.0f}/s; {len(s)} samples every {1000 * interval:.0f} ms"
      if rates else f"timeline: longest stretch with no answer {1000 * longest:.0f} ms")
