"""Runs the side-by-side benchmark; see tests/bench/run. Standard library only."""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# Load shapes: one client thread with 32 connections, and two with 256, so the curve is compared.
SHAPES = [("wrk -t1 -c32", ["-t1", "-c32"]), ("wrk -t2 -c256", ["-t2", "-c256"])]
BACKEND_KEY = "bench-backend-key"
DEMO_KEY_PEM = open(os.path.join(os.path.dirname(__file__), "bench-key.pem")).read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, name, patience=30):
    deadline = time.time() + patience
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name} exited during start ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{name} did not listen on {port}")


def cpu_seconds(pids):
    """User+system CPU of the processes and their children threads, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def family(pid):
    """A process and its children (nginx: master and workers)."""
    pids = [pid]
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    return pids


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        lat[pct] = float(m.group(1)) * UNITS[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "requests": total,
        "p50": lat["50"],
        "p99": lat["99"],
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--quick", action="store_true", help="2 s runs, 1 round, 100k links")
    ap.add_argument("--out", help="also write the table to this file")
    ap.add_argument("--profile", action="store_true",
                    help="also sample linkgate and bare Pingora with perf under load, print the top of each profile")
    args = ap.parse_args()
    duration = "2s" if args.quick else "5s"
    rounds = 1 if args.quick else 3
    links = 100_000 if args.quick else 1_000_000

    tmp = tempfile.mkdtemp(prefix="linkgate-bench-")
    ports = {k: free_port() for k in ("origin", "nginx", "haproxy", "bare", "answer", "linkgate", "admin")}
    procs = {}

    def start(name, argv, port):
        log = open(os.path.join(tmp, f"{name}.log"), "w")
        procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_listening(port, procs[name], name)

    try:
        with open(os.path.join(tmp, "origin.conf"), "w") as f:
            f.write(nginx_conf(tmp, "origin", f"listen 127.0.0.1:{ports['origin']}; location / {{ return 200 \"ok\"; }}"))
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(nginx_conf(tmp, "proxy",
                f"listen 127.0.0.1:{ports['nginx']}; location / {{ proxy_pass http://origin; proxy_http_version 1.1; "
                f"proxy_set_header Connection \"\"; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }}",
                upstream=f"upstream origin {{ server 127.0.0.1:{ports['origin']}; keepalive 512; }}"))
        with open(os.path.join(tmp, "haproxy.cfg"), "w") as f:
            f.write(HAPROXY.format(port=ports["haproxy"], origin=ports["origin"]))
        with open(os.path.join(tmp, "linkgate.yaml"), "w") as f:
            f.write(linkgate_conf(ports, tmp))

        start("origin", ["nginx", "-c", os.path.join(tmp, "origin.conf"), "-e", os.path.join(tmp, "origin.err")], ports["origin"])
        start("nginx", ["nginx", "-c", os.path.join(tmp, "nginx.conf"), "-e", os.path.join(tmp, "proxy.err")], ports["nginx"])
        start("haproxy", ["haproxy", "-db", "-f", os.path.join(tmp, "haproxy.cfg")], ports["haproxy"])
        start("bare", [os.path.join(args.bin_dir, "bare-pingora"), f"127.0.0.1:{ports['bare']}", f"127.0.0.1:{ports['origin']}"], ports["bare"])
        start("answer", [os.path.join(args.bin_dir, "bare-pingora"), f"127.0.0.1:{ports['answer']}", "--answer"], ports["answer"])
        env = dict(os.environ, RUST_LOG="warn")
        log = open(os.path.join(tmp, "linkgate.log"), "w")
        procs["linkgate"] = subprocess.Popen(
            [os.path.join(args.bin_dir, "linkgate-proxy"), "--config", os.path.join(tmp, "linkgate.yaml"), "--grace-period-seconds", "0"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_listening(ports["linkgate"], procs["linkgate"], "linkgate")

        api = f"http://127.0.0.1:{ports['linkgate']}"
        issued = http("POST", f"{api}/v1/requestors/bench/codes", {"deviceId": "tv"})
        http("POST", f"{api}/v1/requestors/bench/links", {"code": issued["code"], "userId": "alice", "mvpd": "test-mvpd"},
             {"authorization": f"Bearer {BACKEND_KEY}"})
        # The device's own access token, as every device-side call carries it.
        grant = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                 "device_code": issued["deviceSecret"], "client_id": "bench"}
        device = http("POST", f"{api}/oauth/bench/token", grant)["access_token"]
        as_device = [f"Authorization: Bearer {device}"]
        token = http("GET", f"{api}/v1/requestors/bench/devices/tv/media-token?resource=news", None,
                     {"authorization": f"Bearer {device}"})["token"]
        q = "requestor=bench&deviceId=tv"

        targets = [
            # (group, name, port-of-process, url, headers)
            ("proxy", "bare Pingora passthrough", "bare", f"http://127.0.0.1:{ports['bare']}/seg.ts", []),
            ("proxy", "linkgate edge (throttle + XFF + token check)", "linkgate", f"{api}/content/seg.ts", [f"X-Media-Token: {token}"]),
            ("proxy", "nginx proxy_pass (keepalive 512)", "nginx", f"http://127.0.0.1:{ports['nginx']}/seg.ts", []),
            ("proxy", "haproxy (http-reuse always)", "haproxy", f"http://127.0.0.1:{ports['haproxy']}/seg.ts", []),
            ("local", "nginx return 200", "origin", f"http://127.0.0.1:{ports['origin']}/", []),
            ("local", "bare Pingora answering in request_filter", "answer", f"http://127.0.0.1:{ports['answer']}/", []),
            ("local", "linkgate checkauthn (linked device)", "linkgate", f"{api}/api/v1/checkauthn?{q}", as_device),
            ("local", "linkgate authorize (cached decision)", "linkgate", f"{api}/api/v1/authorize?{q}&resource=news", as_device),
            ("local", "linkgate media token (signs each)", "linkgate", f"{api}/api/v1/tokens/media?{q}&resource=news", as_device),
        ]
        results = {(shape, t[1]): [] for shape, _ in SHAPES for t in targets}
        for r in range(rounds):
            for shape, load in SHAPES:
                for group, name, proc, url, headers in targets:
                    pids = family(procs[proc].pid)
                    cpu0 = cpu_seconds(pids)
                    res = parse_wrk(wrk(load, duration, headers, url))
                    res["cpu_us"] = (cpu_seconds(pids) - cpu0) * 1e6 / max(res["requests"], 1)
                    results[(shape, name)].append(res)
                    print(f"round {r + 1}, {shape}: {name}: {res['rps']:.0f} req/s, p99 {res['p99']:.2f} ms"
                          + (f", {res['non2xx']} non-2xx" if res["non2xx"] else ""), file=sys.stderr)
        profiles = []
        if args.profile:
            for group, name, proc, url, headers in targets:
                if proc in ("bare", "answer", "linkgate") and "media token" not in name:
                    data = os.path.join(tmp, f"perf-{len(profiles)}.data")
                    profiles.append((name, profile(procs[proc].pid, data, SHAPES[0][1], headers, url)))

        store = json.loads(subprocess.run([os.path.join(args.bin_dir, "store-bench"), str(links)],
                                          capture_output=True, text=True, timeout=900, check=True).stdout)
        table = render(targets, results, store, rounds, duration)
        for name, top in profiles:
            table += f"\n### {name}\n\n```\n{top}```\n"
        print(table)
        if args.out:
            open(args.out, "w").write(table)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def wrk(load, duration, headers, url):
    argv = ["wrk", *load, "--latency", "-d", duration] + sum((["-H", h] for h in headers), []) + [url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout


def profile(pid, data, load, headers, url, seconds=4):
    """Samples `pid` with perf into `data` while wrk loads it: where its CPU goes, by binary and
    by function (self time, the top entries)."""
    perf = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "-p", str(pid), "-o", data,
                             "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wrk(load, f"{seconds + 1}s", headers, url)
    perf.wait(timeout=60)
    top = ""
    for sort, limit in (("dso", "2"), ("symbol", "1.2")):
        out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", sort,
                              "--percent-limit", limit], capture_output=True, text=True, timeout=300).stdout
        top += "".join(line[:110].rstrip() + "\n" for line in out.splitlines() if line.strip() and not line.startswith("#"))
        top += "\n"
    return top


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def render(targets, results, store, rounds, duration):
    lines = [f"{rounds} interleaved round(s) of {duration} per front and load shape, medians; one worker per server."]
    for shape, _ in SHAPES:
        lines += [
            "",
            f"**{shape}**",
            "",
            "| front | req/s | p50 ms | p99 ms | vs baseline req/s | p99 vs baseline | server CPU µs/req | non-2xx |",
            "|---|---|---|---|---|---|---|---|",
        ]
        base = {}
        for group, name, *_ in targets:
            rows = results[(shape, name)]
            rps, p50, p99, cpu = med(rows, "rps"), med(rows, "p50"), med(rows, "p99"), med(rows, "cpu_us")
            if group not in base:
                base[group] = (rps, p99)
            brps, bp99 = base[group]
            bad = sum(r["non2xx"] for r in rows)
            lines.append(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {rps / brps:.2f}× | {p99 - bp99:+.2f} ms | {cpu:.1f} | {bad} |")
    lines += [
        "",
        f"Embedded store with {store['links']:,} links: bulk import {store['import_s']:.1f} s, "
        f"load at start {store['load_s']:.1f} s, process RSS {store['rss_mib']:.0f} MiB "
        f"({store['store_rss_mib']:.0f} MiB for the loaded store), lookup p50 {store['lookup_p50_us']:.2f} µs, "
        f"p99 {store['lookup_p99_us']:.2f} µs, p99.9 {store['lookup_p999_us']:.2f} µs.",
    ]
    return "\n".join(lines) + "\n"


def nginx_conf(tmp, name, server, upstream=""):
    paths = " ".join(f"{d}_temp_path {tmp}/{name}-{d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"worker_processes 1; daemon off; pid {tmp}/{name}.pid; error_log {tmp}/{name}.err warn;\n"
            f"events {{ worker_connections 4096; }}\n"
            f"http {{ access_log off; {paths} {upstream} server {{ {server} }} }}\n")


HAPROXY = """global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}
    option forwardfor
    default_backend be
backend be
    server origin 127.0.0.1:{origin}
"""


def linkgate_conf(ports, tmp):
    pem = "".join(f"      {line}\n" for line in DEMO_KEY_PEM.strip().splitlines())
    return f"""listen: 127.0.0.1:{ports['linkgate']}
admin: 127.0.0.1:{ports['admin']}
store: {{backend: file, dataDir: {tmp}/linkgate-data}}
secrets:
  backend: {{apiKey: {BACKEND_KEY}}}
  media:
    key: |
{pem}requestors:
  - name: bench
    spec:
      # Every check on, none of them refusing: the cost of checking is what is measured.
      throttling: {{perClientIp: {{perSecond: 4000000000, burst: 4000000000}}}}
      mvpds: [{{id: test-mvpd, decision: {{allow: ['*']}}}}]
      mediaTokens: {{ttlSeconds: 3600, signingKeys: [{{id: k1, privateKeySecretRef: {{name: media, key: key}}}}]}}
      backend: {{apiKeySecretRef: {{name: backend, key: apiKey}}}}
      routes: [{{prefix: /content, upstream: {{host: 127.0.0.1, port: {ports['origin']}}}, resource: news}}]
"""


if __name__ == "__main__":
    main()
