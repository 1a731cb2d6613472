#!/usr/bin/env python3
"""Vigil kernel-cost benchmark (`make bench-kernel`, part of `make bench`; needs root).

What the node's workloads pay for Vigil's hooks, in one run, every figure a ratio
against runs made in the same round (the machine is shared; absolute rates drift):

getppid storm : N getppid(2) (a syscall no rule needs), bare; with ONE empty
                tp_btf/sys_exit program (the floor); with two empty programs
                (sys_enter + sys_exit, for reference); under the full agent
                (`vigil run`, bundled default rules). Ratios agent/bare, agent/floor.
open storm    : N failed openat(2) (ENOENT), bare; under `vigil run` with one rule that
                needs every open in user space (bench/kernel/open_storm.yaml); bpftrace
                (in-kernel count); opensnoop (first round); the minimal capture
                (bench/floor.bpf.c's min_capture_sys_exit: per openat a boot-clock
                timestamp, the path from user memory and one 184-byte ring record,
                nothing else: the least any capture of the call costs here), whose ns
                per run (bpf_stats) is the reference for Vigil's. Events received by
                Vigil and its kernel drops (ring full).
exec storm    : N fork+exec of /bin/true, bare; under the full agent plus a rule that
                matches each storm exec with its full argv (bench/kernel/exec_storm.yaml);
                execsnoop; one empty tp_btf/sys_exit program (the floor). Execs seen with
                full argv. Ratios agent/bare, agent/floor.

For every agent run: the agent's user-space CPU per storm event (utime+stime of `vigil run`
from /proc/PID/stat over the storm run, ring drained, divided by the storm's events, in µs;
it also counts whatever else the node does meanwhile, so run it on a quiet machine), per-program BPF cost (kernel.bpf_stats_enabled=1, bpftool
run_time_ns/run_cnt deltas over one more storm run with stats on, so the stats' own
overhead stays out of the rates), and the agent's peak RSS (VmHWM) with a breakdown
of where its resident memory is (/proc/PID/smaps).

Rounds are interleaved (bare, floor, bare, agent, bare, peer, bare ...; BENCH_ROUNDS
times): each run's ratio is to the mean of the bare runs just before and after it, and
medians of the per-round ratios are reported. Environment: BENCH_ROUNDS (3), BENCH_GETPPIDS
(10000000), BENCH_OPENS (2000000), BENCH_EXECS (5000), BENCH_PARTS (getppid,open,exec),
VIGIL_BIN. Results: bench/results/kernel-<time>.json and a table on stdout.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL_BIN", os.path.join(ROOT, ".build", "release", "vigil"))
BENCH_BIN = os.path.join(ROOT, "build", "bench")
FLOOR_OBJ = os.path.join(BENCH_BIN, "floor.bpf.o")
FLOOR_LOADER = os.path.join(BENCH_BIN, "floor_loader")
CONFIG = os.path.join(ROOT, "rules", "vigil.yaml")
DEFAULT_RULES = os.path.join(ROOT, "rules")
OPEN_RULES = os.path.join(ROOT, "bench", "kernel", "open_storm.yaml")
EXEC_RULES = os.path.join(ROOT, "bench", "kernel", "exec_storm.yaml")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
GETPPIDS = int(os.environ.get("BENCH_GETPPIDS", "10000000"))
OPENS = int(os.environ.get("BENCH_OPENS", "2000000"))
EXECS = int(os.environ.get("BENCH_EXECS", "5000"))
PARTS = [p.strip() for p in os.environ.get("BENCH_PARTS", "getppid,open,exec").split(",") if p.strip()]
RESULTS = os.path.join(ROOT, "bench", "results")
OPEN_PATH = "/nonexistent/vigil-bench/open-storm"
EXEC_MARKER = "vigil-exec-storm-bench"
EXEC_RULE = "Bench exec storm full argv"
EXEC_FLOOR = "floor (1 empty program, sys_exit)"
MIN_CAPTURE = "minimal capture (clock, path, 184-byte record)"
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def getppid_storm():
    return run_json([os.path.join(BENCH_BIN, "getppid_storm"), str(GETPPIDS)])["rate"]


def open_storm():
    r = run_json([os.path.join(BENCH_BIN, "open_storm"), str(OPENS), OPEN_PATH])
    if r["failed"] != OPENS:
        raise RuntimeError(f"open storm: {OPENS - r['failed']} opens of {OPEN_PATH} succeeded (expected ENOENT)")
    return r["rate"]


def exec_storm():
    r = run_json([os.path.join(BENCH_BIN, "exec_storm"), str(EXECS), EXEC_MARKER])
    if r["failed"]:
        raise RuntimeError(f"exec storm: {r['failed']} execs failed")
    return r["rate"]


STORMS = {"getppid": (getppid_storm, GETPPIDS), "open": (open_storm, OPENS), "exec": (exec_storm, EXECS)}


def interrupt_and_wait(proc):
    """SIGINT, then SIGKILL if the process has not exited within two minutes."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


