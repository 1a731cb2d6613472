#!/usr/bin/env bash
# Kernel matrix: boots each kernel under QEMU (TCG) with an initramfs holding vigil, its
# libraries, the BPF object, the bundled rules and the test programs, runs guest-init.sh's
# scenario inside and checks the results exactly (check.py). The host's running kernel is
# booted too when its image is readable, else the same scenario runs natively on the host.
#
# Settings (environment; `make test-kernels` passes them through):
#   KERNELS        kernels to test: Debian series (5.10 6.1 6.12), "host", or a path to a vmlinuz
#                  (default: "5.10 6.1 6.12 host")
#   CHECKS         load exec open connect fork fork-ids ia32 uring rule ia32-rule uring-rule (default: all)
#   SKIP           KERNEL:CHECK pairs not run, reported as skipped ("5.10:ia32 *:uring"; KERNEL
#                  as in KERNELS, or *)
#   VIGIL_BIN      the vigil binary (default .build/debug/vigil)
#   BPF_OBJ        the BPF object (default build/bpf/vigil.bpf.o)
#   RULES_DIR      the rules directory with vigil.yaml (default rules)
#   OUT_DIR        logs and results (default build/kernel-matrix)
#   KERNEL_CACHE   downloaded kernels (default build/kernels)
#   KERNEL_TIMEOUT seconds per kernel before the guest is killed (default 300); the guest's own
#                  watchdog writes what it has, with what was running, 45 s before that
#   QEMU_MEM       guest memory in MiB (default 1536); QEMU_SMP guest CPUs (default 2)
# Output: "<kernel> <check> PASS|FAIL: ..." per kernel and check; then, for each kernel with a
# failure, a recap (the failed checks, the first reason, the console's last progress and kernel
# lines); then "N passed, N failed".
# Exit status: 0 when every check passed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
KERNELS="${KERNELS:-5.10 6.1 6.12 host}"
CHECKS="${CHECKS:-load exec open connect fork fork-ids ia32 uring rule ia32-rule uring-rule}"
VIGIL_BIN="${VIGIL_BIN:-.build/debug/vigil}"
BPF_OBJ="${BPF_OBJ:-build/bpf/vigil.bpf.o}"
RULES_DIR="${RULES_DIR:-rules}"
OUT_DIR="${OUT_DIR:-build/kernel-matrix}"
KERNEL_CACHE="${KERNEL_CACHE:-build/kernels}"
KERNEL_TIMEOUT="${KERNEL_TIMEOUT:-300}"
# The guest scenario's deadline (guest-init.sh's watchdog): leaves time to boot and to write.
if [ "$KERNEL_TIMEOUT" -gt 120 ]; then KM_DEADLINE=$((KERNEL_TIMEOUT - 45)); else KM_DEADLINE=$((KERNEL_TIMEOUT * 2 / 3)); fi
QEMU_MEM="${QEMU_MEM:-1536}"
QEMU_SMP="${QEMU_SMP:-2}"
SKIP="${SKIP:-}"
CHECKS="$(echo "$CHECKS" | tr ',' ' ' | xargs)"
SKIP="$(echo "$SKIP" | tr ',' ' ' | xargs)"
KERNELS="$(echo "$KERNELS" | tr ',' ' ' | xargs)"

die() { echo "kernel-matrix: error: $*" >&2; exit 2; }
for f in "$VIGIL_BIN" "$BPF_OBJ" "$RULES_DIR/vigil.yaml"; do [ -r "$f" ] || die "$f not found (VIGIL_BIN, BPF_OBJ, RULES_DIR)"; done
for t in qemu-system-x86_64 gcc cpio python3; do command -v "$t" >/dev/null || die "$t missing (make test-kernels installs qemu-system-x86, busybox-static, cpio, gcc)"; done
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || [ -x /bin/busybox ] || die "/bin/busybox missing (busybox-static)"
[ "$(id -u)" = 0 ] || die "must run as root (the host check loads BPF)"
VIGIL_BIN="$(readlink -f "$VIGIL_BIN")"; BPF_OBJ="$(readlink -f "$BPF_OBJ")"; RULES_DIR="$(readlink -f "$RULES_DIR")"
mkdir -p "$OUT_DIR" "$KERNEL_CACHE"
OUT_DIR="$(readlink -f "$OUT_DIR")"
start_all=$(date +%s)

