#!/usr/bin/env python3
"""Writes Vigil's seccomp profile: a runtime's default profile with exactly two changes.

    python3 deploy/seccomp/derive.py [DEFAULT_PROFILE] > vigil-seccomp.json

DEFAULT_PROFILE is the runtime's own default (OCI/Docker JSON format), by default
/usr/share/containers/seccomp.json: the profile podman and CRI-O apply. That profile allows `bpf`
and `perf_event_open` only to containers holding CAP_SYS_ADMIN, which Vigil does not get; the
derived profile allows
  - bpf              when the container holds CAP_BPF
  - perf_event_open  when the container holds CAP_PERFMON
and is otherwise the default, rule for rule (both syscalls are taken out of every other rule, so
no rule of the default can deny them first). containerd's own default profile already does this
(tested by `make test-containers`), so Kubernetes nodes on containerd need no custom profile.

Use it with podman (`--security-opt seccomp=vigil-seccomp.json`, deploy/README.md) or, on CRI-O
nodes, as a Localhost profile: copy it to /var/lib/kubelet/seccomp/vigil.json on each node and set
seccompProfile {type: Localhost, localhostProfile: vigil.json} (Helm: `seccompProfile`).
"""
import json
import sys

VIGIL_SYSCALLS = {"bpf": "CAP_BPF", "perf_event_open": "CAP_PERFMON"}


def derive(profile: dict) -> dict:
    if not isinstance(profile.get("syscalls"), list):
        raise ValueError("not a seccomp profile: no 'syscalls' list")
    out = dict(profile)
    rules = []
    for rule in profile["syscalls"]:
        names = rule.get("names") or ([rule["name"]] if "name" in rule else [])
        kept = [n for n in names if n not in VIGIL_SYSCALLS]
        if not kept:
            continue
        r = dict(rule)
        r.pop("name", None)
        r["names"] = kept
        rules.append(r)
    for name, cap in VIGIL_SYSCALLS.items():
        rules.append({"names": [name], "action": "SCMP_ACT_ALLOW", "includes": {"caps": [cap]},
                      "comment": f"Vigil: {name} with {cap} (deploy/seccomp/derive.py)"})
    out["syscalls"] = rules
    return out


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
    try:
        with open(path, encoding="utf-8") as f:
            profile = json.load(f)
        derived = derive(profile)
    except (OSError, ValueError) as e:
        print(f"derive.py: {path}: {e}", file=sys.stderr)
        return 1
    json.dump(derived, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