# ---- BPF program statistics ----------------------------------------------------------

def set_bpf_stats(on):
    with open(STATS_SYSCTL, "w") as f:
        f.write("1" if on else "0")


def owned_program_ids(pid):
    """Ids of the BPF programs process `pid` holds open (from /proc/PID/fdinfo)."""
    ids = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            continue
    return ids


def program_stats(pid, prefix=""):
    """The BPF programs process `pid` holds whose names start with `prefix`: id -> name,
    run_time_ns, run_cnt."""
    owned = owned_program_ids(pid)
    progs = json.loads(subprocess.run(["bpftool", "prog", "show", "-j"], check=True,
                                      capture_output=True, text=True).stdout)
    return {p["id"]: {"name": p.get("name", ""), "run_time_ns": p.get("run_time_ns", 0), "run_cnt": p.get("run_cnt", 0)}
            for p in progs if p["id"] in owned and p.get("name", "").startswith(prefix)}


def vigil_programs(pid):
    """Vigil's BPF programs: those process `pid` holds, named `vigil_*` (another agent
    running on the machine has its own, left out)."""
    return program_stats(pid, "vigil_")


def program_costs(before, after, events):
    """Per-program delta: runs, ns per run, runs and ns per storm event."""
    names = {}
    for pid_ in after:
        names.setdefault(after[pid_]["name"], []).append(pid_)
    rows = {}
    for pid_, a in sorted(after.items()):
        b = before.get(pid_, {"run_time_ns": 0, "run_cnt": 0})
        cnt = a["run_cnt"] - b["run_cnt"]
        ns = a["run_time_ns"] - b["run_time_ns"]
        label = a["name"] if len(names[a["name"]]) == 1 else f"{a['name']}#{pid_}"
        rows[label] = {"runs": cnt, "ns": ns, "ns_per_run": ns / cnt if cnt else 0.0,
                       "runs_per_event": cnt / events, "ns_per_event": ns / events}
    return rows


# ---- memory --------------------------------------------------------------------------

def cpu_seconds(pid):
    """User and system CPU seconds of process `pid` so far, all its threads (/proc/PID/stat
    utime and stime)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / hz, int(fields[12]) / hz


def cpu_per_event(c0, c1, events):
    """The agent's CPU over a storm, per storm event, in µs: user, system and both."""
    user, system = c1[0] - c0[0], c1[1] - c0[1]
    return {"user_us": user * 1e6 / events, "system_us": system * 1e6 / events,
            "total_us": (user + system) * 1e6 / events}


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0]) * 1024
    return out


