#!/usr/bin/env python3
"""Paired per-program cost of BPF objects under the open storm (needs root).

    python3 bench/bpf_pairs.py LABEL=OBJECT[;NAME=VALUE...] [LABEL=OBJECT ...]

Compares builds of vigil.bpf.o (a change and its base, or throwaway variants that each skip one
piece of the capture path) in one invocation, on the same machine state: every round runs the
empty tp_btf/sys_exit program (bench/floor.bpf.c, the floor), the minimal capture (the same
file's min_capture_sys_exit: a boot-clock timestamp, the path read from user memory and one
184-byte ring record per openat, nothing else: the least any capture of the call with its path
costs on this machine; and the same without the clock) and then `vigil run` once per
object (VIGIL_BPF_OBJECT; the open-storm rule bench/kernel/open_storm.yaml, which needs every
open), in an order rotated each round, and measures the failed-openat storm (BENCH_OPENS
calls) with kernel.bpf_stats_enabled=1: run_time_ns / run_cnt of the object's vigil_sys_exit
(floor_sys_exit for the floor) over the storm, the storm's rate, and the openat records the
agent received. Other processes' wanted syscalls run the program too (a busy machine): a storm
whose run count exceeds its calls by more than 1% is measured again (up to four times).
Reported: the median ns per run of each over BENCH_ROUNDS rounds, the median
of its paired difference to the first object, and the floor. bpf_stats is turned off between
storms and at the end. `;NAME=VALUE` after an object sets an environment variable for that
agent only (VIGIL_BIN for another build of the agent, say).

Environment: BENCH_ROUNDS (5), BENCH_OPENS (300000), VIGIL_BIN (.build/release/vigil).
"""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_cost as kc  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
OPENS = int(os.environ.get("BENCH_OPENS", "300000"))
VIGIL = kc.VIGIL
KEY = 'vigil_events_received_total{type="openat"}'


def storm_rate():
    r = kc.run_json([os.path.join(kc.BENCH_BIN, "open_storm"), str(OPENS), kc.OPEN_PATH])
    if r["failed"] != OPENS:
        raise RuntimeError(f"open storm: {OPENS - r['failed']} opens succeeded (expected ENOENT)")
    return r["rate"]


def prog_stats(pid, name):
    """(run_time_ns, run_cnt) of the program `name` held by process `pid`."""
    owned = kc.owned_program_ids(pid)
    progs = kc.json.loads(kc.subprocess.run(["bpftool", "prog", "show", "-j"], check=True,
                                            capture_output=True, text=True).stdout)
    for p in progs:
        if p["id"] in owned and p.get("name") == name:
            return p.get("run_time_ns", 0), p.get("run_cnt", 0)
    raise RuntimeError(f"no program {name} held by pid {pid}")


def measured(pid, name):
    """ns per run of `name` over one storm with bpf_stats on, and the storm's rate."""
    kc.set_bpf_stats(True)
    try:
        t0, c0 = prog_stats(pid, name)
        rate = storm_rate()
        t1, c1 = prog_stats(pid, name)
    finally:
        kc.set_bpf_stats(False)
    return (t1 - t0) / max(c1 - c0, 1), c1 - c0, rate


def run_floor(tmp, r):
    p = kc.Peer([kc.FLOOR_LOADER, kc.FLOOR_OBJ, "floor_sys_exit"], "attached", tmp, f"pair-floor-{r}")
    try:
        return measured(p.proc.pid, "floor_sys_exit")
    finally:
        p.stop()


def run_min_capture(tmp, r, prog):
    """A minimal capture (bench/floor.bpf.c's min_capture_sys_exit: clock, path, ring record;
    min_path_sys_exit: the same without the clock; drained by floor_loader): the least a
    capture of the open with its path costs here."""
    p = kc.Peer([kc.FLOOR_LOADER, kc.FLOOR_OBJ, prog], "attached", tmp, f"pair-{prog}-{r}")
    try:
        storm_rate()  # warm-up: the ring's pages
        return measured(p.proc.pid, prog)
    finally:
        p.stop()


def run_object(tmp, r, label, obj, env):
    saved = dict(os.environ)
    os.environ.update(env, VIGIL_BPF_OBJECT=obj)
    try:
        kc.VIGIL = os.environ.get("VIGIL_BIN", kc.VIGIL)
        agent = kc.AgentRun([kc.OPEN_RULES], tmp, f"pair-{label}-{r}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
        kc.VIGIL = VIGIL
    try:
        storm_rate()  # warm-up: caches, ring pages, the agent's tables
        for attempt in range(4):
            before = agent.settled_metrics(KEY)
            ns, runs, rate = measured(agent.pid, "vigil_sys_exit")
            after = agent.settled_metrics(KEY)
            # Other processes' wanted syscalls run the program too: a storm whose run count
            # is more than 1% above its calls measured them as much as the storm; again.
            if runs <= OPENS * 1.01:
                break
            kc.log(f"round {r + 1} {label}: {runs} runs for {OPENS} opens (other load), measuring again")
    finally:
        agent.stop()
    return ns, runs, rate, kc.delta(before, after, KEY)


def main():
    # SIGTERM unwinds like Ctrl-C: the agent is stopped and bpf_stats turned off on the way out.
    kc.signal.signal(kc.signal.SIGTERM, lambda *_: sys.exit("bpf_pairs: terminated"))
    objs = []
    for a in sys.argv[1:]:
        label, _, rest = a.partition("=")
        path, *envs = rest.split(";")
        if not path or not os.path.exists(path):
            sys.exit(f"bpf_pairs: expected LABEL=OBJECT with an existing object, got {a!r}")
        env = dict(e.split("=", 1) for e in envs if "=" in e)
        objs.append((label, os.path.abspath(path), env))
    if not objs:
        sys.exit(__doc__)
    res = {label: [] for label, _, _ in objs}
    floor, minimal, path_only = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            floor.append(run_floor(tmp, r)[0])
            minimal.append(run_min_capture(tmp, r, "min_capture_sys_exit")[0])
            path_only.append(run_min_capture(tmp, r, "min_path_sys_exit")[0])
            order = objs[r % len(objs):] + objs[:r % len(objs)]
            for label, obj, env in order:
                ns, runs, rate, received = run_object(tmp, r, label, obj, env)
                res[label].append(ns)
                kc.log(f"round {r + 1} {label}: {ns:.1f} ns/run ({runs} runs), {rate:.0f} opens/s, "
                       f"received {received:.0f}/{OPENS}")
            kc.log(f"round {r + 1} floor: {floor[-1]:.1f} ns/run, minimal capture {minimal[-1]:.1f} ns/run, "
                   f"without its clock {path_only[-1]:.1f} ns/run")
    base = objs[0][0]
    print(f"{'object':24} {'median ns':>10} {'vs ' + base:>12} {'min':>8} {'max':>8}")
    print(f"{'floor (empty program)':24} {statistics.median(floor):10.1f} {'':>12} {min(floor):8.1f} {max(floor):8.1f}")
    for label, v in (("minimal capture", minimal), ("  without its clock", path_only)):
        print(f"{label:24} {statistics.median(v):10.1f} {'':>12} {min(v):8.1f} {max(v):8.1f}")
    for label, _, _ in objs:
        v = res[label]
        d = statistics.median(a - b for a, b in zip(v, res[base]))
        print(f"{label:24} {statistics.median(v):10.1f} {d:+12.1f} {min(v):8.1f} {max(v):8.1f}")


if __name__ == "__main__":
    main()
