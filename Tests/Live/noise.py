#!/usr/bin/env python3
"""Everyday work under Vigil's default rules: what alerts does it raise?

Runs a benign workload for real (compilers, make, git, tar, pip, apt-get, a web server,
log rotation, cron-style jobs, container entrypoints, a controller reading its service
account token) under one `vigil run` with the shipped defaults (rules/vigil_rules.yaml,
rules/vigil.yaml, `rule_matching: first`). The workload runs in its own session; a small
overlay appends `%proc.sid` to every default rule's output so alerts from other activity
on the machine are left out. Each workload's alerts are counted by rule and priority.

Usage: noise.py --vigil BIN --repo DIR [--out REPORT.json] [--report]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livelib as L  # noqa: E402

WARNING_OR_ABOVE = {"Emergency", "Alert", "Critical", "Error", "Warning"}
WORKLOADS = []


def workload(name, where="host"):
    def deco(fn):
        WORKLOADS.append((name, where, fn))
        return fn
    return deco


def sh(cmd, cwd=None, runner=None, env=None, timeout=300):
    r = (runner or L.run)(["/bin/sh", "-c", cmd], cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError(f"`{cmd}` failed ({r.returncode}): {r.stdout.decode(errors='replace')[-800:]}")
    return r


HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'


@workload("compile and run in /tmp")
def _(w):
    d = os.path.join("/tmp", os.path.basename(w) + "-cc")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hello.c"), "w") as f:
        f.write(HELLO_C)
    sh("cc -O1 -o hello hello.c && ./hello && /tmp/" + os.path.basename(d) + "/hello", cwd=d)
    shutil.rmtree(d, ignore_errors=True)


@workload("make in a build directory")
def _(w):
    d = os.path.join(w, "build")
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    with open(os.path.join(d, "src", "hello.c"), "w") as f:
        f.write(HELLO_C)
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write("all: out/hello\n\tout/hello\nout/hello: src/hello.c\n\tmkdir -p out\n\t$(CC) -o $@ $<\n"
                "install: out/hello\n\tinstall -D -m 755 out/hello $(DESTDIR)/usr/local/bin/hello\n"
                "clean:\n\trm -rf out stage\n")
    sh("make -s && make -s install DESTDIR=$PWD/stage && make -s clean", cwd=d)


@workload("git clone and commit")
def _(w):
    d = os.path.join(w, "git")
    os.makedirs(d, exist_ok=True)
    env = dict(os.environ, GIT_AUTHOR_NAME="Dev", GIT_AUTHOR_EMAIL="dev@example.com", GIT_COMMITTER_NAME="Dev",
               GIT_COMMITTER_EMAIL="dev@example.com", HOME=d)
    sh("git init -q origin && cd origin && echo one > a.txt && git add a.txt && git commit -qm one && cd .. && "
       "git clone -q origin work && cd work && echo two >> a.txt && git commit -qam two && git log --oneline | wc -l && "
       "git push -q origin HEAD:refs/heads/feature && git gc -q", cwd=d, env=env)


@workload("tar archive and extract")
def _(w):
    d = os.path.join(w, "tar")
    os.makedirs(os.path.join(d, "data", "sub"), exist_ok=True)
    for i in range(20):
        with open(os.path.join(d, "data", "sub", f"f{i}.txt"), "w") as f:
            f.write("x" * 1000 * i)
    sh("tar czf data.tgz data && mkdir -p out && tar xzf data.tgz -C out && tar tzf data.tgz > /dev/null", cwd=d)


def make_wheel(path, name="vigil_noise_pkg", version="1.0"):
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": "VALUE = 42\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: vigil-noise\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{k},,\n" for k in files) + f"{dist}/RECORD,,\n"
    whl = os.path.join(path, f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(whl, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
        z.writestr(f"{dist}/RECORD", record)
    return whl


@workload("pip install of a local wheel into a venv")
def _(w):
    d = os.path.join(w, "pip")
    os.makedirs(d, exist_ok=True)
    whl = make_wheel(d)
    sh(f"{L.PYTHON} -m venv venv && venv/bin/pip install -q --no-index --no-deps --disable-pip-version-check {whl} && "
       "venv/bin/python -c 'import vigil_noise_pkg; assert vigil_noise_pkg.VALUE == 42' && "
       "venv/bin/pip uninstall -q -y vigil-noise-pkg", cwd=d)


@workload("apt-get install and remove of a local .deb")
def _(w):
    d = os.path.join(w, "deb")
    pkg = os.path.join(d, "pkg")
    os.makedirs(os.path.join(pkg, "DEBIAN"), exist_ok=True)
    os.makedirs(os.path.join(pkg, "usr", "bin"), exist_ok=True)
    with open(os.path.join(pkg, "DEBIAN", "control"), "w") as f:
        f.write("Package: vigil-noise-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: Vigil <vigil@example.com>\n"
                "Description: Vigil noise test package\n")
    with open(os.path.join(pkg, "DEBIAN", "postinst"), "w") as f:
        f.write("#!/bin/sh\nset -e\nmkdir -p /var/lib/vigil-noise-hello\necho installed > /var/lib/vigil-noise-hello/state\n")
    os.chmod(os.path.join(pkg, "DEBIAN", "postinst"), 0o755)
    with open(os.path.join(pkg, "usr", "bin", "vigil-noise-hello"), "w") as f:
        f.write("#!/bin/sh\necho hello\n")
    os.chmod(os.path.join(pkg, "usr", "bin", "vigil-noise-hello"), 0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sh("dpkg-deb --build -Zgzip pkg vigil-noise-hello.deb > /dev/null && "
       "apt-get install -y -q -o DPkg::Lock::Timeout=120 ./vigil-noise-hello.deb > /dev/null && vigil-noise-hello && "
       "apt-get remove -y -q --purge -o DPkg::Lock::Timeout=120 vigil-noise-hello > /dev/null && rm -rf /var/lib/vigil-noise-hello",
       cwd=d, env=env)


@workload("python web server and client")
def _(w):
    d = os.path.join(w, "www")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<h1>hello</h1>\n")
    port = L.free_port()
    srv = subprocess.Popen([L.PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=d,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = (f"import urllib.request, time\nfor i in range(100):\n    try:\n"
                  f"        assert b'hello' in urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2).read()\n"
                  f"        break\n    except OSError:\n        time.sleep(0.1)\n"
                  f"for i in range(20):\n    urllib.request.urlopen('http://127.0.0.1:{port}/index.html', timeout=2).read()\n")
        L.run([L.PYTHON, "-c", client], check=True)
        if shutil.which("curl"):
            L.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"], check=True)
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


@workload("log rotation (logrotate, copytruncate and create)")
def _(w):
    logs = os.path.join("/var/log", "vigil-noise-" + os.path.basename(w))
    os.makedirs(logs, exist_ok=True)
    for n in ("app.log", "auth.log", "syslog"):
        fd = os.open(os.path.join(logs, n), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.write(fd, b"line\n" * 1000)
        os.close(fd)
    conf = os.path.join(w, "logrotate.conf")
    with open(conf, "w") as f:
        f.write(f"{logs}/app.log {logs}/auth.log {{\n  rotate 2\n  copytruncate\n  compress\n  missingok\n}}\n"
                f"{logs}/syslog {{\n  rotate 2\n  create 0640 root root\n  missingok\n}}\n")
    try:
        sh(f"logrotate -f -s {w}/logrotate.state {conf}")
    finally:
        shutil.rmtree(logs, ignore_errors=True)


@workload("cron-style jobs (run-parts)")
def _(w):
    d = os.path.join(w, "cron.hourly")
    os.makedirs(d, exist_ok=True)
    jobs = {"10-cleanup": f"#!/bin/sh\nfind {w} -name '*.tmp' -mtime +1 -delete\n",
            "20-report": f"#!/bin/sh\ndf -h > {w}/df.txt\nuptime >> {w}/df.txt\n",
            "30-backup": f"#!/bin/sh\ntar czf {w}/backup.tgz -C {w} cron.hourly 2>/dev/null\n"}
    for n, t in jobs.items():
        with open(os.path.join(d, n), "w") as f:
            f.write(t)
        os.chmod(os.path.join(d, n), 0o755)
    sh(f"run-parts {d} && run-parts --report {d}")


@workload("container entrypoint (sh -c, exec) in a pod", where="pod")
def _(w, pod):
    ep = os.path.join(w, "docker-entrypoint.sh")
    with open(ep, "w") as f:
        f.write("#!/bin/sh\nset -e\nfor f in /dev/null; do :; done\nexport APP_MODE=production\n"
                f"exec {L.PYTHON} -c 'import os, sys; print(os.environ[\"APP_MODE\"], file=sys.stderr)'\n")
    os.chmod(ep, 0o755)
    in_pod(pod, w, ["/bin/sh", "-c", f"exec {ep}"])
    in_pod(pod, w, ["/bin/sh", "-c", f"{L.PYTHON} -c 'print(1)' > /dev/null && exec true"])


TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def in_pod(pod, w, argv):
    """Starts argv in the pod the way the runtime does: as the child of the container shim
    (a process named containerd-shim), not of this Python driver."""
    # Outside the temporary directories (a real shim is /usr/bin/containerd-shim-runc-v2).
    shim = os.path.join("/run", "vigil-" + os.path.basename(w), "containerd-shim")
    if not os.path.exists(shim):
        L.copy_program(L.PYTHON, shim)
    r = pod.run([shim, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"] + argv,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError(f"{argv} failed ({r.returncode}): {r.stdout.decode(errors='replace')[-800:]}")


@workload("a controller reads its service account token in a pod", where="pod")
def _(w, pod):
    created = not os.path.exists(TOKEN_DIR)
    if created:
        os.makedirs(TOKEN_DIR)
        for n, v in (("token", "eyJhbGciOiJSUzI1NiJ9.e30.sig"), ("namespace", "shop"), ("ca.crt", "-----BEGIN CERTIFICATE-----\n")):
            with open(os.path.join(TOKEN_DIR, n), "w") as f:
                f.write(v)
    app = os.path.join(w, "controller.py")
    with open(app, "w") as f:
        f.write(f"import os\nfor _ in range(3):\n    open('{TOKEN_DIR}/token').read()\n    open('{TOKEN_DIR}/namespace').read()\n")
    try:
        # As python3 (the name an image's interpreter has), not the versioned binary.
        in_pod(pod, w, ["/usr/bin/python3", app])
    finally:
        if created:
            shutil.rmtree("/var/run/secrets", ignore_errors=True)


def overlay(repo):
    """Appends the session id to every default rule's output (a rules file loaded after the defaults)."""
    names = re.findall(r"^- rule: (.+)$", open(os.path.join(repo, "rules", "vigil_rules.yaml")).read(), re.M)
    out = []
    for n in names:
        out.append(f"- rule: {json.dumps(n.strip())}\n  output: \"noise_sid=%proc.sid\"\n  override:\n    output: append\n")
    return "\n".join(out)