def smaps_breakdown(pid):
    """Resident bytes by kind of mapping: BPF maps (the ring buffer), the heap (malloc's
    main arena and anonymous mmaps: tables, queues, caches), thread stacks, the Swift
    runtime and other libraries, the vigil executable."""
    groups = {}
    current = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if "-" in parts[0] and not parts[0].endswith(":"):
                path = " ".join(parts[5:]) if len(parts) > 5 else ""
                if "bpf" in path:
                    current = "bpf maps (ring buffer)"
                elif path == "[heap]" or path == "":
                    current = "heap and anonymous (malloc)"
                elif path.startswith("[stack"):
                    current = "stacks"
                elif "libswift" in path or "libFoundation" in path or "lib_Foundation" in path or "libdispatch" in path:
                    current = "Swift runtime libraries"
                elif path.endswith("/vigil"):
                    current = "vigil executable"
                elif path.startswith("["):
                    current = "kernel ([vdso], [vvar])"
                else:
                    current = "other libraries and files"
            elif parts[0] == "Rss:" and current:
                groups[current] = groups.get(current, 0) + int(parts[1]) * 1024
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


# ---- processes under test ------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class AgentRun:
    """`vigil run` with the given rules, alerts to /dev/null, metrics on a free local port."""

    def __init__(self, rules, tmp, label):
        self.port = free_port()
        cmd = [VIGIL, "run", "-c", CONFIG]
        for r in rules:
            cmd += ["-r", r]
        cmd += ["-o", "webserver.listen_address=127.0.0.1", "-o", f"webserver.listen_port={self.port}",
                "-o", "watch_config_files=false"]
        self.err_path = os.path.join(tmp, f"vigil-{label}.err")
        self.err = open(self.err_path, "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        self.pid = self.proc.pid

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil run exited early: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(ready, 120, "vigil run to be ready")

    def log_tail(self, whole=False):
        self.err.flush()
        with open(self.err_path, errors="replace") as f:
            text = f.read()
        return text if whole else text[-3000:]

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
        return out

    def settled_metrics(self, key):
        """Metrics once `key` has stopped moving (the reader drained the ring)."""
        last = self.metrics()
        stable_since = time.time()
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.1)
            m = self.metrics()
            if m.get(key, 0) != last.get(key, 0):
                last, stable_since = m, time.time()
            elif time.time() - stable_since >= 0.3:
                return m
        return last

    def storm(self, fn, n, counter):
        """One storm with bpf_stats off (the rate and the agent's CPU per storm event: its
        utime+stime from the settled state before the storm to the settled state after it,
        the ring drained), one with it on (program costs)."""
        before = self.settled_metrics(counter)
        cpu0 = cpu_seconds(self.pid)
        rate = fn()
        after = self.settled_metrics(counter)
        cpu = cpu_per_event(cpu0, cpu_seconds(self.pid), n)
        progs0 = vigil_programs(self.pid)
        set_bpf_stats(True)
        try:
            p0 = vigil_programs(self.pid)
            rate_stats = fn()
            p1 = vigil_programs(self.pid)
        finally:
            set_bpf_stats(False)
        if not progs0:
            raise RuntimeError(f"no vigil_* BPF programs found for pid {self.pid}")
        status = proc_status(self.pid)
        return {"rate": rate, "rate_with_bpf_stats": rate_stats, "before": before, "after": after, "agent_cpu": cpu,
                "records": record_counts(before, after, n),
                "programs": program_costs(p0, p1, n), "memory": status, "smaps": smaps_breakdown(self.pid)}

    def stop(self):
        interrupt_and_wait(self.proc)
        text = self.log_tail(whole=True)
        self.err.close()
        for line in reversed(text.splitlines()):
            if line.startswith('{"stats"'):
                return json.loads(line)["stats"]
        raise RuntimeError("no stats line from vigil run:\n" + text[-3000:])


def delta(m0, m1, key):
    return m1.get(key, 0) - m0.get(key, 0)


def record_counts(m0, m1, n):
    """Records the agent received over a storm (all types, the whole node's) per storm event,
    and the calls the kernel filtered on purpose per storm event, by reason."""
    def total(prefix):
        keys = {k for k in list(m0) + list(m1) if k.startswith(prefix)}
        return sum(delta(m0, m1, k) for k in keys)
    out = {"per_event": total("vigil_events_received_total{") / n}
    for reason in ("failed", "failed_path"):
        out[f"filtered_{reason}_per_event"] = delta(m0, m1, f'vigil_kernel_filtered_total{{reason="{reason}"}}') / n
    return out


