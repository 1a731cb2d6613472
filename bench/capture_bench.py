#!/usr/bin/env python3
"""Vigil capture benchmarks (run by `make bench`; needs root).

open storm : N openat+close calls by build/bench/open_storm, bare and under
             `vigil trace --kinds open`, bpftrace (in-kernel count) and
             libbpf-tools opensnoop; rates, ratio to bare, events received.
exec storm : N fork+exec of /bin/true with a marker argument, bare, under
             `vigil trace --kinds exec` and execsnoop; execs seen with full argv.
decode loop: records/s of `vigil trace --read FILE` over a recorded capture,
             decode + process table only (--count-only) and with JSON output.

Results go to bench/results/capture-<time>.json and a table on stdout.
Each peer runs right after a bare run, so that every ratio compares runs made
under the same machine load.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL_BIN", os.path.join(ROOT, ".build", "release", "vigil"))
BENCH_BIN = os.path.join(ROOT, "build", "bench")
OPENS = int(os.environ.get("BENCH_OPENS", "2000000"))
EXECS = int(os.environ.get("BENCH_EXECS", "5000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RESULTS = os.path.join(ROOT, "bench", "results")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def open_storm():
    return run_json([os.path.join(BENCH_BIN, "open_storm"), str(OPENS)])


def exec_storm(marker):
    return run_json([os.path.join(BENCH_BIN, "exec_storm"), str(EXECS), marker])


def start(cmd, ready, stdout, stderr_path, timeout=60):
    """Starts a tracer and waits until `ready(stderr_text)` says it is attached."""
    err = open(stderr_path, "w+")
    p = subprocess.Popen(cmd, stdout=stdout, stderr=err)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.poll() is not None:
            err.seek(0)
            raise RuntimeError(f"{cmd[0]} exited early: {err.read()[-2000:]}")
        err.seek(0)
        if ready(err.read()):
            time.sleep(0.3)
            return p, err
        time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"{cmd[0]} did not become ready in {timeout}s")


def stop(p, err, timeout=120):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    err.seek(0)
    return err.read()


def vigil_stats(stderr_text):
    for line in reversed(stderr_text.splitlines()):
        if line.startswith('{"stats"'):
            return json.loads(line)["stats"]
    raise RuntimeError("no stats line from vigil trace:\n" + stderr_text[-2000:])


def bench_open(tmp):
    rows = []
    for r in range(ROUNDS):
        bare = open_storm()
        log(f"open storm bare: {bare['rate']:.0f}/s")
        rows.append(("bare", bare, None))

        # vigil trace: full work per event (decode, process table, JSON to /dev/null).
        with open(os.devnull, "w") as devnull:
            p, err = start([VIGIL, "trace", "--kinds", "open", "--comm", "vigil_openstorm"],
                           lambda t: "BPF programs attached" in t, devnull, os.path.join(tmp, "vigil.err"))
            res = open_storm()
            stats = vigil_stats(stop(p, err))
        rows.append(("vigil trace", res, {"received": stats["events_printed"], "kernel_drops": stats["kernel_drops"],
                                          "decode_errors": stats["decode_errors"]}))
        log(f"open storm vigil: {res['rate']:.0f}/s received {stats['events_printed']} drops {stats['kernel_drops']}")

        bare2 = open_storm()
        rows.append(("bare", bare2, None))
        prog = 'tracepoint:syscalls:sys_enter_openat /comm == "vigil_openstorm"/ { @n = count(); }'
        out_path = os.path.join(tmp, "bpftrace.out")
        with open(out_path, "w") as out:
            p, err = start(["bpftrace", "-e", prog], lambda t: True, out, os.path.join(tmp, "bpftrace.err"))
            # bpftrace prints "Attaching 1 probe..." on stdout
            deadline = time.time() + 60
            while time.time() < deadline and "Attaching" not in open(out_path, errors="replace").read():
                time.sleep(0.05)
            time.sleep(0.3)
            res = open_storm()
            stop(p, err)
        text = open(out_path).read()
        n = 0
        for line in text.splitlines():
            if line.startswith("@n:"):
                n = int(line.split(":")[1])
        rows.append(("bpftrace (count)", res, {"received": n, "kernel_drops": None}))
        log(f"open storm bpftrace: {res['rate']:.0f}/s counted {n}")

        if r > 0:
            continue
        bare3 = open_storm()
        rows.append(("bare", bare3, None))
        out_path = os.path.join(tmp, "opensnoop.out")
        with open(out_path, "w") as out:
            p, err = start(["opensnoop", "-n", "vigil_openstorm"], lambda t: True, out, os.path.join(tmp, "opensnoop.err"))
            deadline = time.time() + 60
            while time.time() < deadline and "PID" not in open(out_path, errors="replace").read():
                time.sleep(0.05)
            time.sleep(0.3)
            res = open_storm()
            errtext = stop(p, err)
        seen = sum(1 for line in open(out_path, errors="replace") if "vigil_openstor" in line)
        lost = 0
        for line in errtext.splitlines():
            if "lost" in line.lower():
                try:
                    lost += int(line.split()[1])
                except (ValueError, IndexError):
                    pass
        rows.append(("opensnoop", res, {"received": seen, "kernel_drops": lost}))
        log(f"open storm opensnoop: {res['rate']:.0f}/s seen {seen}")
    return rows


def bench_exec(tmp):
    rows = []
    marker = f"vigil-exec-storm-{os.getpid()}"
    bare = exec_storm(marker)
    rows.append(("bare", bare, None))
    log(f"exec storm bare: {bare['rate']:.0f}/s")

    out_path = os.path.join(tmp, "vigil-exec.out")
    with open(out_path, "w") as out:
        p, err = start([VIGIL, "trace", "--kinds", "exec", "--comm", "true"],
                       lambda t: "BPF programs attached" in t, out, os.path.join(tmp, "vigil-exec.err"))
        res = exec_storm(marker)
        stats = vigil_stats(stop(p, err))
    full = 0
    for line in open(out_path, errors="replace"):
        if marker in line:
            o = json.loads(line)
            if o.get("proc.argv") == ["/bin/true", marker] and o.get("proc.exepath", "").endswith("/true"):
                full += 1
    rows.append(("vigil trace", res, {"received": full, "kernel_drops": stats["kernel_drops"]}))
    log(f"exec storm vigil: {res['rate']:.0f}/s full argv {full}")

    bare2 = exec_storm(marker)
    rows.append(("bare", bare2, None))
    out_path = os.path.join(tmp, "execsnoop.out")
    with open(out_path, "w") as out:
        p, err = start(["execsnoop"], lambda t: True, out, os.path.join(tmp, "execsnoop.err"))
        deadline = time.time() + 60
        while time.time() < deadline and "PCOMM" not in open(out_path, errors="replace").read():
            time.sleep(0.05)
        time.sleep(0.3)
        res = exec_storm(marker)
        stop(p, err)
    seen = sum(1 for line in open(out_path, errors="replace") if marker in line)
    rows.append(("execsnoop", res, {"received": seen, "kernel_drops": None}))
    log(f"exec storm execsnoop: {res['rate']:.0f}/s seen {seen}")
    return rows


def bench_decode(tmp):
    """Records a capture of an open storm, then times reading it back."""
    cap = os.path.join(tmp, "storm.vcap")
    n = min(OPENS, 1000000)
    p, err = start([VIGIL, "trace", "--kinds", "open,exec,fork,exit", "--write", cap],
                   lambda t: "BPF programs attached" in t, subprocess.DEVNULL, os.path.join(tmp, "vigil-write.err"))
    run_json([os.path.join(BENCH_BIN, "open_storm"), str(n)])
    stats = vigil_stats(stop(p, err))
    records = stats["events_total"]
    out = {}
    for label, extra in (("decode + process table", ["--count-only"]),
                         ("decode + process table + JSON", []),
                         ("decode only (no state)", ["--count-only", "--no-state"])):
        t0 = time.perf_counter()
        subprocess.run([VIGIL, "trace", "--read", cap] + extra, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        out[label] = {"records": records, "seconds": round(dt, 3), "rate": round(records / dt)}
        log(f"decode loop {label}: {records / dt:.0f} records/s")
    return out


def main():
    if os.geteuid() != 0:
        sys.exit("capture benchmarks need root (BPF)")
    for tool in (VIGIL, os.path.join(BENCH_BIN, "open_storm"), os.path.join(BENCH_BIN, "exec_storm")):
        if not os.access(tool, os.X_OK):
            sys.exit(f"missing {tool}: run `make bench`")
    os.makedirs(RESULTS, exist_ok=True)
    # Other BPF tracing programs (another agent running) slow every run, bare included.
    try:
        progs = subprocess.run(["bpftool", "prog", "list"], capture_output=True, text=True).stdout
        others = sum(1 for line in progs.splitlines() if " tracing " in line or " tracepoint " in line
                     or " raw_tracepoint " in line)
    except OSError:
        others = -1
    if others > 0:
        log(f"warning: {others} BPF tracing programs of other tools are attached; all rates include their cost")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        opens = bench_open(tmp)
        execs = bench_exec(tmp)
        decode = bench_decode(tmp)
    load = os.getloadavg()

    def table(rows, made):
        lines = []
        bare = None
        for name, res, rec in rows:
            if name == "bare":
                bare = res["rate"]
                lines.append(f"  {'bare':<28} {res['rate']:>10.0f}/s")
                continue
            ratio = res["rate"] / bare if bare else 0
            received = rec["received"]
            drops = rec.get("kernel_drops")
            lines.append(f"  {name:<28} {res['rate']:>10.0f}/s  {ratio:5.2f}x of bare   received {received}/{made}"
                         f" ({100.0 * received / made:.2f}%)" + (f"  drops {drops}" if drops is not None else ""))
        return lines

    report = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadavg": load,
              "other_bpf_tracing_programs": others,
              "opens": OPENS, "execs": EXECS,
              "open_storm": [{"tool": n, **r, **(x or {})} for n, r, x in opens],
              "exec_storm": [{"tool": n, **r, **(x or {})} for n, r, x in execs],
              "decode_loop": decode}
    path = os.path.join(RESULTS, "capture-" + time.strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nVigil capture benchmarks ({report['time']}, load average {load[0]:.1f}, "
          f"{others} other BPF tracing programs attached; results in {path})")
    print(f"Open storm ({OPENS} openat):")
    print("\n".join(table(opens, OPENS)))
    print(f"  best of {ROUNDS} rounds (the machine is shared; the fastest run has the least interference):")
    best = {}
    for name, res, rec in opens:
        b = best.setdefault(name, {"rate": 0, "received": [], "drops": 0})
        b["rate"] = max(b["rate"], res["rate"])
        if rec:
            b["received"].append(rec["received"])
            b["drops"] += rec.get("kernel_drops") or 0
    report["open_storm_best"] = best
    for name, b in best.items():
        if name == "bare":
            print(f"    {'bare':<26} {b['rate']:>10.0f}/s")
        else:
            recv = min(b["received"]) if b["received"] else 0
            print(f"    {name:<26} {b['rate']:>10.0f}/s  {b['rate'] / best['bare']['rate']:5.2f}x of best bare"
                  f"   worst received {recv}/{OPENS} ({100.0 * recv / OPENS:.2f}%)")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"Exec storm ({EXECS} fork+exec /bin/true):")
    print("\n".join(table(execs, EXECS)))
    print("Decode loop (vigil trace --read, one thread):")
    for k, v in decode.items():
        print(f"  {k:<34} {v['rate']:>10}/s  ({v['records']} records in {v['seconds']} s)")


if __name__ == "__main__":
    main()
