#!/usr/bin/env python3
"""Recognises one known QEMU TCG fault in a kernel-matrix guest's console log.

    tcg_fault.py CONSOLE_LOG     prints what happened and exits 0 when the log shows the fault,
                                 exits 1 when it does not
    tcg_fault.py --self-test     checks the recogniser against fixtures/tcg-*.log

The fault: attaching BPF programs enables tracepoints, and the kernel live-patches their static
branches (text_poke_bp: an int3 goes in first, then the new instruction). Under TCG another vCPU
can still execute the int3 after the patch is complete and the kernel no longer expects it
(cross-modifying code the emulator does not synchronise as hardware does); the kernel then dies
with "int3: 0000" in the function being patched (bprm_execve, for the exec tracepoint, while the
guest's shell execs). Hardware and KVM guests do not do this, so run.sh reruns such a kernel once.

Only this exact signature counts: a kernel-mode int3 oops, printed while a `vigil` process was
attaching its programs (between guest-init.sh's "attaching BPF programs" and its "programs
attached" or "did not attach" line). Any other oops, or an int3 oops at another time, is not
recognised, and the kernel's failures stand.
"""
import os
import re
import sys

# "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI" (6.x) or "int3: 0000 [#1] SMP NOPTI" (5.10).
OOPS_INT3 = re.compile(r"(?:^|\]\s|\s)(?:Oops: )?int3: [0-9a-f]{4} \[#\d+\]")
RIP = re.compile(r"RIP: 0010:(\S+)")
COMM = re.compile(r"CPU: \d+ (?:UID: \d+ )?PID: \d+ Comm: (\S+)")
ATTACHING = re.compile(r"km: (.+): attaching BPF programs")
ATTACH_DONE = re.compile(r"km: (.+): (?:programs attached|did not attach)")


def recognise(text):
    """The description of the fault when `text` (a console log) shows it, else None."""
    attaching = None  # the vigil command attaching right now
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = ATTACHING.search(line)
        if m:
            attaching = m.group(1)
            continue
        if ATTACH_DONE.search(line):
            attaching = None
            continue
        if OOPS_INT3.search(line) and attaching is not None:
            rip, comm = "?", "?"
            for follow in lines[i + 1:i + 40]:
                if rip == "?" and (r := RIP.search(follow)):
                    rip = r.group(1)
                if comm == "?" and (c := COMM.search(follow)):
                    comm = c.group(1)
            return (f"kernel int3 oops at {rip} (task {comm}) while `{attaching}` attached its BPF programs: "
                    "QEMU TCG executed a breakpoint of the kernel's live code patching (text_poke) after the patch was done")
    return None


def self_test():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    cases = sorted(f for f in os.listdir(here) if f.startswith("tcg-") and f.endswith(".log"))
    bad = 0
    for name in cases:
        with open(os.path.join(here, name), errors="replace") as f:
            got = recognise(f.read())
        want = name.startswith("tcg-fault-")
        if (got is not None) != want:
            print(f"tcg_fault.py self-test: {name}: {'not recognised' if want else 'wrongly recognised: ' + str(got)}")
            bad += 1
    if len(cases) < 4:
        print(f"tcg_fault.py self-test: only {len(cases)} fixtures in {here}")
        bad += 1
    return bad


def main(argv):
    if argv[1:] == ["--self-test"]:
        return 1 if self_test() else 0
    if len(argv) != 2:
        print("usage: tcg_fault.py CONSOLE_LOG | --self-test", file=sys.stderr)
        return 2
    try:
        with open(argv[1], errors="replace") as f:
            text = f.read()
    except OSError:
        return 1
    what = recognise(text)
    if what is None:
        return 1
    print(what)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
