"""Shared pieces of Vigil's live tests: run the agent, simulate a Kubernetes pod, call syscalls.

Everything here is real: the agent loads its BPF programs, the behaviours are real
processes doing real system calls. A "pod" is a cgroup named the way the kubelet and
containerd name them (under the cgroup v2 mount found in /proc/self/mountinfo), plus
the containerd bundle (config.json) the runtime would have written, so the agent
attributes the events to a container and a pod exactly as on a node.

Needs root (BPF, cgroups, mounts) and Python 3.9+ (standard library only).
"""
import ctypes
import ctypes.util
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

# A real Python interpreter (not a pyenv shell shim): behaviours run as this program.
PYTHON = os.path.realpath("/usr/bin/python3") if os.path.exists("/usr/bin/python3") else os.path.realpath(sys.executable)

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

# A test runner may start this with signals blocked (SIGTERM among them); children inherit the
# mask, and a server that never sees SIGTERM never stops. Start from an empty mask.
signal.pthread_sigmask(signal.SIG_SETMASK, set())

# Syscall numbers of the calls Python does not wrap (x86_64, aarch64).
_NR = {
    "x86_64": {"openat2": 437, "renameat2": 316, "execveat": 322, "init_module": 175, "finit_module": 313,
               "ptrace": 101, "linkat": 265, "symlinkat": 266, "unshare": 272, "setns": 308, "mount": 165,
               "umount2": 166, "bpf": 321, "dup3": 292, "open_by_handle_at": 304},
    "aarch64": {"openat2": 437, "renameat2": 276, "execveat": 281, "init_module": 105, "finit_module": 273,
                "ptrace": 117, "linkat": 37, "symlinkat": 36, "unshare": 97, "setns": 268, "mount": 40,
                "umount2": 39, "bpf": 280, "dup3": 24, "open_by_handle_at": 265},
}[platform.machine()]

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
RENAME_NOREPLACE = 1
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def syscall(name, *args):
    """Calls a system call by name; returns its result, or -errno."""
    conv = []
    for a in args:
        if isinstance(a, str):
            conv.append(ctypes.c_char_p(a.encode()))
        elif isinstance(a, bytes):
            conv.append(ctypes.c_char_p(a))
        elif isinstance(a, int):
            conv.append(ctypes.c_long(a))
        else:
            conv.append(a)
    r = libc.syscall(ctypes.c_long(_NR[name]), *conv)
    return r if r >= 0 else -ctypes.get_errno()


def openat2(path, flags=os.O_RDONLY, dirfd=AT_FDCWD):
    """openat2(2) with a struct open_how {flags, mode, resolve}; returns the fd or -errno."""
    how = (ctypes.c_uint64 * 3)(flags, 0, 0)
    return syscall("openat2", dirfd, path, ctypes.byref(how), ctypes.sizeof(how))


def private_net(addresses):
    """Moves the calling process into a new network namespace whose loopback carries
    `addresses` (the metadata service, the API service IP, a public host), so connections
    to them succeed locally: no packet leaves the machine and no route or ICMP state of
    the host changes the result. Needs CAP_SYS_ADMIN (a privileged pod or the host)."""
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    ip = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "ip"
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    for a in addresses:
        subprocess.run([ip, "addr", "add", a + "/32", "dev", "lo"], check=True)


def serve_and_close(address, port, count=8):
    """A TCP listener on address:port that accepts and closes `count` connections (thread)."""
    import threading
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((address, port))
    srv.listen(count)

    def loop():
        for _ in range(count):
            conn, _ = srv.accept()
            conn.close()
    threading.Thread(target=loop, daemon=True).start()
    return srv


def now_ns():
    return time.time_ns()


