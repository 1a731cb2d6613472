#!/usr/bin/env python3
"""What the in-kernel filter of failed calls saves (`make bench-filter`; needs root).

The open storm of bench/kernel_cost.py (N failed openat(2), ENOENT) under `vigil run` with:

every open needed : bench/kernel/open_storm.yaml, a rule that needs failed opens in user space
                    (nothing can be filtered: the cost before the filter);
success-only      : bench/kernel/open_storm_success.yaml, the same rule asking for successful
                    opens only (`evt.rawres >= 0`): the kernel drops the failed ones;
default rules     : rules/ (Vigil's defaults; "Kernel memory read" reports failed reads of
                    /proc/kcore and three more exact paths, so the kernel keeps the failed
                    opens of those and drops the storm's by their path);
drop_failed_exit  : rules/ with engine.modern_ebpf.drop_failed_exit=true (Falco's meaning).

For each: the storm's rate (and the ratio to bare runs just before and after), the records
received and filtered in the kernel (vigil_kernel_filtered_total, reason "failed" plus
"failed_path"), and with
kernel.bpf_stats_enabled=1 over one more storm, vigil_sys_exit's ns per run and per storm call.
Environment: BENCH_OPENS (300000), VIGIL_BIN. Results: bench/results/filter-<time>.json.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_cost as kc  # noqa: E402

OPENS = int(os.environ.get("BENCH_OPENS", "300000"))
SUCCESS_RULES = os.path.join(kc.ROOT, "bench", "kernel", "open_storm_success.yaml")
FILTERED = ('vigil_kernel_filtered_total{reason="failed"}', 'vigil_kernel_filtered_total{reason="failed_path"}')
RECEIVED = 'vigil_events_received_total{type="openat"}'


def storm():
    r = kc.run_json([os.path.join(kc.BENCH_BIN, "open_storm"), str(OPENS), kc.OPEN_PATH])
    if r["failed"] != OPENS:
        raise RuntimeError("open storm: some opens succeeded (expected ENOENT)")
    return r["rate"]


def run_agent(rules, tmp, label, overrides=()):
    """kernel_cost's agent run, through a wrapper that adds `-o` overrides."""
    orig = kc.VIGIL
    wrapper = os.path.join(tmp, f"vigil-{label}.sh")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec " + orig + ' "$@"' + "".join(f" -o {o}" for o in overrides) + "\n")
    os.chmod(wrapper, 0o755)
    kc.VIGIL = wrapper
    try:
        return kc.AgentRun(rules, tmp, label)
    finally:
        kc.VIGIL = orig


def main():
    if os.geteuid() != 0:
        sys.exit("bench-filter needs root (BPF)")
    cases = [
        ("every open needed", [kc.OPEN_RULES], ()),
        ("success-only", [SUCCESS_RULES], ()),
        ("default rules", [kc.DEFAULT_RULES], ()),
        ("drop_failed_exit", [kc.DEFAULT_RULES], ("engine.modern_ebpf.drop_failed_exit=true",)),
    ]
    out = {"opens": OPENS, "vigil": kc.VIGIL, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        bare_before = storm()
        for label, rules, overrides in cases:
            agent = run_agent(rules, tmp, label.replace(" ", "-"), overrides)
            try:
                m0 = agent.settled_metrics(RECEIVED)
                rate = storm()
                m1 = agent.settled_metrics(RECEIVED)
                p0 = kc.vigil_programs(agent.pid)
                kc.set_bpf_stats(True)
                try:
                    a = kc.vigil_programs(agent.pid)
                    storm()
                    b = kc.vigil_programs(agent.pid)
                finally:
                    kc.set_bpf_stats(False)
                if not p0:
                    raise RuntimeError("no vigil_* programs")
                progs = kc.program_costs(a, b, OPENS)
            finally:
                stats = agent.stop()
            bare_after = storm()
            exit_prog = progs.get("vigil_sys_exit", {})
            row = {
                "rate": round(rate), "ratio_to_bare": round(rate / ((bare_before + bare_after) / 2), 3),
                "received": int(m1.get(RECEIVED, 0) - m0.get(RECEIVED, 0)),
                "filtered": int(sum(m1.get(k, 0) - m0.get(k, 0) for k in FILTERED)),
                "filtered_by_path": int(m1.get(FILTERED[1], 0) - m0.get(FILTERED[1], 0)),
                "ring_full": int(kc.drops(m0, m1)["ring_full"]),
                "sys_exit_ns_per_run": round(exit_prog.get("ns_per_run", 0), 1),
                "sys_exit_ns_per_storm_call": round(exit_prog.get("ns_per_event", 0), 1),
                "sys_exit_runs_per_storm_call": round(exit_prog.get("runs_per_event", 0), 3),
            }
            out["cases"][label] = row
            kc.log(f"{label:18s} rate {row['rate']:>9}/s ({row['ratio_to_bare']}x bare)  received {row['received']:>8}  "
                   f"filtered {row['filtered']:>8} (by path {row['filtered_by_path']})  ring_full {row['ring_full']:>7}  sys_exit {row['sys_exit_ns_per_run']} ns/run, "
                   f"{row['sys_exit_ns_per_storm_call']} ns per storm call")
            bare_before = bare_after
    os.makedirs(kc.RESULTS, exist_ok=True)
    path = os.path.join(kc.RESULTS, time.strftime("filter-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2))
    kc.log(f"results: {path}")


if __name__ == "__main__":
    main()
