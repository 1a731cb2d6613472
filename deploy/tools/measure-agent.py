#!/usr/bin/env python3
"""Measures the Vigil agent as the DaemonSet runs it: the basis for its resource requests and limits.

Runs the agent (as root) with exactly the DaemonSet's capabilities (bounding set, no_new_privs),
its arguments and its ConfigMap laid out as the kubelet mounts it, then:
  1. idle for a while: resident memory and CPU;
  2. under a synthetic node load (processes spawned and files opened as fast as one core can):
     the event rate the agent sees, its CPU per 10,000 events/s, its resident memory, kernel drops.
The load runs on the same machine, so the agent competes with it for CPU: the numbers are what one
busy node costs, not a peak throughput benchmark (bench/ has those).

Usage (from the repository root, after `make bpf deploy-tools` and a build):
  build/venv/bin/python deploy/tools/measure-agent.py [--binary .build/release/vigil] [--seconds 20]
Needs PyYAML (build/venv has it) and util-linux's setpriv.
"""
import argparse
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def manifests():
    docs = []
    for f in sorted((REPO / "deploy" / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def project(docs, root):
    """Writes the ConfigMaps as the kubelet mounts them (..data symlink, one symlink per key)."""
    for name, mount in (("vigil-config", "/etc/vigil"), ("vigil-rules-local", "/etc/vigil-rules.d")):
        d = pathlib.Path(root + mount)
        stamp = d / "..2026_01_01"
        stamp.mkdir(parents=True)
        (d / "..data").symlink_to("..2026_01_01")
        for doc in docs:
            if doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == name:
                for k, v in doc["data"].items():
                    (stamp / k).write_text(v)
                    (d / k).symlink_to("..data/" + k)


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_kib(pid, key="VmRSS"):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    events = sum(float(m.group(1)) for m in re.finditer(r"^vigil_events_received_total\{[^}]*\} (\S+)$", text, re.M))
    drops = sum(float(m.group(1)) for m in re.finditer(r"^vigil_kernel_drops_total(?:\{[^}]*\})? (\S+)$", text, re.M))
    return events, drops


def load(stop):
    """A busy node, on one core: short-lived processes that open files."""
    script = "for i in $(seq 200); do /bin/true; cat /etc/hostname >/dev/null; done"
    while not stop.is_set():
        subprocess.run(["/bin/sh", "-c", script])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(REPO / ".build" / "release" / "vigil"))
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("measure-agent: needs root (the agent loads BPF programs)")
    docs = manifests()
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    c = ds["spec"]["template"]["spec"]["containers"][0]
    caps = [x.lower() for x in c["securityContext"]["capabilities"]["add"]]
    root = tempfile.mkdtemp(prefix="vigil-measure-")
    project(docs, root)
    port = random.randint(40000, 50000)
    argv = [a if not a.startswith("/etc/vigil") else root + a for a in c["args"]]
    argv += ["-o", f"webserver.listen_port={port}", "-o", "k8s.enabled=false"]
    env = dict(os.environ, NODE_NAME="measure-node", VIGIL_BPF_OBJECT=str(REPO / "build" / "bpf" / "vigil.bpf.o"))
    cmd = ["setpriv", "--bounding-set", ",".join(["-all"] + ["+" + x for x in caps]), "--inh-caps", "-all",
           "--no-new-privs", "--", args.binary] + argv
    out = open(os.path.join(root, "stdout"), "w")
    err = open(os.path.join(root, "stderr"), "w")
    agent = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=root, env=env)
    try:
        for _ in range(150):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                    break
            except Exception:
                pass
            if agent.poll() is not None:
                sys.exit("measure-agent: the agent exited: " + pathlib.Path(root, "stderr").read_text()[-2000:])
            time.sleep(0.2)
        else:
            sys.exit("measure-agent: the agent never became ready")
        pid = agent.pid
        time.sleep(3)
        result = {"binary": args.binary, "capabilities": caps}
        # Idle (whatever else the machine runs).
        e0, _ = metrics(port); c0 = cpu_seconds(pid); t0 = time.time()
        time.sleep(args.seconds)
        e1, d1 = metrics(port); c1 = cpu_seconds(pid); t1 = time.time()
        result["idle"] = {"events_per_s": round((e1 - e0) / (t1 - t0)), "cpu_cores": round((c1 - c0) / (t1 - t0), 4),
                          "rss_mib": round(rss_kib(pid) / 1024, 1)}
        # Loaded.
        stop = threading.Event()
        th = threading.Thread(target=load, args=(stop,))
        th.start()
        time.sleep(1)
        e0, d0 = metrics(port); c0 = cpu_seconds(pid); t0 = time.time()
        time.sleep(args.seconds)
        e1, d1 = metrics(port); c1 = cpu_seconds(pid); t1 = time.time()
        stop.set(); th.join()
        rate = (e1 - e0) / (t1 - t0)
        cores = (c1 - c0) / (t1 - t0)
        result["loaded"] = {"events_per_s": round(rate), "cpu_cores": round(cores, 4),
                            "cpu_millicores_per_10k_events_per_s": round(cores * 1000 * 10000 / rate, 1) if rate else None,
                            "rss_mib": round(rss_kib(pid) / 1024, 1), "kernel_drops": d1 - d0}
        result["peak_rss_mib"] = round(rss_kib(pid, "VmHWM") / 1024, 1)
        result["memory_limit"] = c["resources"]["limits"]["memory"]
        result["memory_request"] = c["resources"]["requests"]["memory"]
        print(json.dumps(result, indent=2))
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            agent.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
