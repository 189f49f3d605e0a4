#!/usr/bin/env python3
"""Issue 23's probes of signatures and persisted queries against a running qyzmet.

    python3 benches/signature_probes.py PORT PID DEMO_PASSWORD REAL_SIGNATURE.der

The server runs with `--dev --demo` and `QYZMET_TRUSTED_CAS` naming the CA that signed
REAL_SIGNATURE.der's certificate (see BENCHMARKS.md for the openssl commands). Standard library
only. Prints, for each probe, the answers, the latencies, the server's CPU time (utime + stime
from /proc/PID/stat) and its resident and peak memory (VmRSS, VmHWM).

- A hostile detached signature (a SET of 12,000 integers in descending order, 60 KB: a DER
  decoder's order check is quadratic in it) against a real one (a detached CMS signature with
  its certificate, fully checked: RSA twice), one at a time, five of each.
- Four hostile signatures at once while /healthz is asked every 20 ms.
- 600 anonymous registrations of the longest query kept (16 KiB), then 600 of a 240 KB one.
"""

import hashlib
import json
import os
import statistics
import sys
import threading
import time
import urllib.request

PORT, PID, PASSWORD, REAL = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
BASE = f"http://127.0.0.1:{PORT}"
URL = f"{BASE}/graphql"
TICKS = os.sysconf("SC_CLK_TCK")


def memory():
    fields = {}
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return f"RSS {int(fields['VmRSS'].split()[0]) // 1024} MB, peak {int(fields['VmHWM'].split()[0]) // 1024} MB"


def cpu():
    with open(f"/proc/{PID}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICKS


def post(query, variables=None, token=None, extensions=None):
    body = {"query": query, "variables": variables or {}}
    if extensions:
        body["extensions"] = extensions
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(URL, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}")


def code(body):
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else "OK"


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + content


def hostile(n):
    elements = b"".join(tlv(0x02, bytes([0, (i >> 8) & 0xFF, i & 0xFF])) for i in reversed(range(n)))
    oid = bytes([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02])
    return tlv(0x30, tlv(0x06, oid) + tlv(0xA0, tlv(0x30, tlv(0x31, elements))))


def attach(token, case, document, signature):
    """A multipart attachFile with a signature; returns (code, seconds)."""
    q = "mutation($c: ID!, $f: Upload!, $s: Upload) { attachFile(caseId: $c, file: $f, signature: $s) { id } }"
    ops = json.dumps({"query": q, "variables": {"c": case, "f": None, "s": None}}).encode()
    parts = [("operations", None, ops), ("map", None, b'{"0":["variables.f"],"1":["variables.s"]}'),
             ("0", "application.pdf", document), ("1", "application.pdf.p7s", signature)]
    boundary = "qyzmetprobe"
    body = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(URL, data=body, headers={
        "content-type": f"multipart/form-data; boundary={boundary}", "authorization": f"Bearer {token}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            answer = json.loads(r.read())
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read() or b"{}")
    return code(answer), time.perf_counter() - started


def healthz():
    started = time.perf_counter()
    with urllib.request.urlopen(f"{BASE}/healthz", timeout=60) as r:
        r.read()
    return time.perf_counter() - started


def main():
    print(f"start — {memory()}", flush=True)
    token = post("mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
                 {"u": "mangystau-clerk", "p": PASSWORD})["data"]["login"]["accessToken"]
    app = {"regulation": "mangystau-secondary-education-duplicates",
           "applicant": {"iin": "850305400120", "fullName": "Probe Applicant"},
           "documents": [{"name": "application"}]}
    case = post("mutation($a: ApplicationInput!) { registerApplication(input: $a) { id } }",
                {"a": app}, token)["data"]["registerApplication"]["id"]
    document = b"%PDF-1.7\n% the application as signed\n"
    with open(REAL, "rb") as f:
        real = f.read()
    bad = hostile(12000)
    assert len(bad) <= 64 * 1024, len(bad)

    for name, sig in [("real signature (peer)", real), ("hostile 60 KB SET", bad)]:
        t0 = cpu()
        runs = [attach(token, case, document, sig) for _ in range(5)]
        spent = cpu() - t0
        codes = sorted({c for c, _ in runs})
        ms = [s * 1000 for _, s in runs]
        print(f"{name}: {codes}, median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms, "
              f"server CPU {spent * 1000 / 5:.1f} ms each — {memory()}", flush=True)

    # Four hostile signatures at once, /healthz every 20 ms meanwhile.
    results, health = [], []
    t0 = cpu()
    threads = [threading.Thread(target=lambda: results.append(attach(token, case, document, bad))) for _ in range(4)]
    started = time.perf_counter()
    [t.start() for t in threads]
    while any(t.is_alive() for t in threads):
        health.append(healthz() * 1000)
        time.sleep(0.02)
    [t.join() for t in threads]
    print(f"4 hostile at once: {sorted(c for c, _ in results)} in {(time.perf_counter() - started) * 1000:.0f} ms, "
          f"server CPU {(cpu() - t0) * 1000:.0f} ms; /healthz {len(health)} times, median "
          f"{statistics.median(health):.1f} ms, max {max(health):.1f} ms — {memory()}", flush=True)

    # Persisted-query registrations, anonymous.
    for size, label in [(16 * 1024 - 200, "16 KiB (kept)"), (240 * 1024, "240 KB (runs, not kept)")]:
        started = time.perf_counter()
        answers = {}
        for i in range(600):
            text = f"query Q{i} {{ apiVersion }}\n#" + "x" * size
            ext = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(text.encode()).hexdigest()}}
            c = code(post(text, extensions=ext))
            answers[c] = answers.get(c, 0) + 1
        print(f"600 registrations of {label}: {answers} in {time.perf_counter() - started:.1f} s — {memory()}", flush=True)


main()
