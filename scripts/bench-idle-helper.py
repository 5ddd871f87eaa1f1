#!/usr/bin/env python3
"""Helper of scripts/bench-idle (python3 stdlib only: socket, ssl, selectors).

  sink  --port P [--host H] --status FILE --timeout S
        Plain TCP backend: accepts and holds every connection (never writes), writes the number currently open
        to FILE whenever it changes. Exits after S seconds or on SIGTERM.

  hold  --port P [--host H] --n N --ca CA --cert CRT --key KEY --expect-uri URI --dir D --checkpoints 100,1000
        --timeout S
        Opens N mutual-TLS connections one after another (TLS 1.3, full handshakes, no session reuse), verifies the
        server chain against CA and that the server's URI SAN is URI, then keeps them open and idle (nothing is
        sent). At each checkpoint c it writes D/ckpt-c.json ({"open":..,"failed":..,"handshake_s":..}) and waits
        for the file D/go-c to appear. After the last one it checks which connections are still open (the server
        may reject an identity after a TLS 1.3 handshake has completed on the client side), writes D/final.json and
        closes everything. Every wait is bounded by S seconds overall.
"""
import argparse, json, os, selectors, signal, socket, ssl, sys, time


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def sink(a):
    deadline = time.monotonic() + a.timeout
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    n, last = 0, -1
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            if key.data is None:
                while True:
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "c")
                    n += 1
            else:
                try:
                    d = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    d = b""
                if not d:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    n -= 1
        if n != last:
            write_json(a.status, {"open": n})
            last = n


def alive(s):
    """True if the TLS connection is still open (nothing to read yet, or only post-handshake messages)."""
    try:
        s.setblocking(False)
        d = s.recv(1)
        return len(d) > 0  # b"" = closed by the peer; data would be unexpected but means open
    except (ssl.SSLWantReadError, BlockingIOError):
        return True
    except (ssl.SSLError, OSError):
        return False


def hold(a):
    deadline = time.monotonic() + a.timeout
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False          # workload certs carry a URI SAN only; checked below instead
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    ckpts = sorted({int(x) for x in a.checkpoints.split(",") if x} | {a.n})
    socks, failed, errors = [], 0, {}
    t0 = time.monotonic()
    info = {}
    for c in ckpts:
        while len(socks) + failed < c:
            if time.monotonic() > deadline:
                raise SystemExit("hold: timeout while connecting")
            try:
                raw = socket.create_connection((a.host, a.port), timeout=5)
                s = ctx.wrap_socket(raw, server_side=False)      # handshake happens here (5 s socket timeout)
                sans = [v for k, v in s.getpeercert().get("subjectAltName", ()) if k == "URI"]
                if a.expect_uri and sans != [a.expect_uri]:
                    s.close()
                    raise ssl.SSLError("server URI SAN %r != %r" % (sans, a.expect_uri))
                if not info:
                    info = {"version": s.version(), "cipher": s.cipher()[0], "server_uri_san": sans}
                    time.sleep(0.2)                 # fail fast if the server drops us after the handshake
                    if not alive(s):
                        raise SystemExit("hold: the server closed the first connection right after the handshake "
                                         "(allow list? client cert?)")
                    s.setblocking(True)
                socks.append(s)
            except (OSError, ssl.SSLError) as e:
                failed += 1
                key = "%s: %s" % (type(e).__name__, str(e)[:120])
                errors[key] = errors.get(key, 0) + 1
                if not socks and failed >= 3:
                    raise SystemExit("hold: the first connections all failed: %r" % errors)
                if failed > max(10, a.n // 10):
                    raise SystemExit("hold: too many failures: %r" % errors)
        write_json(os.path.join(a.dir, "ckpt-%d.json" % c),
                   {"open": len(socks), "failed": failed, "handshake_s": round(time.monotonic() - t0, 3),
                    "errors": errors, "tls": info})
        go = os.path.join(a.dir, "go-%d" % c)
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                raise SystemExit("hold: timeout waiting for %s" % go)
            time.sleep(0.05)
    still = sum(1 for s in socks if alive(s))
    write_json(os.path.join(a.dir, "final.json"), {"opened": len(socks), "failed": failed, "still_open": still,
                                                    "errors": errors, "tls": info})
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--host", default="127.0.0.1"); s.add_argument("--port", type=int, required=True)
    s.add_argument("--status", required=True); s.add_argument("--timeout", type=float, default=600)
    h = sub.add_parser("hold")
    h.add_argument("--host", default="127.0.0.1"); h.add_argument("--port", type=int, required=True)
    h.add_argument("--n", type=int, default=1000); h.add_argument("--checkpoints", default="")
    h.add_argument("--ca", required=True); h.add_argument("--cert", required=True); h.add_argument("--key", required=True)
    h.add_argument("--expect-uri", default=""); h.add_argument("--dir", required=True)
    h.add_argument("--timeout", type=float, default=300)
    a = p.parse_args()
    sink(a) if a.cmd == "sink" else hold(a)


if __name__ == "__main__":
    main()
