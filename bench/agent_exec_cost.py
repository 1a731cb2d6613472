#!/usr/bin/env python3
"""The agent's own cost per exec of the exec storm (needs root; bench/README.md, "Agent cost per exec").

  record N FILE        `vigil trace --write` during an exec storm of N execs, then keeps in FILE
                       the storm's records only (threads named exec_storm or true) and drops its
                       failed opens (the kernel's failed-path filter drops them under the default
                       rules): the records the agent receives for the storm.
  instructions FILE    user-space instructions per exec: `vigil run -e FILE` (default rules +
                       bench/kernel/exec_storm.yaml, no metrics server) under valgrind --tool=callgrind, minus the
                       replay of an empty capture, divided by the execs in FILE.
  live N [N...]        `vigil run` started as bench/kernel_cost.py does, then exec storms of N
                       execs back to back: the agent's CPU per exec (all threads' run time from
                       /proc/PID/task/*/schedstat, and per thread), its minor faults per exec, the
                       exited processes it keeps. The node's other activity counts too: run it
                       on a quiet machine, and compare binaries alternately.
  syscalls N           `vigil run` as for live, then one storm of N execs: the agent's context
                       switches per exec per thread (voluntary and not, from
                       /proc/PID/task/*/status), then a second storm of N under `strace -f -c -p
                       PID`: its syscalls per exec by name (strace slows each syscall, not their count).

Environment: VIGIL_BIN (default .build/release/vigil; for callgrind a copy without debug
sections is used: `strip --strip-debug`, valgrind 3.19 cannot read Swift's DWARF 5).
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_cost as kc  # noqa: E402

STORM_COMMS = (b"exec_storm", b"true")


def storm(n):
    r = subprocess.run([os.path.join(kc.BENCH_BIN, "exec_storm"), str(n), kc.EXEC_MARKER],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def record(n, path):
    with tempfile.TemporaryDirectory(prefix="vigil-execcost-") as tmp:
        raw = os.path.join(tmp, "all.cap")
        err = open(os.path.join(tmp, "trace.err"), "w+")
        p = subprocess.Popen([kc.VIGIL, "trace", "--write", raw, "--env", "4096"], stdout=subprocess.DEVNULL, stderr=err)
        kc.wait_until(lambda: "BPF programs attached" in open(err.name).read(), 60, "vigil trace to attach")
        time.sleep(0.5)
        s = storm(n)
        time.sleep(0.5)
        kc.interrupt_and_wait(p)
        data = open(raw, "rb").read()
    out = bytearray(data[:32])
    off, kept, failed = 32, 0, 0
    while off < len(data):
        (ln,) = struct.unpack_from("<I", data, off)
        rec = data[off + 4:off + 4 + ln]
        off += 4 + ln
        if rec[48:64].split(b"\0")[0] not in STORM_COMMS:  # vigil_header.comm
            continue
        if struct.unpack_from("<H", rec, 0)[0] == 1 and struct.unpack_from("<q", rec, 64)[0] < 0:  # a failed syscall
            failed += 1
            continue
        out += struct.pack("<I", ln) + rec
        kept += 1
    with open(path, "wb") as f:
        f.write(out)
    print(json.dumps({"execs": n, "rate": s["rate"], "records_kept": kept, "records_per_exec": kept / n,
                      "failed_dropped_per_exec": failed / n, "file": path}))


def instructions(path):
    with tempfile.TemporaryDirectory(prefix="vigil-execcost-") as tmp:
        binary = os.path.join(tmp, "vigil")
        subprocess.run(["strip", "--strip-debug", "-o", binary, kc.VIGIL], check=True)
        empty = os.path.join(tmp, "empty.cap")
        with open(path, "rb") as f, open(empty, "wb") as g:
            head = f.read(32)
            g.write(head)
            data = head + f.read()
        execs, off = 0, 32
        while off < len(data):
            (ln,) = struct.unpack_from("<I", data, off)
            if struct.unpack_from("<H", data, off + 4)[0] == 2:  # an exec record
                execs += 1
            off += 4 + ln

        def refs(cap):
            out = os.path.join(tmp, "cg.out")
            # No metrics server: a replay needs none, and another agent may hold its port.
            r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "run", "-e", cap,
                                "-c", kc.CONFIG, "-r", kc.DEFAULT_RULES, "-r", kc.EXEC_RULES, "-o", "webserver.enabled=false"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=kc.ROOT)
            for line in r.stderr.splitlines():
                if "I   refs:" in line:
                    return int(line.split(":")[1].replace(",", ""))
            raise RuntimeError("no instruction count from callgrind:\n" + r.stderr[-2000:])
        full, base = refs(path), refs(empty)
        print(json.dumps({"file": path, "execs": execs, "instructions": full, "empty_replay": base,
                          "instructions_per_exec": round((full - base) / max(1, execs))}))


def sched_ns(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            out[name] = out.get(name, 0) + int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        except OSError:
            pass
    return out


def minflt(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def live(sizes):
    with tempfile.TemporaryDirectory(prefix="vigil-execcost-") as tmp:
        a = kc.AgentRun([kc.DEFAULT_RULES, kc.EXEC_RULES], tmp, "agent")
        try:
            time.sleep(1)
            for n in sizes:
                a.settled_metrics("vigil_events_received_total")
                t0, f0 = sched_ns(a.pid), minflt(a.pid)
                s = storm(n)
                m = a.settled_metrics("vigil_events_received_total")
                t1, f1 = sched_ns(a.pid), minflt(a.pid)
                threads = {k: round((v - t0.get(k, 0)) / 1e3 / n, 1) for k, v in t1.items() if v - t0.get(k, 0) > 1e5}
                print(json.dumps({"execs": n, "rate": s["rate"], "agent_cpu_us_per_exec": round((sum(t1.values()) - sum(t0.values())) / 1e3 / n, 1),
                                  "minflt_per_exec": round((f1 - f0) / n, 2), "threads": threads,
                                  "exited_kept": m.get("vigil_process_table_exited_entries", 0),
                                  "load": round(os.getloadavg()[0], 2)}), flush=True)
        finally:
            a.stop()


def switches(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            v = nv = 0
            for line in open(f"/proc/{pid}/task/{tid}/status"):
                if line.startswith("voluntary_ctxt_switches:"):
                    v = int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    nv = int(line.split()[1])
            a, b = out.get(name, (0, 0))
            out[name] = (a + v, b + nv)
        except OSError:
            pass
    return out


def syscalls(n):
    with tempfile.TemporaryDirectory(prefix="vigil-execcost-") as tmp:
        a = kc.AgentRun([kc.DEFAULT_RULES, kc.EXEC_RULES], tmp, "agent")
        try:
            time.sleep(1)
            a.settled_metrics("vigil_events_received_total")
            c0 = switches(a.pid)
            s = storm(n)
            a.settled_metrics("vigil_events_received_total")
            c1 = switches(a.pid)
            per = {k: [round((v[0] - c0.get(k, (0, 0))[0]) / n, 3), round((v[1] - c0.get(k, (0, 0))[1]) / n, 3)]
                   for k, v in c1.items() if v != c0.get(k, (0, 0))}
            vol = sum(x[0] for x in per.values())
            invol = sum(x[1] for x in per.values())
            out = os.path.join(tmp, "strace.txt")
            st = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(a.pid)], stderr=subprocess.DEVNULL)
            time.sleep(1)
            storm(n)
            a.settled_metrics("vigil_events_received_total")
            st.send_signal(signal.SIGINT)
            st.wait()
            calls, total = {}, 0
            for line in open(out):
                f = line.split()
                if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
                    c = int(f[3])
                    calls[f[-1]] = round(c / n, 3)
                    total += c
            print(json.dumps({"execs": n, "rate": s["rate"], "switches_per_exec": {"voluntary": round(vol, 3), "involuntary": round(invol, 3)},
                              "switches_per_thread": per, "syscalls_per_exec": round(total / n, 3),
                              "syscalls": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
                              "load": round(os.getloadavg()[0], 2)}), flush=True)
        finally:
            a.stop()


def main():
    if os.geteuid() != 0:
        sys.exit("needs root (BPF)")
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "record":
        record(int(args[1]), args[2])
    elif len(args) == 2 and args[0] == "instructions":
        if not shutil.which("valgrind"):
            sys.exit("valgrind is not installed (apt-get install valgrind)")
        instructions(args[1])
    elif len(args) >= 2 and args[0] == "live":
        live([int(x) for x in args[1:]])
    elif len(args) == 2 and args[0] == "syscalls":
        if not shutil.which("strace"):
            sys.exit("strace is not installed (apt-get install strace)")
        syscalls(int(args[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
