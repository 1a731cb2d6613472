#!/usr/bin/env python3
"""Hostile-input benchmark (issue 11): generates each reproducer, runs
`vigil rules validate` / `vigil config check` on it, and reports wall time, peak RSS
and the first error line. Every case must end with an error (or, for the 100k-item
list, load) within BOUND seconds; the script exits 1 otherwise.

Usage: bench/hostile/hostile_bench.py [--vigil PATH] [--bound SECONDS]
"""
import argparse, os, resource, subprocess, sys, tempfile, time

def rule(cond, extra="", output="o %proc.name"):
    return extra + "- rule: R\n  desc: d\n  condition: %s\n  output: %s\n  priority: info\n" % (cond, output)

def cases():
    c = {}
    c["20k nested parens"] = rule("evt.type = open and " + "(" * 20000 + "proc.name = x" + ")" * 20000)
    c["50k not chain"] = rule("evt.type = open and " + "not " * 50000 + "proc.name = x")
    c["50k unclosed parens"] = rule("evt.type = open and " + "(" * 50000)
    s = "- macro: m0\n  condition: proc.name = x\n" + "".join("- macro: m%d\n  condition: m%d\n" % (i, i - 1) for i in range(1, 8000))
    c["8k macro chain"] = rule("evt.type = open and m7999", s)
    s = "".join("- macro: c%d\n  condition: c%d\n" % (i, (i + 1) % 10000) for i in range(10000))
    c["10k macro cycle"] = rule("evt.type = open and c0", s)
    s = "- macro: m0\n  condition: proc.name = x\n" + "".join("- macro: m%d\n  condition: (m%d or m%d)\n" % (i, i - 1, i - 1) for i in range(1, 64))
    c["64 doubling macros"] = rule("evt.type = open and m63", s)
    s = "- list: l0\n  items: [a, b]\n" + "".join("- list: l%d\n  items: [l%d, l%d]\n" % (i, i - 1, i - 1) for i in range(1, 64))
    c["64 doubling lists"] = rule("evt.type = open and proc.name in (l63)", s)
    c["list cycle"] = rule("evt.type = open and proc.name in (a)", "- list: a\n  items: [b]\n- list: b\n  items: [a]\n")
    for n in (10000, 40000, 100000):
        s = "- list: big\n  items: [" + ",".join("i%d" % i for i in range(n)) + "]\n"
        c["%dk-item list (loads)" % (n // 1000)] = rule("evt.type = open and proc.name in (big)", s)
    c["1 MB output template"] = rule("evt.type = open", output='"' + "%" * 1000000 + '"')
    c["YAML nested 50k (rules)"] = "[" * 50000 + "]" * 50000 + "\n"
    return c

def run(cmd):
    t0 = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    dt = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = p.stdout.decode(errors="replace")
    first = next((l for l in out.splitlines() if "error" in l), out.splitlines()[-1] if out else "")
    return p.returncode, dt, max(rss, before), first

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default="./.build/release/vigil")
    ap.add_argument("--bound", type=float, default=1.0)
    a = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        rows = []
        for name, text in cases().items():
            path = os.path.join(d, "case.yaml")
            with open(path, "w") as f:
                f.write(text)
            rows.append((name, len(text)) + run([a.vigil, "rules", "validate", path]))
        cfg = os.path.join(d, "deep.yaml")
        with open(cfg, "w") as f:
            f.write("a: " + "[" * 50000 + "]" * 50000 + "\n")
        rows.append(("YAML nested 50k (config)", os.path.getsize(cfg)) + run([a.vigil, "config", "check", "-c", cfg]))
        rows.append(("/dev/zero (rules)", 0) + run([a.vigil, "rules", "validate", "/dev/zero"]))
        rows.append(("/dev/zero (config)", 0) + run([a.vigil, "config", "check", "-c", "/dev/zero"]))
        fifo = os.path.join(d, "fifo.yaml")
        os.mkfifo(fifo)
        rows.append(("FIFO (rules)", 0) + run([a.vigil, "rules", "validate", fifo]))
    print("%-26s %9s %4s %8s %9s  %s" % ("case", "bytes", "rc", "seconds", "maxrss_kb", "first error"))
    for name, size, rc, dt, rss, first in rows:
        loads = "(loads)" in name
        ok = dt < a.bound and ((rc == 0) if loads else (rc != 0))
        failed += not ok
        print("%-26s %9d %4d %8.3f %9d  %s%s" % (name, size, rc, dt, rss, first[:110], "" if ok else "   <-- FAIL"))
    print("max RSS is the peak over all runs so far (getrusage of children)")
    sys.exit(1 if failed else 0)

if __name__ == "__main__":
    main()
