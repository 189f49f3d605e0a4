#!/usr/bin/env python3
"""Denial-of-service probes against a running qyzmet, with the server's peak memory.

    python3 benches/dos_probes.py PORT PID DEMO_PASSWORD [uploads]

Runs the probes of issue 13 one after the other (standard library only: a minimal WebSocket
client is written out below) and prints, for each, the answers and the server's resident and
peak memory (VmRSS, VmHWM from /proc/PID/status) after it; `uploads` runs only the upload
probes (12–15). See BENCHMARKS.md.
"""

import base64
import json
import os
import socket
import sys
import threading
import time
import urllib.request

PORT, PID, PASSWORD = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ONLY_UPLOADS = sys.argv[4:] == ["uploads"]
URL = f"http://127.0.0.1:{PORT}/graphql"


def memory():
    fields = {}
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                fields[k] = int(v.split()[0]) // 1024
    return f"RSS {fields['VmRSS']} MB, peak {fields['VmHWM']} MB"


def post(query, variables=None, token=None, timeout=120):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(URL, data=body, headers={"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    started = time.time()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = json.loads(r.read())
            status = r.status
    except urllib.error.HTTPError as e:
        data = json.loads(e.read() or b"{}")
        status = e.code
    codes = sorted({(e.get("extensions") or {}).get("code", "?") for e in data.get("errors", [])})
    return status, codes, time.time() - started


def login(user):
    _, _, _ = post("{ __typename }")
    body = json.dumps({"query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
                       "variables": {"u": user, "p": PASSWORD}}).encode()
    req = urllib.request.Request(URL, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["data"]["login"]["accessToken"]


def report(name, result):
    print(f"{name}: {result} — {memory()}", flush=True)


def ws_connect():
    s = socket.create_connection(("127.0.0.1", PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        resp += s.recv(1024)
    assert b" 101 " in resp.split(b"\r\n")[0], resp
    return s


def frame(opcode, payload, fin=True):
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def open_files():
    return len(os.listdir(f"/proc/{PID}/fd"))


def multipart(token, parts):
    """POSTs (name, filename or None, bytes) parts to /graphql; the status and the error codes."""
    boundary = "qyzmet-probe-" + os.urandom(6).hex()
    body = bytearray()
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    # A raw socket: a server that refuses early answers before the body is sent, then closes;
    # the answer is read even when sending the rest fails.
    c = socket.create_connection(("127.0.0.1", PORT), timeout=180)
    head = (f"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode()
    raw = b""
    try:
        c.sendall(head)
        try:
            c.sendall(bytes(body))
        except OSError:
            pass
        while True:
            d = c.recv(65536)
            if not d:
                break
            raw += d
    except OSError as e:
        if not raw:
            return 0, [type(e).__name__]
    finally:
        c.close()
    status_line, _, rest = raw.partition(b"\r\n")
    status = int(status_line.split()[1]) if len(status_line.split()) > 1 else 0
    raw = rest.partition(b"\r\n\r\n")[2]
    try:
        data = json.loads(raw)
    except ValueError:
        data = {}
    return status, sorted({(e.get("extensions") or {}).get("code", "?") for e in data.get("errors", [])})


def upload_probes(clerk):
    status, _, _ = post("{ __typename }")
    body = json.dumps({"query": "{ inbox(mailbox: OFFICE, first: 1) { nodes { id } } }"}).encode()
    req = urllib.request.Request(URL, data=body, headers={"content-type": "application/json", "authorization": f"Bearer {clerk}"})
    with urllib.request.urlopen(req) as r:
        case = json.loads(r.read())["data"]["inbox"]["nodes"][0]["id"]
    attach = "mutation($c: ID!, $f: Upload!) { attachFile(caseId: $c, file: $f) { size } }"
    ops = json.dumps({"query": attach, "variables": {"c": case, "f": None}}).encode()
    one = b'{"0":["variables.f"]}'
    pdf = b"%PDF-1.7\n" + os.urandom(10 * 1024 * 1024 - 9)

    # 12. 40 clients at once, each uploading a 10 MiB PDF (16 uploads are read at once per node).
    results, fds = [], [open_files()]
    started = time.time()
    threads = [threading.Thread(target=lambda: results.append(multipart(clerk, [("operations", None, ops), ("map", None, one), ("0", "scan.pdf", pdf)])))
               for _ in range(40)]
    [t.start() for t in threads]
    while any(t.is_alive() for t in threads):
        fds.append(open_files())
        time.sleep(0.05)
    [t.join() for t in threads]
    counts = {}
    for st, codes in results:
        counts[(st, tuple(codes))] = counts.get((st, tuple(codes)), 0) + 1
    report("12 40 concurrent 10 MiB uploads", f"{counts} in {time.time() - started:.1f} s; open files {fds[0]} → at most {max(fds)}")

    # 13. One body of 20,000 tiny parts the map does not name, then the named file.
    parts = [("operations", None, ops), ("map", None, one)]
    parts += [(f"junk{i}", "x.pdf", b"%PDF") for i in range(20000)]
    parts += [("0", "scan.pdf", b"%PDF-1.7\n" + b"x" * 1000)]
    fds = [open_files()]
    done = []
    t = threading.Thread(target=lambda: done.append(multipart(clerk, parts)))
    started = time.time()
    t.start()
    while t.is_alive():
        fds.append(open_files())
        time.sleep(0.01)
    report("13 20,000 unnamed tiny parts", f"{done} in {time.time() - started:.2f} s; open files {fds[0]} → at most {max(fds)}")

    # 14. An operations part of 8 MiB (the body limit is 256 KiB).
    big = json.dumps({"query": attach, "variables": {"c": case, "f": None, "pad": "x" * (8 * 1024 * 1024)}}).encode()
    started = time.time()
    r = multipart(clerk, [("operations", None, big), ("map", None, one), ("0", "scan.pdf", b"%PDF-1.7")])
    report("14 8 MiB operations part", f"{r} in {time.time() - started:.2f} s")

    # 15. Five files in one request (four allowed).
    five = json.dumps({str(i): ["variables.f"] for i in range(5)}).encode()
    r = multipart(clerk, [("operations", None, ops), ("map", None, five)] + [(str(i), "x.pdf", b"%PDF-1.7") for i in range(5)])
    report("15 five files in one request", f"{r}")


def main():
    print(f"start — {memory()}", flush=True)
    if ONLY_UPLOADS:
        upload_probes(login("mangystau-clerk"))
        print(f"end — {memory()}", flush=True)
        return

    # 6. Doubling fragment spreads, anonymous, two at once.
    q = "query { ...F40 }\nfragment F0 on Query { apiVersion }\n" + "".join(
        f"fragment F{i} on Query {{ ...F{i-1} ...F{i-1} }}\n" for i in range(1, 41))
    results = []
    threads = [threading.Thread(target=lambda: results.append(post(q))) for _ in range(2)]
    [t.start() for t in threads]
    hz = time.time()
    urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz").read()
    hz = time.time() - hz
    [t.join() for t in threads]
    report("6 doubling fragments ×2", f"{[(s, c, round(t, 3)) for s, c, t in results]}, /healthz {hz*1000:.1f} ms")

    clerk = login("mangystau-clerk")
    analyst = login("national-analyst")

    # 7. A clerk's 95 aliases of inbox(first: 200) with timelines and events.
    aliases = " ".join(f"a{i}: inbox(mailbox: OFFICE, first: 200) {{ nodes {{ number timeline {{ seq stage actor }} events {{ seq hash }} }} }}" for i in range(95))
    report("7 95 aliased inbox(first: 200)", post("{ " + aliases + " }", token=clerk))
    # The largest inbox query the cost limit lets through, for comparison.
    report("7b one inbox(first: 200) with timelines and events", post(
        "{ inbox(mailbox: OFFICE, first: 200) { nodes { number timeline { seq stage actor } events { seq hash } } } }", token=clerk))

    # 8. 40 aliased atRiskCases(first: 1).
    aliases = " ".join(f"a{i}: atRiskCases(threshold: 0.1, first: 1) {{ nodes {{ shareUsed case {{ number }} }} }}" for i in range(40))
    report("8 40 aliased atRiskCases(first: 1)", post("{ " + aliases + " }", token=analyst))

    # 9. An unauthenticated socket streaming one fragmented message (up to 240 MB).
    s = ws_connect()
    chunk = b"x" * 65536
    sent = 0
    try:
        s.sendall(frame(0x1, chunk, fin=False))
        sent += len(chunk)
        while sent < 240 * 1024 * 1024:
            s.sendall(frame(0x0, chunk, fin=False))
            sent += len(chunk)
    except OSError as e:
        pass
    report("9 fragmented message without init", f"closed after {sent // 1024} KiB sent")
    s.close()

    # 9b. 200 idle sockets without connection_init: open after 12 s?
    socks = [ws_connect() for _ in range(200)]
    time.sleep(12)
    still_open = 0
    for s in socks:
        s.settimeout(0.2)
        try:
            data = s.recv(4096)
            # A close frame (0x88) or EOF means the server closed it.
            if data and data[0] != 0x88 and b"\x88" not in data:
                still_open += 1
        except socket.timeout:
            still_open += 1
        except OSError:
            pass
        s.close()
    report("9b 200 idle sockets without init", f"{still_open} still open after 12 s")

    # 10. One socket, 3,000 subscriptions to one mailbox.
    s = ws_connect()
    s.sendall(frame(0x1, json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {clerk}"}}).encode()))
    time.sleep(0.3)
    for i in range(3000):
        s.sendall(frame(0x1, json.dumps({"id": str(i), "type": "subscribe", "payload": {
            "query": "subscription { mailboxChanged(mailbox: OFFICE) { total } }"}}).encode()))
    time.sleep(2)
    s.settimeout(1)
    received = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            received += d
    except socket.timeout:
        pass
    refused = received.count(b"TOO_MANY_SUBSCRIPTIONS")
    report("10 3,000 subscriptions on one socket", f"{refused} refused with TOO_MANY_SUBSCRIPTIONS")
    s.close()

    # 11. 100 clients that stall their request bodies.
    stalled = []
    for _ in range(100):
        c = socket.create_connection(("127.0.0.1", PORT))
        c.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        stalled.append(c)
    time.sleep(14)
    answered = 0
    for c in stalled:
        c.settimeout(0.2)
        try:
            if c.recv(100).startswith(b"HTTP/1.1 408"):
                answered += 1
        except OSError:
            pass
        c.close()
    report("11 100 stalled bodies", f"{answered} answered 408 within 14 s")
    upload_probes(clerk)
    print(f"end — {memory()}", flush=True)


main()