def drops(m0, m1):
    return {"ring_full": delta(m0, m1, 'vigil_kernel_drops_total{reason="ring_full"}')}


class Peer:
    """A tool attached while a storm runs (floor loader, bpftrace, opensnoop, execsnoop)."""

    def __init__(self, cmd, ready_text, tmp, label):
        self.out_path = os.path.join(tmp, f"{label}.out")
        self.out = open(self.out_path, "w")
        self.err = open(os.path.join(tmp, f"{label}.err"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err)

        def ready():
            if self.proc.poll() is not None:
                self.err.seek(0)
                raise RuntimeError(f"{cmd[0]} exited early: {self.err.read()[-2000:]}")
            with open(self.out_path, errors="replace") as f:
                return ready_text in f.read(4096)
        try:
            wait_until(ready, 300, f"{cmd[0]} to attach")
        except RuntimeError:
            self.stop()
            raise
        time.sleep(0.3)

    def stop(self):
        interrupt_and_wait(self.proc)
        self.out.close()
        self.err.seek(0)
        err = self.err.read()
        self.err.close()
        return err

    def lines(self):
        with open(self.out_path, errors="replace") as f:
            yield from f


# ---- the storms ----------------------------------------------------------------------

class RoundRates:
    """The rates of one round of a storm, with a bare run before the first measured run and
    after each one: every run's ratio is to the mean of the bare runs just before and after
    it, so that load drifting during the round touches both sides alike."""

    def __init__(self, storm):
        self.storm = storm
        self.bares = [storm()]
        self.rates = {}
        self.ratios = {}

    def add(self, label, rate):
        before = self.bares[-1]
        self.bares.append(self.storm())
        self.rates[label] = rate
        self.ratios[label] = rate / ((before + self.bares[-1]) / 2)

    def result(self):
        return {"bare": statistics.median(self.bares), "bare_runs": self.bares, **self.rates}


def round_getppid(tmp, r):
    res = RoundRates(getppid_storm)
    for label, progs in (("floor (1 empty program, sys_exit)", ["floor_sys_exit"]),
                         ("2 empty programs (sys_enter + sys_exit)", ["floor_sys_enter", "floor_sys_exit"])):
        p = Peer([FLOOR_LOADER, FLOOR_OBJ] + progs, "attached", tmp, f"floor-{len(progs)}-{r}")
        try:
            rate = getppid_storm()
        finally:
            p.stop()
        res.add(label, rate)
    agent = AgentRun([DEFAULT_RULES], tmp, f"getppid-{r}")
    try:
        s = agent.storm(getppid_storm, GETPPIDS, "vigil_capture_bytes_total")
    finally:
        stats = agent.stop()
    res.add("agent", s["rate"])
    log(f"getppid round {r + 1}: bare {res.bares}, floor {res.rates['floor (1 empty program, sys_exit)']:.0f}/s, "
        f"agent {s['rate']:.0f}/s, ratios {res.ratios}, agent CPU {s['agent_cpu']['total_us']:.2f} µs/event, peak RSS {s['memory']['VmHWM'] / 2**20:.1f} MiB")
    return {"rates": res.result(), "ratios": res.ratios, "agent": {**strip(s), "final_stats": compact_stats(stats)}}


def round_open(tmp, r):
    res = RoundRates(open_storm)
    agent = AgentRun([OPEN_RULES], tmp, f"open-{r}")
    key = 'vigil_events_received_total{type="openat"}'
    try:
        s = agent.storm(open_storm, OPENS, key)
    finally:
        stats = agent.stop()
    received = delta(s["before"], s["after"], key)
    d = drops(s["before"], s["after"])
    res.add("agent", s["rate"])
    extra = {"agent": {"received": received, "drops": d}}

    # The minimal capture: its rate, then its ns per run over one more storm with bpf_stats on.
    p = Peer([FLOOR_LOADER, FLOOR_OBJ, "min_capture_sys_exit"], "attached", tmp, f"min-capture-{r}")
    try:
        rate = open_storm()
        set_bpf_stats(True)
        try:
            before = program_stats(p.proc.pid)
            open_storm()
            after = program_stats(p.proc.pid)
        finally:
            set_bpf_stats(False)
    finally:
        p.stop()
    res.add(MIN_CAPTURE, rate)
    records = next((int(line.split()[1]) for line in p.lines() if line.startswith("records ")), 0)
    # Its ring took the node's openats over both storms (the rate's and the stats'): per storm.
    extra[MIN_CAPTURE] = {"received": records / 2}
    reference = {"minimal capture": program_costs(before, after, OPENS)["min_capture_sys_exit"]["ns_per_run"]}

    prog = f'tracepoint:syscalls:sys_enter_openat /comm == "vigil_openstorm"/ {{ @n = count(); }}'
    p = Peer(["bpftrace", "-e", prog], "Attaching", tmp, f"bpftrace-{r}")
    try:
        rate = open_storm()
    finally:
        p.stop()
    res.add("bpftrace (in-kernel count)", rate)
    n = 0
    for line in p.lines():
        if line.startswith("@n:"):
            n = int(line.split(":")[1])
    extra["bpftrace (in-kernel count)"] = {"received": n}

    if r == 0:
        try:
            p = Peer(["stdbuf", "-oL", "opensnoop", "-n", "vigil_openstorm"], "PID", tmp, f"opensnoop-{r}")
        except RuntimeError as e:
            log(f"open round {r + 1}: opensnoop left out: {e}")
            p = None
    if r == 0 and p:
        try:
            rate = open_storm()
        finally:
            errtext = p.stop()
        res.add("opensnoop", rate)
        seen = sum(1 for line in p.lines() if "vigil_openstor" in line)
        lost = 0
        for line in errtext.splitlines():
            if "lost" in line.lower():
                try:
                    lost += int(line.split()[1])
                except (ValueError, IndexError):
                    pass
        extra["opensnoop"] = {"received": seen, "lost": lost}
    log(f"open round {r + 1}: bare {res.bares}, agent {s['rate']:.0f}/s received {received:.0f}/{OPENS} "
        f"drops {d}, ratios {res.ratios}, agent CPU {s['agent_cpu']['total_us']:.2f} µs/event, peak RSS {s['memory']['VmHWM'] / 2**20:.1f} MiB")
    return {"rates": res.result(), "ratios": res.ratios, "received": extra, "reference_ns_per_run": reference,
            "agent": {**strip(s), "final_stats": compact_stats(stats)}}


def round_exec(tmp, r):
    res = RoundRates(exec_storm)
    agent = AgentRun([DEFAULT_RULES, EXEC_RULES], tmp, f"exec-{r}")
    key = f'vigil_rule_matches_total{{rule="{EXEC_RULE}",priority="Notice"}}'
    try:
        s = agent.storm(exec_storm, EXECS, key)
    finally:
        stats = agent.stop()
    matched = delta(s["before"], s["after"], key)
    res.add("agent", s["rate"])
    extra = {"agent": {"received": matched, "drops": drops(s["before"], s["after"])}}

    p = Peer(["stdbuf", "-oL", "execsnoop"], "PCOMM", tmp, f"execsnoop-{r}")
    try:
        rate = exec_storm()
    finally:
        p.stop()
    res.add("execsnoop", rate)
    seen = sum(1 for line in p.lines() if EXEC_MARKER in line)
    extra["execsnoop"] = {"received": seen}

    # The exec storm's floor: one empty tp_btf program at sys_exit, what any syscall tracer
    # that sees every exit costs this storm (the syscall slow path of every call included).
    p = Peer([FLOOR_LOADER, FLOOR_OBJ, "floor_sys_exit"], "attached", tmp, f"exec-floor-{r}")
    try:
        rate = exec_storm()
    finally:
        p.stop()
    res.add(EXEC_FLOOR, rate)
    log(f"exec round {r + 1}: bare {res.bares}, agent {s['rate']:.0f}/s full argv {matched:.0f}/{EXECS}, "
        f"ratios {res.ratios}, agent CPU {s['agent_cpu']['total_us']:.1f} µs/event, peak RSS {s['memory']['VmHWM'] / 2**20:.1f} MiB")
    return {"rates": res.result(), "ratios": res.ratios, "received": extra, "agent": {**strip(s), "final_stats": compact_stats(stats)}}


def strip(s):
    return {k: v for k, v in s.items() if k not in ("before", "after")}


def compact_stats(stats):
    keep = ("events_total", "kernel_drops", "kernel_ring_full", "decode_errors",
            "alerts", "process_table_entries", "process_table_evictions", "process_table_exited_evictions")
    return {k: stats[k] for k in keep if k in stats}


ROUND_FNS = {"getppid": round_getppid, "open": round_open, "exec": round_exec}


# ---- summary -------------------------------------------------------------------------

def summarize(part, rounds, n):
    """Medians over rounds of each rate, of each ratio to the same round's bare (and
    floor), of received fractions and of per-program costs."""
    out = {"events": n, "rounds": len(rounds), "rates": {}, "ratio_to_bare": {}}
    names = []
    for rd in rounds:
        for k in rd["rates"]:
            if k not in names:
                names.append(k)
    names = [k for k in names if k != "bare_runs"]
    for k in names:
        vals = [rd["rates"][k] for rd in rounds if k in rd["rates"]]
        out["rates"][k] = statistics.median(vals)
        if k != "bare":
            out["ratio_to_bare"][k] = statistics.median(rd["ratios"][k] for rd in rounds if k in rd["ratios"])
    floor = "floor (1 empty program, sys_exit)"
    if part == "exec":
        floor = EXEC_FLOOR
    if part in ("getppid", "exec") and all(floor in rd["ratios"] for rd in rounds):
        out["agent_to_floor"] = statistics.median(rd["ratios"]["agent"] / rd["ratios"][floor] for rd in rounds)
    if part != "getppid":
        out["received"] = {}
        for k in names:
            vals = [rd["received"][k]["received"] for rd in rounds if k in rd.get("received", {})]
            if vals:
                out["received"][k] = {"median": statistics.median(vals), "min": min(vals)}
        out["agent_drops"] = {reason: sum(rd["received"]["agent"]["drops"][reason] for rd in rounds)
                              for reason in ("ring_full",)}
    progs = {}
    for rd in rounds:
        for name, c in rd["agent"]["programs"].items():
            progs.setdefault(name, []).append(c)
    out["programs"] = {name: {"ns_per_run": statistics.median(c["ns_per_run"] for c in cs),
                              "runs_per_event": statistics.median(c["runs_per_event"] for c in cs),
                              "ns_per_event": statistics.median(c["ns_per_event"] for c in cs)}
                       for name, cs in progs.items()}
    out["agent_cpu_per_event"] = {k: statistics.median(rd["agent"]["agent_cpu"][k] for rd in rounds)
                                  for k in ("total_us", "user_us", "system_us")}
    out["records_per_event"] = {k: statistics.median(rd["agent"]["records"][k] for rd in rounds)
                                for k in ("per_event", "filtered_failed_per_event", "filtered_failed_path_per_event")}
    refs = {}
    for rd in rounds:
        for name, ns in rd.get("reference_ns_per_run", {}).items():
            refs.setdefault(name, []).append(ns)
    if refs:
        out["reference_ns_per_run"] = {name: statistics.median(v) for name, v in refs.items()}
        out["agent_to_minimal_capture"] = statistics.median(
            rd["agent"]["programs"]["vigil_sys_exit"]["ns_per_run"] / rd["reference_ns_per_run"]["minimal capture"]
            for rd in rounds)
    out["agent_peak_rss"] = max(rd["agent"]["memory"]["VmHWM"] for rd in rounds)
    out["agent_rss_breakdown"] = max((rd["agent"] for rd in rounds), key=lambda a: a["memory"]["VmHWM"])["smaps"]
    return out


def print_summary(part, s):
    mib = 2 ** 20
    title = {"getppid": f"getppid storm ({s['events']} getppid, a syscall no rule needs)",
             "open": f"open storm ({s['events']} failed openat, ENOENT; rule needing every open)",
             "exec": f"exec storm ({s['events']} fork+exec /bin/true; default rules + full-argv rule)"}[part]
    print(f"{title}, median of {s['rounds']} rounds:")
    for k, rate in s["rates"].items():
        line = f"  {k:<48} {rate:>12.0f}/s"
        if k != "bare":
            line += f"  {s['ratio_to_bare'][k]:5.2f}x bare"
        if k == "agent" and "agent_to_floor" in s:
            line += f"  {s['agent_to_floor']:5.2f}x floor"
        rec = s.get("received", {}).get(k)
        if rec:
            line += f"  received {rec['min']:.0f}/{s['events']} ({100.0 * rec['min'] / s['events']:.2f}%, worst round)"
        print(line)
    if "agent_drops" in s:
        d = s["agent_drops"]
        print(f"  agent kernel drops (all rounds): ring full {d['ring_full']:.0f}")
    rc = s["records_per_event"]
    print(f"  records received per storm event: {rc['per_event']:.2f}; filtered in the kernel per storm event:"
          f" failed calls {rc['filtered_failed_per_event']:.2f}, failed opens by path {rc['filtered_failed_path_per_event']:.2f}")
    c = s["agent_cpu_per_event"]
    print(f"  agent user-space CPU per storm event (utime+stime of vigil run): {c['total_us']:.2f} µs"
          f" (user {c['user_us']:.2f}, system {c['system_us']:.2f})")
    print("  agent BPF programs (bpf_stats, one storm with stats on):")
    for name, c in sorted(s["programs"].items(), key=lambda kv: -kv[1]["ns_per_event"]):
        if c["runs_per_event"] == 0:
            continue
        print(f"    {name:<28} {c['ns_per_run']:8.0f} ns/run  {c['runs_per_event']:8.3f} runs/event"
              f"  {c['ns_per_event']:8.0f} ns/event")
    if "reference_ns_per_run" in s:
        print("  reference programs (bpf_stats, one storm with stats on): "
              + ", ".join(f"{n} {ns:.0f} ns/run" for n, ns in s["reference_ns_per_run"].items())
              + f"; vigil_sys_exit / minimal capture: {s['agent_to_minimal_capture']:.2f}x (median of rounds)")
    print(f"  agent peak RSS (VmHWM): {s['agent_peak_rss'] / mib:.1f} MiB; resident by mapping at the end: "
          + ", ".join(f"{k} {v / mib:.1f}" for k, v in s["agent_rss_breakdown"].items() if v >= mib / 10))


def markdown(report):
    """The summary as Markdown (for bench/README.md's latest figures)."""
    env = report["env"]
    cmd = " ".join(f"{k}={v if not isinstance(v, list) else ','.join(v)}" for k, v in env.items())
    out = [f"{report['time'][:10]}, kernel {report['kernel']}, load average {report['loadavg'][0]:.1f} "
           f"(2 shared cores), `make bench-kernel {cmd}`:", ""]
    out.append("| storm | run | rate | vs bare | received | records/event (filtered by path) | agent CPU µs/event | agent BPF ns/run (runs/event) |")
    out.append("|---|---|---|---|---|---|---|---|")
    for part, s in report["summary"].items():
        progs = ", ".join(f"{n} {c['ns_per_run']:.0f} ({c['runs_per_event']:.2f})"
                          for n, c in sorted(s["programs"].items(), key=lambda kv: -kv[1]["ns_per_event"])
                          if c["runs_per_event"] >= 0.01)
        for k, rate in s["rates"].items():
            ratio = "" if k == "bare" else f"{s['ratio_to_bare'][k]:.2f}x"
            if k == "agent" and "agent_to_floor" in s:
                ratio += f" ({s['agent_to_floor']:.2f}x floor)"
            rec = s.get("received", {}).get(k)
            recv = f"{100.0 * rec['min'] / s['events']:.1f}%" if rec else ""
            cpu = f"{s['agent_cpu_per_event']['total_us']:.2f}" if k == "agent" else ""
            rc = s["records_per_event"]
            recs = f"{rc['per_event']:.2f} ({rc['filtered_failed_path_per_event']:.2f})" if k == "agent" else ""
            out.append(f"| {part} ({s['events']}) | {k} | {rate:,.0f}/s | {ratio} | {recv} | {recs} | {cpu} | {progs if k == 'agent' else ''} |")
    out.append("")
    for part, s in report["summary"].items():
        if "reference_ns_per_run" in s:
            out.append(f"{part.capitalize()} storm, per run of the capture program (bpf_stats): Vigil's vigil_sys_exit "
                       f"{s['programs']['vigil_sys_exit']['ns_per_run']:.0f} ns, "
                       + ", ".join(f"the {n} {ns:.0f} ns" for n, ns in s["reference_ns_per_run"].items())
                       + f" ({s['agent_to_minimal_capture']:.2f}x).")
            out.append("")
    out.append("Agent peak RSS (VmHWM): " + ", ".join(f"{p} storm {s['agent_peak_rss'] / 2**20:.1f} MiB"
                                                   for p, s in report["summary"].items())
               + "; kernel drops: " + ", ".join(f"{p} {int(s['agent_drops']['ring_full'])}"
                                                for p, s in report["summary"].items() if "agent_drops" in s) + ".")
    return "\n".join(out)


def main():
    if os.geteuid() != 0:
        sys.exit("kernel-cost benchmarks need root (BPF)")
    for tool in (VIGIL, FLOOR_LOADER, FLOOR_OBJ) + tuple(os.path.join(BENCH_BIN, t) for t in ("getppid_storm", "open_storm", "exec_storm")):
        if not os.path.exists(tool):
            sys.exit(f"missing {tool}: run `make bench-kernel`")
    for p in PARTS:
        if p not in ROUND_FNS:
            sys.exit(f"BENCH_PARTS: unknown part {p!r} (getppid, open, exec)")
    os.makedirs(RESULTS, exist_ok=True)
    with open(STATS_SYSCTL) as f:
        stats_was = f.read().strip()
    progs = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True).stdout
    others = [p.get("name", "?") for p in json.loads(progs or "[]") if p.get("type") in ("tracing", "tracepoint", "raw_tracepoint", "kprobe")]
    if others:
        log(f"warning: {len(others)} BPF tracing programs of other tools are attached ({', '.join(sorted(set(others))[:8])}); every rate includes their cost")
    rounds = {p: [] for p in PARTS}
    started = time.time()
    try:
        set_bpf_stats(False)
        with tempfile.TemporaryDirectory(prefix="vigil-kbench-") as tmp:
            for r in range(ROUNDS):
                for p in PARTS:
                    rounds[p].append(ROUND_FNS[p](tmp, r))
    finally:
        with open(STATS_SYSCTL, "w") as f:
            f.write(stats_was)
    load = os.getloadavg()
    summary = {p: summarize(p, rounds[p], STORMS[p][1]) for p in PARTS}
    report = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": round(time.time() - started),
              "loadavg": load, "kernel": os.uname().release, "other_bpf_tracing_programs": others,
              "command": "make bench-kernel", "env": {"BENCH_ROUNDS": ROUNDS, "BENCH_GETPPIDS": GETPPIDS,
                                                      "BENCH_OPENS": OPENS, "BENCH_EXECS": EXECS, "BENCH_PARTS": PARTS},
              "summary": summary, "rounds": rounds}
    path = os.path.join(RESULTS, "kernel-" + time.strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nVigil kernel cost ({report['time']}, kernel {report['kernel']}, load average {load[0]:.1f}, "
          f"{len(others)} other BPF tracing programs; results in {os.path.relpath(path, ROOT)})")
    for p in PARTS:
        print_summary(p, summary[p])
    md = markdown(report)
    with open(path[:-5] + ".md", "w") as f:
        f.write(md + "\n")
    print(f"\nMarkdown summary in {os.path.relpath(path[:-5] + '.md', ROOT)}")


if __name__ == "__main__":
    main()