def runner_main(workdir, windows_path, pod_json):
    """The workload session (started with setsid by run_all)."""
    pod = L.Pod.__new__(L.Pod)
    pod.__dict__.update(json.loads(pod_json))
    windows = []
    for name, where, fn in WORKLOADS:
        start = L.now_ns()
        err = None
        try:
            fn(workdir, pod) if where == "pod" else fn(workdir)
        except Exception as e:
            err = f"{type(e).__name__}: {e}"
        windows.append({"name": name, "where": where, "start": start, "end": L.now_ns(), "error": err})
        with open(windows_path, "w") as f:
            json.dump(windows, f)


def run_all(vigil, repo, workdir):
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "drain_rules.yaml"), "w") as f:
        f.write(L.DRAIN_RULE)
    with open(os.path.join(workdir, "sid_overlay.yaml"), "w") as f:
        f.write(overlay(repo))
    state = os.path.join(workdir, "containerd")
    agent = L.Agent(vigil, os.path.join(repo, "rules", "vigil.yaml"),
                    [os.path.join(repo, "rules", "vigil_rules.yaml"), os.path.join(workdir, "sid_overlay.yaml"),
                     os.path.join(workdir, "drain_rules.yaml")], workdir,
                    options=[f"containerd.state_root={state}", "crio.enabled=false"])
    pod = L.Pod(L.cgroup2_root(), "vigil-" + os.path.basename(workdir), state, "shop-api-6c7d8f9b5-q4w2e", "shop",
                "registry.example.com/shop/api:2.3.1", container="api")
    windows_path = os.path.join(workdir, "windows.json")
    try:
        agent.wait_ready()
        agent.warm_up(pod)
        r = subprocess.Popen([L.PYTHON, os.path.abspath(__file__), "--runner", workdir, windows_path,
                              json.dumps(pod.__dict__)], preexec_fn=os.setsid, stdin=subprocess.DEVNULL)
        sid = r.pid
        r.wait(900)
        agent.drain(timeout=120)
    finally:
        rc = agent.stop()
        pod.cleanup()
        shutil.rmtree(os.path.join("/run", "vigil-" + os.path.basename(workdir)), ignore_errors=True)
    windows = json.load(open(windows_path)) if os.path.exists(windows_path) else []
    alerts = [a for a in agent.alerts() if a.get("output_fields", {}).get("proc.sid") == sid
              or (a.get("output_fields", {}).get("container.id") == pod.short_id and a.get("rule") != "Live test drain marker")]
    report = {"agent_exit": rc, "agent_log": agent.log_tail(3), "session": sid, "workloads": []}
    for w in windows:
        mine = [a for a in alerts if w["start"] <= _ns(a["time"]) <= w["end"]]
        counts = {}
        for a in mine:
            k = (a["rule"], a["priority"])
            counts[k] = counts.get(k, 0) + 1
        report["workloads"].append({
            "name": w["name"], "where": w["where"], "error": w["error"], "seconds": round((w["end"] - w["start"]) / 1e9, 2),
            "alerts": [{"rule": k[0], "priority": k[1], "count": v} for k, v in sorted(counts.items())],
            "warning_or_above": sum(v for k, v in counts.items() if k[1] in WARNING_OR_ABOVE),
            "examples": [a["output"][:400] for a in mine if a["priority"] in WARNING_OR_ABOVE][:3],
        })
    inside = [id(a) for a in alerts if any(w["start"] <= _ns(a["time"]) <= w["end"] for w in windows)]
    report["outside_windows"] = [a["output"][:300] for a in alerts if id(a) not in inside]
    return report


