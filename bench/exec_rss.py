#!/usr/bin/env python3
"""Agent peak memory under short and sustained exec storms (`make bench-exec-rss`; needs root).

For each agent binary (EXEC_RSS_BINS: `label=path,label=path`, default the release build; a
`label=path:DIR` entry runs that binary with DIR/vigil.yaml and the rules in DIR, e.g. an
older build with the rules/ of its commit),
alternated EXEC_RSS_ROUNDS times (default 2): `vigil run` as bench/kernel_cost.py starts it
(shipped config, default rules plus bench/kernel/exec_storm.yaml), then storms of
build/bench/exec_storm back to back (EXEC_RSS_STORMS, default `1000,3000,3000,3000,3000`: one
short storm, then a sustained one). After each storm, once the ring is drained: the agent's
peak RSS so far (VmHWM, /proc/PID/status), its current RSS, its CPU per exec (utime+stime),
the execs its exec-storm rule matched with full argv (every one must be), and the exited
processes its table keeps (`vigil_process_table_exited_entries`, `_bytes`,
`vigil_process_table_exited_evictions_total`; absent on agents without them).
Results: a table on stdout and bench/results/exec-rss-<time>.json.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_cost as kc  # noqa: E402

ROUNDS = int(os.environ.get("EXEC_RSS_ROUNDS", "2"))
STORMS = [int(x) for x in os.environ.get("EXEC_RSS_STORMS", "1000,3000,3000,3000,3000").split(",") if x.strip()]
BINS = [tuple(b.split("=", 1)) for b in os.environ.get("EXEC_RSS_BINS", f"agent={kc.VIGIL}").split(",") if b.strip()]
MATCH = f'vigil_rule_matches_total{{rule="{kc.EXEC_RULE}",priority="Notice"}}'


def storm(n):
    r = kc.run_json([os.path.join(kc.BENCH_BIN, "exec_storm"), str(n), kc.EXEC_MARKER])
    if r["failed"]:
        raise RuntimeError(f"exec storm: {r['failed']} execs failed")
    return r["rate"]


def run(label, path, tmp, r):
    path, _, rules = path.partition(":")
    rules = rules or os.path.join(kc.ROOT, "rules")
    kc.VIGIL = path
    kc.CONFIG = os.path.join(rules, "vigil.yaml")
    agent = kc.AgentRun([rules, kc.EXEC_RULES], tmp, f"rss-{label}-{r}")
    rows = []
    total = 0
    try:
        for n in STORMS:
            m0 = agent.settled_metrics(MATCH)
            c0 = kc.cpu_seconds(agent.pid)
            rate = storm(n)
            m1 = agent.settled_metrics(MATCH)
            cpu = kc.cpu_per_event(c0, kc.cpu_seconds(agent.pid), n)
            st = kc.proc_status(agent.pid)
            total += n
            row = {"execs": n, "execs_so_far": total, "rate": rate, "matched": kc.delta(m0, m1, MATCH),
                   "cpu_us_per_exec": cpu["total_us"], "vmhwm": st["VmHWM"], "vmrss": st["VmRSS"],
                   "exited_entries": m1.get("vigil_process_table_exited_entries"),
                   "exited_bytes": m1.get("vigil_process_table_exited_bytes"),
                   "exited_evictions": m1.get("vigil_process_table_exited_evictions_total"),
                   "table_entries": m1.get("vigil_process_table_entries")}
            rows.append(row)
            kc.log(f"{label} round {r + 1}: {n} execs ({total} so far) at {rate:.0f}/s, matched {row['matched']:.0f}, "
                   f"CPU {cpu['total_us']:.1f} µs/exec, VmHWM {st['VmHWM'] / 2**20:.1f} MiB, VmRSS {st['VmRSS'] / 2**20:.1f} MiB, "
                   f"exited kept {row['exited_entries']}")
    finally:
        stats = agent.stop()
    return {"label": label, "binary": path, "round": r, "storms": rows, "final_stats": kc.compact_stats(stats)}


def main():
    if os.geteuid() != 0:
        sys.exit("exec_rss.py needs root (it loads BPF programs)")
    runs = []
    with tempfile.TemporaryDirectory(prefix="vigil-exec-rss-") as tmp:
        for r in range(ROUNDS):
            for label, path in BINS:
                runs.append(run(label, path, tmp, r))
    load = os.getloadavg()
    mib = 2**20
    print(f"\nAgent memory under exec storms (load average {load[0]:.1f}; storms back to back: {STORMS})")
    print("| agent | round | execs so far | rate | matched | agent CPU µs/exec | VmHWM MiB | VmRSS MiB | exited kept | exited KiB | exited evicted |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run_ in runs:
        for s in run_["storms"]:
            def opt(v, scale=1):
                return "" if v is None else f"{v / scale:.0f}"
            print(f"| {run_['label']} | {run_['round'] + 1} | {s['execs_so_far']} | {s['rate']:.0f}/s | {s['matched']:.0f}/{s['execs']} | "
                  f"{s['cpu_us_per_exec']:.1f} | {s['vmhwm'] / mib:.1f} | {s['vmrss'] / mib:.1f} | {opt(s['exited_entries'])} | "
                  f"{opt(s['exited_bytes'], 1024)} | {opt(s['exited_evictions'])} |")
    os.makedirs(kc.RESULTS, exist_ok=True)
    path = os.path.join(kc.RESULTS, "exec-rss-" + time.strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path, "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadavg": load, "kernel": os.uname().release,
                   "storms": STORMS, "runs": runs}, f, indent=2)
    print(f"\nResults in {os.path.relpath(path, kc.ROOT)}")


if __name__ == "__main__":
    main()
