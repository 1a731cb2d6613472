#!/usr/bin/env bash
# Self-test of run.sh's handling of the QEMU TCG fault (tcg_fault.py), with a stand-in
# qemu-system-x86_64 that replays scripted boots: a console log from fixtures/ and a results
# file whose load check passes or fails. `make test-kernels` runs it before the real matrix.
#   fault, then clean     -> said loudly, rerun once, the rerun's results count (exit 0)
#   fault twice           -> rerun once, the failure stands (exit 1)
#   another oops          -> no rerun, the failure stands (exit 1)
#   fault but checks pass -> no rerun (exit 0)
#   no results, then clean -> a guest that wrote nothing hung: rerun once, said loudly (exit 0)
#   no results twice      -> rerun once, the failure stands, with a recap (exit 1)
#   watchdog, then clean  -> the watchdog's deadline is a hang too: rerun once (exit 0)
#   watchdog twice        -> the failure stands and names the step that hung, with a recap (exit 1)
#   a plain failure       -> no rerun, with a recap (exit 1)
# Needs what run.sh needs (root, gcc, cpio, busybox, python3); prints one line per scenario.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
t="$(mktemp -d /tmp/vigil-km-selftest.XXXXXX)"
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/bin"
cat > "$t/bin/qemu-system-x86_64" <<'EOF'
#!/usr/bin/env bash
# Stand-in for QEMU: boot N plays line N of $FAKE_QEMU_PLAN ("<console fixture> pass|fail|none|deadline"):
# none writes no results (a wedged guest, killed by the timeout); deadline writes what guest-init.sh's
# watchdog writes when the scenario hangs in the attach.
n=$(( $(cat "$FAKE_QEMU_STATE" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$FAKE_QEMU_STATE"
line="$(sed -n "${n}p" "$FAKE_QEMU_PLAN")"; console="${line% *}"; outcome="${line##* }"
serials=()
while [ $# -gt 0 ]; do [ "$1" = -serial ] && serials+=("${2#file:}"); shift; done
cp "$console" "${serials[0]}"
[ "$outcome" = none ] && exit 124
{
  echo "KM-BEGIN 6.12.0-fake"; echo "KM-SECTION facts"; echo "kernel release=6.12.0-fake"
  [ "$outcome" = pass ] && echo "load attached=1"
  [ "$outcome" = deadline ] && echo "guest deadline=255 during: vigil trace: attaching BPF programs"
  echo "KM-SECTION trace.err"; echo '{"level":"error","msg":"stand-in: no attach"}'; echo "KM-END"
} > "${serials[1]}"
EOF
chmod 755 "$t/bin/qemu-system-x86_64"
: > "$t/vmlinuz-fake"
fx="$here/fixtures"
failures=0

scenario() { # NAME WANT_EXIT WANT_BOOTS WANT_GREP... -- PLAN_LINES...
  local name="$1" want_rc="$2" want_boots="$3"; shift 3
  local greps=() plan="$t/plan"
  while [ "$1" != -- ]; do greps+=("$1"); shift; done; shift
  printf '%s\n' "$@" > "$plan"
  rm -f "$t/state"
  PATH="$t/bin:$PATH" FAKE_QEMU_PLAN="$plan" FAKE_QEMU_STATE="$t/state" KERNELS="$t/vmlinuz-fake" CHECKS=load SKIP= \
    VIGIL_BIN=/bin/true BPF_OBJ="$t/vmlinuz-fake" RULES_DIR="$repo/rules" OUT_DIR="$t/out" KERNEL_TIMEOUT=30 \
    bash "$here/run.sh" > "$t/out.txt" 2>&1
  local rc=$? boots why=""
  boots="$(cat "$t/state" 2>/dev/null || echo 0)"
  [ "$rc" = "$want_rc" ] || why="exit $rc, want $want_rc"
  [ "$boots" = "$want_boots" ] || why="${why:+$why; }$boots boots, want $want_boots"
  for g in "${greps[@]}"; do
    case "$g" in
      !*) grep -qF -- "${g#!}" "$t/out.txt" && why="${why:+$why; }output has '${g#!}'" ;;
      *) grep -qF -- "$g" "$t/out.txt" || why="${why:+$why; }output lacks '$g'" ;;
    esac
  done
  if [ -n "$why" ]; then
    echo "kernel-matrix self-test: $name: FAIL: $why"; sed 's/^/    /' "$t/out.txt"; failures=$((failures + 1))
  else
    echo "kernel-matrix self-test: $name: PASS"
  fi
}

scenario "int3 fault during attach, then a clean boot" 0 2 "EMULATOR FAULT" "rerunning this kernel once" "discarded: load FAIL" \
  "1 passed, 0 failed" "rerun once after a QEMU TCG int3 fault" -- \
  "$fx/tcg-fault-6.12-trace-attach.log fail" "$fx/tcg-clean.log pass"
scenario "int3 fault during attach twice" 1 2 "EMULATOR FAULT" "happened again on the rerun" "0 passed, 1 failed" -- \
  "$fx/tcg-fault-6.12-trace-attach.log fail" "$fx/tcg-fault-5.10-run-attach.log fail"
scenario "another oops during attach" 1 1 "!EMULATOR FAULT" "0 passed, 1 failed" -- \
  "$fx/tcg-other-oops-during-attach.log fail" "$fx/tcg-clean.log pass"
scenario "int3 oops after attach" 1 1 "!EMULATOR FAULT" "0 passed, 1 failed" -- \
  "$fx/tcg-int3-after-attach.log fail" "$fx/tcg-clean.log pass"
scenario "int3 fault but the checks passed" 0 1 "!rerunning" "1 passed, 0 failed" -- \
  "$fx/tcg-fault-6.12-trace-attach.log pass" "$fx/tcg-clean.log pass"
scenario "a guest that wrote no results, then a clean boot" 0 2 "HUNG: the guest wrote no results" \
  "rerunning this kernel once" "rerun once after a guest that hung" "1 passed, 0 failed" "!RECAP" -- \
  "$fx/tcg-clean.log none" "$fx/tcg-clean.log pass"
scenario "a guest that wrote no results twice" 1 2 "HUNG: the guest wrote no results" "RECAP vmlinuz-fake: failed: load" \
  "RECAP vmlinuz-fake: console: km: vigil trace: attaching" "0 passed, 1 failed" -- \
  "$fx/tcg-clean.log none" "$fx/tcg-clean.log none"
scenario "the guest's watchdog wrote its results at the deadline, then a clean boot" 0 2 \
  "HUNG: the guest's watchdog reached its" "deadline during: vigil trace: attaching BPF programs" \
  "discarded: load FAIL" "1 passed, 0 failed" -- \
  "$fx/tcg-clean.log deadline" "$fx/tcg-clean.log pass"
scenario "the watchdog's deadline twice" 1 2 "HUNG: the guest's watchdog" \
  "deadline during: vigil trace: attaching BPF programs]" "RECAP vmlinuz-fake: first reason:" "0 passed, 1 failed" -- \
  "$fx/tcg-clean.log deadline" "$fx/tcg-clean.log deadline"
scenario "a guest that finished with a failure" 1 1 "!HUNG" "!rerunning" "RECAP vmlinuz-fake: failed: load" "0 passed, 1 failed" -- \
  "$fx/tcg-clean.log fail" "$fx/tcg-clean.log pass"
[ "$failures" = 0 ]
