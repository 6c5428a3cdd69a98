"""Instructions per request, counted by valgrind's callgrind: unlike req/s on a shared
two-core machine, the same binary and requests give the same count run after run.

    python3 tests/bench/instructions.py --bin-dir DIR [--requests N]

Each front runs under callgrind twice, answering a few and then N more sequential requests
on one keep-alive connection; the difference, divided by N, is what one request costs
(start-up and the first requests fall out). The proxies' origin is an nginx outside
valgrind, so only the proxy is counted. Standard library, valgrind and nginx only.
"""

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile

import bench

WARM = 200


def count(argv, port, requests, setup=None):
    """Total instructions of `argv` serving `requests` requests made by `setup`'s function."""
    tmp = tempfile.mkdtemp(prefix="linkgate-instructions-")
    out = os.path.join(tmp, "callgrind.out")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bench.wait_listening(port, proc, argv(tmp)[0], patience=120)
        path, headers = setup(port) if setup else ("/", {})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(requests):
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    total = next(int(line.split()[1]) for line in open(out) if line.startswith("totals:"))
    shutil.rmtree(tmp, ignore_errors=True)
    return total


def per_request(argv, port, n, setup=None):
    return (count(argv, port, WARM + n, setup) - count(argv, port, WARM, setup)) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is needed (Debian: valgrind)")

    ports = {k: bench.free_port() for k in ("origin", "bare", "answer", "linkgate", "admin")}
    pingora = os.path.join(args.bin_dir, "bare-pingora")
    answer = lambda tmp: [pingora, f"127.0.0.1:{ports['answer']}", "--answer"]
    passthrough = lambda tmp: [pingora, f"127.0.0.1:{ports['bare']}", f"127.0.0.1:{ports['origin']}"]

    def linkgate(tmp):
        config = os.path.join(tmp, "linkgate.yaml")
        with open(config, "w") as f:
            f.write(bench.linkgate_conf(ports, tmp))
        return [os.path.join(args.bin_dir, "linkgate-proxy"), "--config", config, "--grace-period-seconds", "0"]

    def device_token(port):
        """A linked device's access token."""
        api = f"http://127.0.0.1:{port}"
        issued = bench.http("POST", f"{api}/v1/requestors/bench/codes", {"deviceId": "tv"})
        bench.http("POST", f"{api}/v1/requestors/bench/links",
                   {"code": issued["code"], "userId": "alice", "mvpd": "test-mvpd"},
                   {"authorization": f"Bearer {bench.BACKEND_KEY}"})
        grant = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                 "device_code": issued["deviceSecret"], "client_id": "bench"}
        return bench.http("POST", f"{api}/oauth/bench/token", grant)["access_token"]

    def linked(path):
        """`path` as a linked device."""
        return lambda port: (path, {"Authorization": f"Bearer {device_token(port)}"})

    def streaming(port):
        """A segment through the edge with a media token, as a player fetches it."""
        token = bench.http("GET", f"http://127.0.0.1:{port}/v1/requestors/bench/devices/tv/media-token?resource=news",
                           None, {"authorization": f"Bearer {device_token(port)}"})["token"]
        return "/content/seg.ts", {"X-Media-Token": token}

    q = "requestor=bench&deviceId=tv"
    groups = [
        [("bare Pingora passthrough", passthrough, ports["bare"], None),
         ("linkgate edge (throttle + XFF + token check)", linkgate, ports["linkgate"], streaming)],
        [("bare Pingora answering in request_filter", answer, ports["answer"], None),
         ("linkgate checkauthn (linked device)", linkgate, ports["linkgate"], linked(f"/api/v1/checkauthn?{q}")),
         ("linkgate authorize (cached decision)", linkgate, ports["linkgate"],
          linked(f"/api/v1/authorize?{q}&resource=news"))],
    ]
    # The origin answers outside valgrind: only the proxy's own instructions are counted.
    tmp = tempfile.mkdtemp(prefix="linkgate-instructions-origin-")
    conf = os.path.join(tmp, "origin.conf")
    with open(conf, "w") as f:
        f.write(bench.nginx_conf(tmp, "origin", f"listen 127.0.0.1:{ports['origin']}; location / {{ return 200 \"ok\"; }}"))
    origin = subprocess.Popen(["nginx", "-c", conf, "-e", os.path.join(tmp, "origin.err")])
    try:
        bench.wait_listening(ports["origin"], origin, "origin")
        print("| front | instructions per request | vs bare Pingora |\n|---|---|---|")
        for group in groups:
            base = None
            for name, argv, port, setup in group:
                n = per_request(argv, port, args.requests, setup)
                base = base or n
                print(f"| {name} | {n:,.0f} | {base / n:.2f}× |", flush=True)
    finally:
        origin.terminate()
        origin.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
