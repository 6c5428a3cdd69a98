#!/usr/bin/env python3
"""The three stores side by side, each at the size it is meant for: the file store with
1 M links, the postgres store with 10 M (a database of its own on a PostgreSQL started by
tests/postgres/postgres.sh, as Debian ships it), Kubernetes mode with 25 k DeviceLinks (a
control plane of its own, tests/control-plane/cluster.sh). `store-bench` measures each from
a gateway's side; what the API server and etcd hold per DeviceLink is measured here, on
their process and data directory. Prints a Markdown table.

    python3 tests/bench/stores.py --bin-dir DIR [--file N] [--postgres N] [--kubernetes N] [--out F]

DIR holds `store-bench` (cargo build --profile production -p linkgate-tests --bins). Each
store is left as it was found: the servers started here are stopped and their data removed.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
POSTGRES = ROOT / "tests" / "postgres" / "postgres.sh"
CONTROL_PLANE = ROOT / "tests" / "control-plane" / "cluster.sh"
INSTANCE = "store-bench"


def store_bench(bin_dir, args, env=None, timeout=3 * 3600):
    print(f"store-bench {' '.join(args)}", file=sys.stderr)
    out = subprocess.run([os.path.join(bin_dir, "store-bench"), *args], capture_output=True,
                         text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if out.returncode != 0:
        sys.exit(f"store-bench failed:\n{out.stderr}")
    return json.loads(out.stdout)


def rss_kib(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    return next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS:"))


def du_bytes(path):
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def postgres(bin_dir, links):
    url = subprocess.run([str(POSTGRES), "start", INSTANCE], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        subprocess.run(["psql", "-q", url, "-c", "CREATE DATABASE links"], check=True)
        return store_bench(bin_dir, ["--backend", "postgres", "--database-url",
                                     url.rsplit("/", 1)[0] + "/links", str(links)])
    finally:
        subprocess.run([str(POSTGRES), "stop", INSTANCE], check=False)


def kubernetes(bin_dir, links):
    kubeconfig = subprocess.run([str(CONTROL_PLANE), "start", INSTANCE], capture_output=True,
                                text=True, check=True).stdout.strip().splitlines()[-1]
    instance = pathlib.Path(kubeconfig).parent
    env = {"KUBECONFIG": kubeconfig}
    try:
        kubectl = lambda *a: subprocess.run(["kubectl", *a], env={**os.environ, **env},
                                            check=True, capture_output=True)
        kubectl("apply", "--server-side", "-f", str(ROOT / "crds" / "crds.yaml"))
        kubectl("create", "namespace", "bench")
        pid = int((instance / "pid").read_text())
        rss0, disk0 = rss_kib(pid), du_bytes(instance / "data")
        result = store_bench(bin_dir, ["--backend", "kubernetes", "--namespace", "bench",
                                       "--write-secs", "0", str(links)], env)
        result["apiserver_kib_per_link"] = round((rss_kib(pid) - rss0) / links, 1)
        result["bytes_per_link"] = round((du_bytes(instance / "data") - disk0) / links)
        # The fill is the writes: one DeviceLink at a time from 32 clients.
        result["writes_per_s"] = round(links / result["import_s"])
        return result
    finally:
        subprocess.run([str(CONTROL_PLANE), "stop", INSTANCE], check=False)


def row(name, r):
    cell = lambda key, fmt: fmt.format(r[key]) if r.get(key) is not None else "–"
    lookup = (f"{cell('lookup_p50_us', '{:.2f}')} / {cell('lookup_p99_us', '{:.2f}')}"
              if "lookup_p50_us" in r else
              f"cached {cell('cached_p50_us', '{:.2f}')} / {cell('cached_p99_us', '{:.2f}')}; "
              f"uncached {cell('uncached_p50_us', '{:.0f}')} / {cell('uncached_p99_us', '{:.0f}')}")
    return (f"| {name} | {r['links']:,} | {cell('writes_per_s', '{:,.0f}')} | {lookup} | "
            f"{cell('rss_mib', '{:.0f}')} / {cell('rss_after_lookups_mib', '{:.0f}')} | {cell('bytes_per_link', '{:,.0f}')} | "
            f"{cell('import_s', '{:.0f}')} s / {cell('load_s', '{:.1f}')} s |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--file", type=int, default=1_000_000)
    parser.add_argument("--postgres", type=int, default=10_000_000)
    parser.add_argument("--kubernetes", type=int, default=25_000)
    parser.add_argument("--out")
    args = parser.parse_args()
    runs = []
    if args.file:
        runs.append(("file", store_bench(args.bin_dir, [str(args.file)])))
    if args.postgres:
        runs.append(("postgres", postgres(args.bin_dir, args.postgres)))
    if args.kubernetes:
        runs.append(("kubernetes", kubernetes(args.bin_dir, args.kubernetes)))
    table = ("| store | links | new links/s (32 clients) | lookup p50 / p99 µs | gateway RSS MiB, opened / after lookups "
             "| bytes per link stored | fill / open |\n|---|---|---|---|---|---|---|\n")
    table += "".join(row(name, r) + "\n" for name, r in runs)
    for name, r in runs:
        table += f"\n{name}: `{json.dumps(r)}`\n"
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(table)


if __name__ == "__main__":
    main()
