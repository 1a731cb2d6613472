#!/usr/bin/env python3
"""Two BPF objects measured in the same exec storm: one agent per object attached at once, so
every syscall of the storm runs both objects' programs under the same load; bpf_stats per program.

usage: bench/bpf_exec_pairs.py [exec|open|opensucc] ROUNDS N OBJECT_A[@VIGIL_BIN] OBJECT_B[@VIGIL_BIN]

Each agent is `vigil run` (release build: $VIGIL_BIN or .build/release/vigil, or the binary after
`@`, for objects whose selection layout needs their own build) with the default rules and
bench/kernel/exec_storm.yaml (`exec`: build/bench/exec_storm N of /bin/true), or
bench/kernel/open_storm.yaml (`open`: N failed openat; `opensucc`: N openat + close of libc).
The attach order alternates per round (the program attached first pays for the cold lines the
second one finds warm). Per round: a warm-up storm of N/3, then the storm with bpf_stats on
(`kernel.bpf_stats_enabled`, back to 0 after); prints each program's ns per run x runs per storm
iteration, the means over both orders and the per-round difference B - A of vigil_sys_exit's ns
per run and per storm iteration (runs of other processes' syscalls are included in both alike).
Build the storms first: make build/bench/exec_storm build/bench/open_storm.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_cost as kc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL_BIN", ROOT + "/.build/release/vigil")
BENCH = ROOT + "/build/bench"


def storm(part, n):
    if part == "open":
        cmd = [BENCH + "/open_storm", str(n), "/nonexistent/vigil-bench/open-storm"]
    elif part == "opensucc":
        cmd = [BENCH + "/open_storm", str(n), "/usr/lib/x86_64-linux-gnu/libc.so.6"]
    else:
        cmd = [BENCH + "/exec_storm", str(n), "vigil-exec-storm-bench"]
    subprocess.run(cmd, check=True, capture_output=True)


def progs():
    out = {}
    for p in json.loads(subprocess.run(["bpftool", "prog", "show", "-j"], check=True, capture_output=True, text=True).stdout):
        out[p["id"]] = (p.get("name", ""), p.get("run_time_ns", 0), p.get("run_cnt", 0))
    return out


def owned(pid):
    """The BPF program ids the process holds open."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-prog":
                continue
            for line in open(f"/proc/{pid}/fdinfo/{fd}"):
                if line.startswith("prog_id:"):
                    ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def start(spec, rules):
    obj, _, binary = spec.partition("@")
    port = kc.free_port()
    cmd = [binary or VIGIL, "run", "-c", ROOT + "/rules/vigil.yaml"]
    for r in rules:
        cmd += ["-r", r]
    cmd += ["-o", "webserver.listen_address=127.0.0.1", "-o", f"webserver.listen_port={port}", "-o", "watch_config_files=false"]
    err = f"/tmp/bpf-exec-pairs-{os.getpid()}-{port}.err"
    agent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(err, "w"), env=dict(os.environ, VIGIL_BPF_OBJECT=obj))
    deadline = time.time() + 120
    while time.time() < deadline:
        if agent.poll() is not None:
            raise SystemExit(f"agent for {obj} exited: " + open(err).read()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return agent
        except OSError:
            pass
        time.sleep(0.1)
    agent.kill()
    raise SystemExit(f"agent for {obj} not ready in 120 s")


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("exec", "open", "opensucc"):
        raise SystemExit(__doc__)
    part, rounds, n, specs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:6]
    names = [os.path.basename(s.partition("@")[0]) for s in specs]
    if names[0] == names[1]:
        names = ["A:" + names[0], "B:" + names[1]]
    rules = [ROOT + "/bench/kernel/open_storm.yaml"] if part != "exec" else [ROOT + "/rules", ROOT + "/bench/kernel/exec_storm.yaml"]
    res = {0: {}, 1: {}}
    per_iter = {0: [], 1: []}
    stats = "/proc/sys/kernel/bpf_stats_enabled"
    try:
        for r in range(rounds):
            order = [0, 1] if r % 2 == 0 else [1, 0]
            agents = {}
            try:
                for i in order:
                    agents[i] = start(specs[i], rules)
                storm(part, max(1, n // 3))
                ids = {i: owned(a.pid) for i, a in agents.items()}
                open(stats, "w").write("1")
                before = progs()
                storm(part, n)
                after = progs()
                open(stats, "w").write("0")
            finally:
                for a in agents.values():
                    a.send_signal(signal.SIGINT)
                for a in agents.values():
                    a.wait(timeout=60)
            line = f"round {r} (first attached: {names[order[0]]}):"
            for i in (0, 1):
                for pid in sorted(ids[i]):
                    name, t1, c1 = after[pid]
                    _, t0, c0 = before.get(pid, (name, 0, 0))
                    if c1 == c0:
                        continue
                    ns = (t1 - t0) / (c1 - c0)
                    res[i].setdefault(name, []).append(ns)
                    if name == "vigil_sys_exit":
                        per_iter[i].append((t1 - t0) / n)
                    line += f" {names[i]}.{name}={ns:.0f}x{(c1 - c0) / n:.2f}"
            print(line, flush=True)
    finally:
        open(stats, "w").write("0")
    print("means over both orders (ns per run):")
    for i in (0, 1):
        print(f"  {names[i]}: " + " ".join(f"{k}={statistics.mean(v):.0f}" for k, v in sorted(res[i].items())))
    d = [b - a for a, b in zip(res[0]["vigil_sys_exit"], res[1]["vigil_sys_exit"])]
    e = [(b - a) / 1000 for a, b in zip(per_iter[0], per_iter[1])]
    rel = [(b - a) / a * 100 for a, b in zip(per_iter[0], per_iter[1])]
    print(f"  vigil_sys_exit B - A per round: ns per run {[round(x) for x in d]} (mean {statistics.mean(d):.1f}); "
          f"us per storm iteration {[round(x, 2) for x in e]} (median {statistics.median(e):.2f}); "
          f"% {[round(x, 1) for x in rel]} (median {statistics.median(rel):.1f})")


if __name__ == "__main__":
    main()