def cgroup2_root():
    """The cgroup v2 mount point, from /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ")[0] == "cgroup2":
                return left.split(" ")[4]
    raise RuntimeError("no cgroup2 mount in /proc/self/mountinfo")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Agent:
    """`vigil run` with JSON alerts on stdout (to a file) and its log on stderr (to a file)."""

    def __init__(self, vigil, config, rules, workdir, options=()):
        self.port = free_port()
        self.workdir = workdir
        self.alerts_path = os.path.join(workdir, "alerts.jsonl")
        self.log_path = os.path.join(workdir, "agent.log")
        args = [vigil, "run", "-c", config]
        for r in rules:
            args += ["-r", r]
        opts = ["webserver.listen_address=127.0.0.1", f"webserver.listen_port={self.port}",
                "stdout_output.format=json", "flood_control.fold.enabled=false",
                "flood_control.rate_limit.enabled=false"] + list(options)
        for o in opts:
            args += ["-o", o]
        self.args = args
        self.proc = subprocess.Popen(args, stdout=open(self.alerts_path, "w"), stderr=open(self.log_path, "w"),
                                     stdin=subprocess.DEVNULL)

    def _restart_on_new_port(self):
        """The port free_port() found was taken by another program before the agent bound it
        (other test suites run on the machine): start again on another one."""
        old = self.port
        self.port = free_port()
        self.args = [a.replace(f"webserver.listen_port={old}", f"webserver.listen_port={self.port}") for a in self.args]
        self.proc = subprocess.Popen(self.args, stdout=open(self.alerts_path, "w"), stderr=open(self.log_path, "w"),
                                     stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout=120):
        end = time.time() + timeout
        restarts = 0
        while time.time() < end:
            if self.proc.poll() is not None:
                if restarts < 3 and f"cannot listen on 127.0.0.1:{self.port}" in self.log_tail(50):
                    restarts += 1
                    self._restart_on_new_port()
                    continue
                raise RuntimeError(f"agent exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"agent not ready after {timeout}s: {self.log_tail()}")

    def metric(self, name):
        """The sum of a Prometheus counter's samples (all label sets)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                body = r.read().decode()
        except Exception:
            return None
        total = 0.0
        for line in body.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def alerts(self):
        out = []
        with open(self.alerts_path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        return out

    def wait_for_alerts(self, predicate, timeout=20):
        """Waits until predicate(alerts) holds (or the deadline passes); returns the alerts."""
        end = time.time() + timeout
        while True:
            a = self.alerts()
            if predicate(a) or time.time() >= end:
                return a
            time.sleep(0.25)

    def drain(self, timeout=15):
        """Waits until the agent has processed every event emitted so far: a marker file
        opened now must reach the rule engine (its alert from the marker rule appears)."""
        marker = os.path.join(self.workdir, f"drain-{uuid.uuid4().hex}")
        with open(marker, "w"):
            pass
        base = os.path.basename(marker)
        return self.wait_for_alerts(lambda a: any(base in x.get("output", "") for x in a), timeout)

    def warm_up(self, pod, timeout=90):
        """Makes the agent know a pod (as it would from the container's entrypoint): a process
        in the pod opens a marker until the rule engine sees the pod's metadata."""
        end = time.time() + timeout
        while time.time() < end:
            marker = os.path.join(self.workdir, f"drain-{uuid.uuid4().hex}")
            pod.run([PYTHON, "-c", f"open({marker!r}, 'w').close()"])
            base = os.path.basename(marker)
            a = self.wait_for_alerts(lambda a: any(base in x.get("output", "") for x in a), 10)
            # The output text is rendered when the rules run: the pod is known at evaluation time
            # (alerts held for metadata get their output fields, not their conditions, completed later).
            if any(base in x.get("output", "") and f"pod={pod.name} " in x.get("output", "") for x in a):
                return
        raise RuntimeError(f"the agent never attributed an event to pod {pod.name}")

    def log_tail(self, n=10):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# A rule that fires on the drain marker (loaded next to the rules under test).
DRAIN_RULE = """
- rule: Live test drain marker
  desc: The live test's marker file, opened to know the agent caught up.
  condition: evt.type in (open, openat, openat2) and fd.name contains "/drain-" and fd.name startswith /var/tmp/vigil-
  output: drain marker %fd.name pod=%k8s.pod.name privileged=%container.privileged
  priority: DEBUG
  tags: [vigil_live_test]
"""


# Capability numbers (linux/capability.h) and containerd's default set for a container.
CAP_NUMBERS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
               "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
               "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
               "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
               "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
               "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
               "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32,
               "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
               "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40}
ALL_CAPS = list(CAP_NUMBERS)
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
                "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
                "CAP_AUDIT_WRITE"]
PR_CAPBSET_DROP = 24