# ---- the test programs (static, non-PIE: km_ia32 passes 32-bit pointers) ----
progs="$OUT_DIR/progs"
mkdir -p "$progs"
for src in "$here"/progs/km_*.c; do
  p="$progs/$(basename "$src" .c)"
  if [ ! -x "$p" ] || [ "$src" -nt "$p" ]; then
    gcc -O2 -Wall -static -no-pie -o "$p" "$src" || die "compiling $src failed"
  fi
done

# ---- the initramfs (one for every kernel) ----
build_initramfs() {
  local root="$OUT_DIR/initramfs.root" out="$OUT_DIR/initramfs.cpio"
  rm -rf "$root"; mkdir -p "$root"/{bin,sbin,etc/vigil,proc,sys,dev,tmp,run,root,km,usr/bin,usr/lib/vigil}
  cp /bin/busybox "$root/bin/busybox"
  cp "$here/guest-init.sh" "$root/init"; chmod 755 "$root/init"
  cp "$VIGIL_BIN" "$root/usr/bin/vigil"
  # Every library ldd lists, at the same path, plus the dynamic loader.
  local dirs=""
  while read -r lib; do
    [ -n "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
    case ":$dirs:" in *":$(dirname "$lib"):"*) ;; *) dirs="${dirs:+$dirs:}$(dirname "$lib")" ;; esac
  done < <(ldd "$VIGIL_BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}')
  [ -e "$root/lib64/ld-linux-x86-64.so.2" ] || die "ldd listed no dynamic loader for $VIGIL_BIN"
  echo "$dirs" > "$root/etc/km-ld-library-path"
  cp "$BPF_OBJ" "$root/usr/lib/vigil/vigil.bpf.o"
  cp "$RULES_DIR"/*.yaml "$root/etc/vigil/"
  cp "$progs"/km_* "$root/km/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nshadow:x:42:\nnogroup:x:65534:\n' > "$root/etc/group"
  printf 'root:$6$kernelmatrix$notarealhash:19000:0:99999:7:::\n' > "$root/etc/shadow"; chmod 640 "$root/etc/shadow"
  echo km-guest > "$root/etc/hostname"
  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out.tmp" || die "cpio failed"
  mv "$out.tmp" "$out"
  rm -rf "$root"
}

declare -i passed=0 failed=0 skipped=0
# Paths in messages: relative to the working directory when under it.
rel() { realpath -s --relative-base="$PWD" "$1"; }
# The checks of kernel $1 that SKIP does not exclude.
checks_for() {
  local - out="" c s
  set -f
  for c in $CHECKS; do
    for s in $SKIP; do
      case "$s" in "$1:$c"|"*:$c"|"$1:*") continue 2 ;; esac
    done
    out="$out $c"
  done
  echo "${out# }"
}
# The recap of failed kernels, printed before the totals (a CI log shows its tail first).
recap_file="$(mktemp /tmp/vigil-km-recap.XXXXXX)"
trap 'rm -f "$recap_file"' EXIT
recap() { # LABEL LINES CONSOLE_LOG
  local fails
  fails="$(grep "^$1 [^ ]* FAIL" <<< "$2")" || return 0
  {
    echo "kernel-matrix: RECAP $1: failed: $(awk '{print $2}' <<< "$fails" | xargs)"
    echo "kernel-matrix: RECAP $1: first reason: $(head -1 <<< "$fails" | cut -d' ' -f3- | cut -c1-400)"
    grep -a -E "km: |Oops|BUG:|panic|hung|stall|RIP:|Call Trace|segfault|Killed" "$3" 2>/dev/null | tr -d '\r' | tail -14 \
      | sed "s/^/kernel-matrix: RECAP $1: console: /"
  } >> "$recap_file"
}
record() { # prints check.py's lines and counts them
  while IFS= read -r line; do
    echo "$line"
    read -r _ _ status _ <<< "$line"
    case "$status" in PASS) passed+=1 ;; FAIL*) failed+=1 ;; SKIP) skipped+=1 ;; esac
  done
}

initramfs_built=0
tcg_reruns=""
hang_reruns=""
# The emulator-fault recogniser must recognise its fixtures before anything is rerun on its word.
python3 "$here/tcg_fault.py" --self-test || die "tcg_fault.py --self-test failed"
for k in $KERNELS; do
  t0=$(date +%s)
  kchecks="$(checks_for "$k")"
  for c in $CHECKS; do
    case " $kchecks " in *" $c "*) ;; *) echo "$k $c SKIP (excluded by SKIP=\"$SKIP\")"; skipped+=1 ;; esac
  done
  [ -n "$kchecks" ] || continue
  label="$k"; vmlinuz=""; native=0; version=""; tcg_rerun_done=""
  case "$k" in
    host)
      label="host-$(uname -r)"
      for cand in "/boot/vmlinuz-$(uname -r)" "/lib/modules/$(uname -r)/vmlinuz"; do
        [ -r "$cand" ] && { vmlinuz="$cand"; break; }
      done
      [ -n "$vmlinuz" ] || native=1
      version="$(uname -r)" ;;
    /*|./*)
      vmlinuz="$k"; label="$(basename "$k")"; version="$label" ;;
    *)
      if ! got="$("$here/fetch-kernel.sh" "$k" "$KERNEL_CACHE" 2>"$OUT_DIR/fetch-$k.log")"; then
        record < <(for c in $kchecks; do echo "$k $c FAIL: kernel download failed: $(tail -1 "$OUT_DIR/fetch-$k.log") (log: $(rel "$OUT_DIR/fetch-$k.log"))"; done)
        tail -5 "$OUT_DIR/fetch-$k.log" | sed "s/^/kernel-matrix: RECAP $k: kernel download failed: /" >> "$recap_file"
        continue
      fi
      version="${got%% *}"; vmlinuz="${got#* }"
      label="$(basename "$vmlinuz" | sed 's/^vmlinuz-//')" ;;
  esac
  kdir="$OUT_DIR/$label"; mkdir -p "$kdir"
  log="$kdir/console.log"; results="$kdir/results.txt"
  rm -f "$log" "$results"
  if [ "$native" = 1 ]; then
    echo "kernel-matrix: $label: running natively on the host (no image of the running kernel to boot: /boot/vmlinuz-$(uname -r) absent)"
    work="$(mktemp -d /tmp/vigil-km.XXXXXX)"
    KM_NATIVE=1 KM_DEADLINE="$KM_DEADLINE" VIGIL="$VIGIL_BIN" VIGIL_BPF_OBJECT="$BPF_OBJ" KM_RULES="$RULES_DIR" KM_PROGS="$progs" \
      KM_WORK="$work" KM_OUT="$results" KM_CHECKS="${kchecks// /,}" \
      timeout -k 10 "$KERNEL_TIMEOUT" bash "$here/guest-init.sh" > "$log" 2>&1
    rc=$?
    marker_dir="$work"; progs_in="$progs"
    cp "$work"/*.err "$work/facts" "$kdir/" 2>/dev/null
    rm -rf "$work"
  else
    if [ "$initramfs_built" = 0 ]; then build_initramfs; initramfs_built=1; fi
    boot() {
      echo "kernel-matrix: $label: booting $vmlinuz (Debian package version $version) under qemu-system-x86_64 -accel tcg"
      timeout -k 10 "$KERNEL_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp "$QEMU_SMP" -m "$QEMU_MEM" \
        -nographic -no-reboot -nodefaults -display none \
        -kernel "$vmlinuz" -initrd "$OUT_DIR/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 loglevel=4 KM_CHECKS=${kchecks// /,} KM_DEADLINE=$KM_DEADLINE" \
        -serial "file:$log" -serial "file:$results" > "$kdir/qemu.log" 2>&1
      rc=$?
    }
    boot
    marker_dir="/tmp/km"; progs_in="/km"
  fi
  finished() {
    secs=$(( $(date +%s) - t0 ))
    [ "$rc" = 124 ] && echo "kernel-matrix: $label: timed out after ${KERNEL_TIMEOUT}s" >> "$log"
    echo "kernel-matrix: $label: finished in ${secs}s (exit $rc)"
    lines="$(python3 "$here/check.py" "$results" "$label" "$kchecks" "$(rel "$log"), $(rel "$results")" "$progs_in" "$marker_dir")"
  }
  finished
  # One known emulator fault (tcg_fault.py): the guest kernel died on an int3 of its own live code
  # patching while vigil attached its programs, which TCG can do and hardware does not. Such a
  # kernel is rerun once, and said so; any other failure, or the fault twice, stands.
  if [ "$native" = 0 ] && grep -q "^$label [^ ]* FAIL" <<< "$lines" && fault="$(python3 "$here/tcg_fault.py" "$log")"; then
    mv "$log" "$kdir/console.tcg-fault.log"; mv "$results" "$kdir/results.tcg-fault.txt" 2>/dev/null
    echo "kernel-matrix: $label: !!! EMULATOR FAULT (QEMU TCG), not counted: $fault (log: $(rel "$kdir/console.tcg-fault.log"))"
    sed -n "s/^$label \([^ ]*\) FAIL/kernel-matrix: $label: !!! discarded: \1 FAIL/p" <<< "$lines"
    echo "kernel-matrix: $label: !!! rerunning this kernel once"
    tcg_reruns="${tcg_reruns:+$tcg_reruns, }$label"; tcg_rerun_done=1
    t0=$(date +%s)
    boot
    finished
    if grep -q "^$label [^ ]* FAIL" <<< "$lines" && fault="$(python3 "$here/tcg_fault.py" "$log")"; then
      echo "kernel-matrix: $label: !!! the emulator fault happened again on the rerun; its failures stand: $fault"
    fi
  fi
  # A guest that hung: it wrote no results at all (its kernel or the emulator wedged, or it died
  # at boot), or its own watchdog wrote them at the deadline (a step never ended: under TCG, e.g.
  # an attach whose live code patching waits forever on a vCPU). Rerun once, loudly, with the
  # console's tail (the watchdog's diagnosis: each scenario process's state and kernel stack); a
  # second hang stands. Any failure of a guest that finished its scenario stands at once.
  if [ "$native" = 0 ] && [ -z "$tcg_rerun_done" ] && grep -q "^$label [^ ]* FAIL" <<< "$lines"; then
    hang=""
    if ! grep -q "^KM-BEGIN" "$results" 2>/dev/null; then hang="the guest wrote no results (exit $rc after ${secs}s)"
    elif grep -q "^guest deadline=" "$results" 2>/dev/null; then
      hang="the guest's watchdog reached its ${KM_DEADLINE}s deadline during: $(sed -n 's/^guest deadline=[0-9]* during: //p' "$results" | head -1)"
    fi
    if [ -n "$hang" ]; then
      mv "$log" "$kdir/console.hang.log"; mv "$results" "$kdir/results.hang.txt" 2>/dev/null
      echo "kernel-matrix: $label: !!! HUNG: $hang; console tail (log: $(rel "$kdir/console.hang.log")):"
      grep -a -E "km: |Oops|BUG:|panic|hung|stall|RIP:|Call Trace" "$kdir/console.hang.log" | tr -d '\r' | tail -16 | sed "s/^/kernel-matrix: $label: !!!   /"
      sed -n "s/^$label \([^ ]*\) FAIL/kernel-matrix: $label: !!! discarded: \1 FAIL/p" <<< "$lines" | head -3
      echo "kernel-matrix: $label: !!! rerunning this kernel once"
      hang_reruns="${hang_reruns:+$hang_reruns, }$label"
      t0=$(date +%s)
      boot
      finished
    fi
  fi
  recap "$label" "$lines" "$log"
  record <<< "$lines"
done

echo "kernel-matrix: $(( $(date +%s) - start_all ))s in all; logs in $(rel "$OUT_DIR")"
[ -n "$tcg_reruns" ] && echo "kernel-matrix: !!! rerun once after a QEMU TCG int3 fault during attach (see above): $tcg_reruns"
[ -n "$hang_reruns" ] && echo "kernel-matrix: !!! rerun once after a guest that hung (see above): $hang_reruns"
cat "$recap_file"
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
