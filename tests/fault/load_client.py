#!/usr/bin/env python3
"""Load client of the fault test (tests/fault/fault_test.sh): standard library only.

  load_client.py run --url URL --keys K1,K2 --clients N --stop-file F --out attempts.jsonl ...
  load_client.py check --attempts attempts.jsonl --faults faults.tsv --usage usage.json ...

run: N client threads, each with its own keep-alive connection to nginx, call
POST /api/v1/business/predict as fast as answers come. Every call carries a unique
Idempotency-Key; a call whose outcome is not known (a 503 or 429 problem, an nginx 502/504, a
refused or reset connection) is retried WITH THE SAME KEY until it gets a definitive answer, which
is what docs/billing.md tells clients to do: the server charges a key at most once and replays its
first answer. Every attempt is written as one JSON line (time, latency, status, kind, problem
type, usage fields). When the stop file appears each thread finishes the call it is on (retrying
for at most --drain-seconds) and exits.

check: classifies the attempts and asserts the fault test's rules (printed as a report):
  - no attempt hung (client timeout) and none got a 500 (or any other unexpected status);
  - every failure was a clean 503/429 problem+json from a server, or an nginx 502/504 or a
    refused/reset connection inside a window when a server was down (faults.tsv);
  - every call (key) ended with a 2xx;
  - the usage report, the running invoice, the ledger and (with --closed-invoices) the invoice
    generated for the closed period reconcile EXACTLY with the successful calls: calls = used =
    invoice units = ledger rows = number of keys that succeeded; overage units and the IDR sums
    equal the units beyond the quota and the sum of the usage_cost values the clients saw.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

KINDS = ("ok", "problem_503", "problem_429", "nginx_502", "nginx_504", "refused", "reset",
         "timeout", "status_500", "other")


def attempt(conn_box, host, port, path, body, headers, timeout):
    """One HTTP attempt. Returns (status, headers dict, body bytes, error kind or None)."""
    if conn_box[0] is None:
        conn_box[0] = http.client.HTTPConnection(host, port, timeout=timeout)
    conn = conn_box[0]
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if hdrs.get("connection", "").lower() == "close":
            conn.close()
            conn_box[0] = None
        return resp.status, hdrs, data, None
    except ConnectionRefusedError:
        conn_box[0] = None
        return None, {}, b"", "refused"
    except (TimeoutError, OSError, http.client.HTTPException) as e:
        conn.close()
        conn_box[0] = None
        if isinstance(e, TimeoutError) or "timed out" in str(e):
            return None, {}, b"", "timeout"
        return None, {}, b"", "reset"


def classify(status, hdrs, err):
    if err:
        return err
    ctype = hdrs.get("content-type", "")
    if 200 <= status < 300:
        return "ok"
    if status in (503, 429) and ctype.startswith("application/problem+json"):
        return "problem_%d" % status
    if status in (502, 504) and "application/problem+json" not in ctype and hdrs.get("server", "").startswith("nginx"):
        return "nginx_%d" % status
    if status == 500:
        return "status_500"
    return "other"


def run(args):
    u = urllib.parse.urlparse(args.url)
    keys = args.keys.split(",")
    out = open(args.out, "a", buffering=1)  # after the burst test's attempts
    lock = threading.Lock()
    body = json.dumps({"symbol": args.symbol, "timeframe": args.timeframe,
                       "prediction_type": "price_direction", "confidence_threshold": 0.55})

    def client(c):
        conn_box = [None]
        api_key = keys[c % len(keys)]
        seq = 0
        stopping_since = None
        while True:
            if stopping_since is None and os.path.exists(args.stop_file):
                stopping_since = time.time()
            if stopping_since is not None:
                break
            seq += 1
            idem = "%s-c%d-%d" % (args.run_id, c, seq)
            headers = {"Content-Type": "application/json", "X-API-Key": api_key, "Idempotency-Key": idem}
            n = 0
            while True:
                n += 1
                t0 = time.time()
                status, hdrs, data, err = attempt(conn_box, u.hostname, u.port, "/api/v1/business/predict",
                                                  body, headers, args.timeout)
                dt = time.time() - t0
                kind = classify(status, hdrs, err)
                rec = {"c": c, "key": idem, "n": n, "t0": round(t0, 6), "dt": round(dt, 6), "status": status,
                       "kind": kind}
                if kind == "ok":
                    try:
                        j = json.loads(data)
                        rec["usage_cost"] = j.get("usage_cost")
                        rec["cost_credits"] = j.get("cost_credits")
                        rec["remaining_quota"] = j.get("remaining_quota")
                        rec["prediction"] = j.get("prediction")
                    except ValueError:
                        rec["kind"] = kind = "other"
                        rec["body"] = data[:300].decode("utf-8", "replace")
                elif data:
                    text = data[:300].decode("utf-8", "replace")
                    try:
                        rec["ptype"] = json.loads(data).get("type")
                    except ValueError:
                        pass
                    if kind in ("other", "status_500"):
                        rec["body"] = text
                    rec["request_id"] = hdrs.get("x-request-id")
                with lock:
                    out.write(json.dumps(rec) + "\n")
                if kind in ("ok", "other", "timeout"):
                    break  # definitive (or a failure the check reports)
                # Unknown outcome (503, 429, 500, nginx 502/504, refused or reset): retry the same
                # key, honouring Retry-After (capped). The check still reports every 500.
                if stopping_since is None and os.path.exists(args.stop_file):
                    stopping_since = time.time()
                if stopping_since is not None and time.time() - stopping_since > args.drain_seconds:
                    break
                try:
                    wait = float(hdrs.get("retry-after", "0.05"))
                except ValueError:
                    wait = 0.05
                time.sleep(min(max(wait, 0.05), 1.0))

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()


def burst(args):
    """One API key, `calls` calls from `threads` connections at once through nginx (round-robin
    over the servers); appends the attempts (marked "burst") to --out. Passes when the answered
    calls stay within the plan's burst + rate x elapsed (+1), i.e. one shared bucket, and some
    were refused 429."""
    u = urllib.parse.urlparse(args.url)
    burst_size, rate = float(args.limit[0]), float(args.limit[1])
    body = json.dumps({"symbol": args.symbol, "timeframe": "H1", "prediction_type": "price_direction"})
    lock = threading.Lock()
    recs = []
    counter = [0]

    def worker(c):
        conn_box = [None]
        while True:
            with lock:
                if counter[0] >= args.calls:
                    return
                counter[0] += 1
                i = counter[0]
            idem = "burst-%d-%d" % (os.getpid(), i)
            headers = {"Content-Type": "application/json", "X-API-Key": args.key, "Idempotency-Key": idem}
            t0 = time.time()
            status, hdrs, data, err = attempt(conn_box, u.hostname, u.port, "/api/v1/business/predict",
                                              body, headers, 10.0)
            kind = classify(status, hdrs, err)
            rec = {"c": -1, "key": idem, "n": 1, "t0": round(t0, 6), "dt": round(time.time() - t0, 6),
                   "status": status, "kind": kind, "burst": True}
            if kind == "ok":
                j = json.loads(data)
                rec["usage_cost"] = j.get("usage_cost")
                rec["cost_credits"] = j.get("cost_credits")
            with lock:
                recs.append(rec)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(args.threads)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = max(r["t0"] + r["dt"] for r in recs) - start
    with open(args.out, "a") as out:
        for r in recs:
            out.write(json.dumps(r) + "\n")
    ok = sum(1 for r in recs if r["kind"] == "ok")
    refused = sum(1 for r in recs if r["kind"] == "problem_429")
    other = len(recs) - ok - refused
    allowed = burst_size + rate * elapsed + 1
    print("burst: %d calls in %.2fs through nginx: %d answered, %d refused 429, %d other; one shared "
          "bucket allows at most %.0f (burst %.0f + %.0f/s x %.2fs + 1)"
          % (len(recs), elapsed, ok, refused, other, allowed, burst_size, rate, elapsed))
    if ok > allowed or refused == 0 or other:
        print("burst FAILED: more answered than one bucket allows, none refused, or other answers")
        return 1
    return 0


def ws_check(args):
    """The WebSocket stream through nginx: upgrade (101), subscribe, a ping answered by a pong."""
    import base64
    import socket
    import struct
    u = urllib.parse.urlparse(args.url)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET /api/v1/stream/signals HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                  "X-API-Key: %s\r\n\r\n" % (u.hostname, u.port, key, args.key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status_line = head.split(b"\r\n", 1)[0].decode()
    if " 101 " not in status_line + " ":
        print("ws-check FAILED: upgrade answered %r" % head[:400])
        return 1
    rest = head.split(b"\r\n\r\n", 1)[1]

    def send(opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    buf = [rest]

    def recv_exact(n):
        while len(buf[0]) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf[0] += chunk
        out, buf[0] = buf[0][:n], buf[0][n:]
        return out

    def recv_frame():
        b0, b1 = recv_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", recv_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", recv_exact(8))[0]
        return b0 & 0x0F, recv_exact(n)

    send(0x1, json.dumps({"symbols": [args.symbol], "timeframes": [args.timeframe]}).encode())
    op, payload = recv_frame()
    msg = json.loads(payload) if op == 1 else {}
    if msg.get("type") != "subscribed":
        print("ws-check FAILED: subscribe answered opcode %d %r" % (op, payload[:300]))
        return 1
    send(0x9, b"keepalive")
    op, payload = recv_frame()
    if op != 0xA or payload != b"keepalive":
        print("ws-check FAILED: ping answered opcode %d %r" % (op, payload[:100]))
        return 1
    send(0x8, struct.pack("!H", 1000))
    sock.close()
    print("ws-check: %s through nginx; subscribed %s; ping answered by pong" % (status_line, json.dumps(msg.get("series"))))
    return 0


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    i = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[i]


def check(args):
    recs = [json.loads(line) for line in open(args.attempts)]
    faults = []  # (name, start, end)
    for line in open(args.faults):
        parts = line.split()
        if len(parts) == 3:
            faults.append((parts[0], float(parts[1]), float(parts[2])))
    usage = json.load(open(args.usage))
    invoices = json.load(open(args.invoices))
    ledger_rows = int(open(args.ledger).read().strip()) if args.ledger else None
    failures = []

    counts = {k: 0 for k in KINDS}
    for r in recs:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1

    # Per fault window: what the attempts that started in it got.
    def in_window(r, names, slack=2.0):
        t0, t1 = r["t0"], r["t0"] + r["dt"]
        return any(n in names and t1 >= s - slack and t0 <= e + slack for n, s, e in faults)

    per_fault = {}
    for r in recs:
        where = "steady/other"
        for n, s, e in faults:
            if r["t0"] + r["dt"] >= s - 0.5 and r["t0"] <= e + 2.0:
                where = n
                break
        per_fault.setdefault(where, {}).setdefault(r["kind"], 0)
        per_fault[where][r["kind"]] += 1

    for r in recs:
        k = r["kind"]
        if k == "timeout":
            failures.append("client timeout (hang) after %.1fs: %s" % (r["dt"], json.dumps(r)))
        elif k in ("status_500", "other"):
            failures.append("unexpected answer: %s" % json.dumps(r))
        elif k in ("nginx_502", "nginx_504", "refused", "reset"):
            if not in_window(r, ("kill_server",)):
                failures.append("%s outside a server-down window: %s" % (k, json.dumps(r)))

    # Outcome of each call (key): its last attempt.
    last = {}
    for r in recs:
        if r["key"] not in last or r["n"] > last[r["key"]]["n"]:
            last[r["key"]] = r
    ok_keys = {k: r for k, r in last.items() if r["kind"] == "ok"}
    unresolved = [r for r in last.values() if r["kind"] != "ok" and not (r.get("burst") and r["kind"] == "problem_429")]
    for r in unresolved:
        failures.append("call never succeeded (outcome unknown to the client): %s" % json.dumps(r))
    oks_per_key = {}
    for r in recs:
        if r["kind"] == "ok":
            oks_per_key.setdefault(r["key"], []).append(r)
    for k, rs in oks_per_key.items():
        if len(rs) > 1 or any(x["usage_cost"] != rs[0]["usage_cost"] for x in rs):
            failures.append("key answered 2xx more than once: %s" % k)

    n_ok = len(ok_keys)
    units = sum(int(r.get("cost_credits") or 0) for r in ok_keys.values())
    cost = sum(int(r.get("usage_cost") or 0) for r in ok_keys.values())
    quota = usage.get("quota")
    expected_overage = max(0, units - quota) if quota is not None else 0

    def expect(name, got, want):
        if got != want:
            failures.append("reconciliation: %s = %r, expected %r" % (name, got, want))

    expect("usage.calls", usage.get("calls"), n_ok)
    expect("usage.used", usage.get("used"), units)
    expect("usage.overage_units", usage.get("overage_units"), expected_overage)
    expect("usage.cost_idr", usage.get("cost_idr"), cost)
    cur = invoices.get("current", {})
    expect("invoices.current.units", cur.get("units"), units)
    expect("invoices.current.overage_units", cur.get("overage_units"), expected_overage)
    expect("invoices.current.overage_idr", cur.get("overage_idr"), cost)
    if ledger_rows is not None:
        expect("usage_ledger rows (SQL)", ledger_rows, n_ok)
    closed = None
    if args.closed_invoices:
        items = json.load(open(args.closed_invoices)).get("items", [])
        if len(items) != 1:
            failures.append("closed period: expected exactly 1 generated invoice, got %d" % len(items))
        else:
            closed = items[0]
            expect("closed invoice units", closed.get("units"), units)
            expect("closed invoice overage_units", closed.get("overage_units"), expected_overage)
            expect("closed invoice overage_idr", closed.get("overage_idr"), cost)
            expect("closed invoice plan", closed.get("plan"), "pro")
            prices = {p.get("name"): p.get("price_idr") for p in json.load(open(args.plans)).get("items", [])}
            expect("closed invoice base_idr (Pro's price)", closed.get("base_idr"), prices.get("pro"))
            expect("closed invoice total_idr", closed.get("total_idr"),
                   (closed.get("base_idr") or 0) + (closed.get("overage_idr") or 0))
    if n_ok == 0:
        failures.append("no call succeeded at all")
    for n, s, e in faults:
        if not any(r["kind"] == "ok" and r["t0"] >= e + 3.0 for r in recs):
            failures.append("no successful call after fault %s ended (service did not recover)" % n)

    # Steady phase figures: 2xx attempts started in [steady_from, steady_to).
    steady = [r for r in recs if args.steady_from <= r["t0"] < args.steady_to]
    steady_ok = [r["dt"] for r in steady if r["kind"] == "ok"]
    span = args.steady_to - args.steady_from
    report = {
        "attempts": len(recs),
        "attempts_by_kind": {k: v for k, v in counts.items() if v},
        "attempts_by_phase": per_fault,
        "calls_succeeded": n_ok,
        "calls_retried": sum(1 for r in last.values() if r["n"] > 1),
        "units": units,
        "usage_cost_idr_sum": cost,
        "usage_report": {k: usage.get(k) for k in ("calls", "used", "quota", "overage_units", "cost_idr")},
        "invoice_current": {k: cur.get(k) for k in ("units", "overage_units", "overage_idr", "total_idr")},
        "ledger_rows_sql": ledger_rows,
        "closed_invoice": closed,
        "steady": {
            "seconds": round(span, 1),
            "requests_per_second": round(len(steady_ok) / span, 1) if span > 0 else None,
            "p50_ms": round(1000 * percentile(steady_ok, 50), 2),
            "p99_ms": round(1000 * percentile(steady_ok, 99), 2),
            "max_ms": round(1000 * max(steady_ok), 2) if steady_ok else None,
            "non_2xx": len(steady) - len(steady_ok),
        },
        "faults": [{"fault": n, "start": s, "end": e, "seconds": round(e - s, 2)} for n, s, e in faults],
    }
    if args.nginx_log:
        # nginx's own view of the same steady phase: $request_time of each predict answer (first
        # byte read from the client to last byte sent), from deploy/nginx/sinyal.conf's log format.
        import datetime
        import re
        pat = re.compile(r'\[([^\]]+)\] "POST /api/v1/business/predict HTTP/1.1" (\d+) .* rt=([0-9.]+) ')
        rts, n_all = [], 0
        for line in open(args.nginx_log):
            m = pat.search(line)
            if not m:
                continue
            t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
            if args.steady_from <= t < args.steady_to - 1:  # whole seconds inside the window
                n_all += 1
                if m.group(2) == "200":
                    rts.append(float(m.group(3)))
        secs = int(args.steady_to - 1) - int(args.steady_from)
        report["steady_nginx"] = {
            "seconds": secs,
            "requests_per_second": round(n_all / secs, 1) if secs > 0 else None,
            "p50_ms": round(1000 * percentile(rts, 50), 1),
            "p99_ms": round(1000 * percentile(rts, 99), 1),
            "max_ms": round(1000 * max(rts), 1) if rts else None,
            "note": "nginx $request_time has millisecond resolution",
        }
    print(json.dumps(report, indent=2))
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
    if failures:
        print("FAILED: %d problem(s)" % len(failures))
        for f in failures[:15]:
            print("  - " + f)
        if len(failures) > 15:
            print("  ... and %d more" % (len(failures) - 15))
        return 1
    print("PASSED: every failure was clean or in a server-down window; usage and invoice reconcile exactly")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--url", required=True)
    r.add_argument("--keys", required=True)
    r.add_argument("--clients", type=int, default=8)
    r.add_argument("--symbol", required=True)
    r.add_argument("--timeframe", default="H1")
    r.add_argument("--stop-file", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--timeout", type=float, default=10.0)
    r.add_argument("--drain-seconds", type=float, default=60.0)
    r.add_argument("--run-id", default="f%d" % int(time.time()))
    c = sub.add_parser("check")
    c.add_argument("--attempts", required=True)
    c.add_argument("--faults", required=True)
    c.add_argument("--usage", required=True)
    c.add_argument("--invoices", required=True)
    c.add_argument("--ledger")
    c.add_argument("--steady-from", type=float, required=True)
    c.add_argument("--steady-to", type=float, required=True)
    c.add_argument("--report")
    c.add_argument("--closed-invoices", help="GET /api/v1/invoices after the period was closed")
    c.add_argument("--plans", help="GET /api/v1/plans (Pro's price)")
    c.add_argument("--nginx-log", help="nginx access log (log_format sinyal) for nginx-side steady figures")
    b = sub.add_parser("burst")
    b.add_argument("--url", required=True)
    b.add_argument("--key", required=True)
    b.add_argument("--symbol", required=True)
    b.add_argument("--calls", type=int, default=120)
    b.add_argument("--threads", type=int, default=8)
    b.add_argument("--limit", nargs=2, required=True, metavar=("BURST", "RATE"))
    b.add_argument("--out", required=True)
    w = sub.add_parser("ws-check")
    w.add_argument("--url", required=True)
    w.add_argument("--key", required=True)
    w.add_argument("--symbol", required=True)
    w.add_argument("--timeframe", default="H1")
    a = p.parse_args()
    if a.cmd == "ws-check":
        return ws_check(a)
    if a.cmd == "burst":
        return burst(a)
    if a.cmd == "run":
        run(a)
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