def containerd_spec(cid, pod, ns, uid, name, image, privileged=False):
    """The OCI config.json containerd's CRI plugin writes for a pod container."""
    caps = ALL_CAPS if privileged else DEFAULT_CAPS
    return {
        "ociVersion": "1.1.0",
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["/docker-entrypoint.sh", "nginx"], "cwd": "/",
                    "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}},
        "root": {"path": "rootfs"},
        "hostname": pod,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/etc/hosts", "type": "bind",
             "source": f"/var/lib/kubelet/pods/{uid}/etc-hosts", "options": ["rbind", "rprivate", "rw"]},
            {"destination": "/var/run/secrets/kubernetes.io/serviceaccount", "type": "bind",
             "source": f"/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~projected/kube-api-access-x7k2p",
             "options": ["rbind", "rprivate", "ro"]},
        ],
        "annotations": {
            "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.container-name": name,
            "io.kubernetes.cri.image-name": image, "io.kubernetes.cri.sandbox-id": "ab" * 32,
            "io.kubernetes.cri.sandbox-name": pod, "io.kubernetes.cri.sandbox-namespace": ns,
            "io.kubernetes.cri.sandbox-uid": uid},
        "linux": {"resources": {"memory": {}}, "cgroupsPath": f"kubepods-besteffort-pod.slice:cri-containerd:{cid}",
                  "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                  "maskedPaths": [] if privileged else ["/proc/acpi", "/proc/kcore", "/proc/keys"],
                  "readonlyPaths": [] if privileged else ["/proc/bus", "/proc/sys"]},
    }


class Pod:
    """A simulated Kubernetes pod container: kubelet/containerd-named cgroup plus containerd state."""

    def __init__(self, cg_root, base, state_root, name, namespace, image, container="app", privileged=False):
        self.id = "".join(random.choice("0123456789abcdef") for _ in range(64))
        self.short_id = self.id[:12]
        self.uid = str(uuid.uuid4())
        self.name, self.namespace, self.image, self.container = name, namespace, image, container
        self.privileged = privileged
        u = self.uid.replace("-", "_")
        self.rel = (f"{base}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{u}.slice/"
                    f"cri-containerd-{self.id}.scope")
        self.cg_root = cg_root
        self.dirs = []
        cur = cg_root
        for part in self.rel.split("/"):
            cur = os.path.join(cur, part)
            if not os.path.isdir(cur):
                os.mkdir(cur)
            self.dirs.append(cur)
        self.procs_file = os.path.join(cur, "cgroup.procs")
        bundle = os.path.join(state_root, "io.containerd.runtime.v2.task", "k8s.io", self.id)
        os.makedirs(bundle, exist_ok=True)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(containerd_spec(self.id, name, namespace, self.uid, container, image, privileged), f)
        repo = image.split("@")[0]
        if ":" in repo.rsplit("/", 1)[-1]:
            repo = repo.rsplit(":", 1)[0]
        self.repository = repo

    def enter(self):
        """Moves the calling process into the pod's cgroup and, for an unprivileged pod, limits
        its capabilities to containerd's default set as the runtime would (use as preexec_fn:
        the bounding set limits what the exec'd program gets)."""
        with open(self.procs_file, "w") as f:
            f.write(str(os.getpid()))
        if not self.privileged:
            keep = {CAP_NUMBERS[c] for c in DEFAULT_CAPS}
            for cap in range(64):
                if cap not in keep and libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and cap <= 40:
                    raise OSError(ctypes.get_errno(), f"cannot drop capability {cap}")

    def run(self, argv, **kw):
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("timeout", 60)
        return subprocess.run(argv, preexec_fn=self.enter, **kw)

    def cleanup(self):
        for d in reversed(self.dirs):
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def run(argv, **kw):
    """Runs a host process (stdio detached unless given)."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.DEVNULL)
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("timeout", 120)
    return subprocess.run(argv, **kw)


def py(code, *extra, name=None, runner=run, **kw):
    """Runs Python code as a real process. `name`: a copy of the interpreter with that file
    name (so the process's name is `name`); the extra arguments follow (tokens for matching)."""
    exe = PYTHON if name is None else name
    return runner([exe, "-c", code] + list(extra), **kw)


def copy_program(src, dst):
    """A renamed copy of a program (what an attacker does to pass name-based allow-lists)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o755)
    return dst


def which(prog):
    p = shutil.which(prog, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return os.path.realpath(p) if p else None