def _ns(rfc3339):
    """'2026-12-05T20:36:35.678788668Z' -> ns since the epoch."""
    import calendar
    base, _, frac = rfc3339.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return t * 1_000_000_000 + int((frac + "000000000")[:9])


def print_report(r):
    print(f"{'workload':55} {'s':>6}  alerts (rule: priority x count)")
    for w in r["workloads"]:
        a = ", ".join(f"{x['rule']}: {x['priority']} x{x['count']}" for x in w["alerts"]) or "none"
        print(f"{w['name']:55} {w['seconds']:6.1f}  {a}" + (f"  [workload error: {w['error']}]" if w["error"] else ""))
    total = sum(w["warning_or_above"] for w in r["workloads"])
    print(f"\nalerts at Warning or above: {total}; all alerts: {sum(x['count'] for w in r['workloads'] for x in w['alerts'])}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--runner":
        os.environ.pop("PYTHONPATH", None)
        runner_main(sys.argv[2], sys.argv[3], sys.argv[4])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--out")
    ap.add_argument("--report", action="store_true", help="print the table")
    ap.add_argument("--workdir", default=f"/var/tmp/vigil-noise-{os.getpid()}")
    a = ap.parse_args()
    try:
        report = run_all(a.vigil, a.repo, a.workdir)
    finally:
        shutil.rmtree(a.workdir, ignore_errors=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
    if a.report or not a.out:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
