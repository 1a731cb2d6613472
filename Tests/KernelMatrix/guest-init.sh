#!/bin/busybox sh
# Kernel matrix scenario. In a QEMU guest it is /init (PID 1): it mounts the kernel
# file systems, runs the scenario, writes the raw results to the second serial port
# (/dev/ttyS1) and powers off. With KM_NATIVE=1 it runs the same scenario on the running
# kernel (the host's), writing to $KM_OUT.
#
# The scenario: `vigil trace` must start and report its programs attached; then the test
# programs (km_*) each do one thing (exec with a marker argv, open, connect, fork/exit, an
# i386 int $0x80 open, an io_uring openat) and print what they did; `vigil run` with the
# bundled rules must alert on a read of /etc/shadow. run.sh's check.py compares the
# captured events and alerts with what the programs printed, exactly.
#
# Output sections on $KM_OUT: "KM-SECTION <name>" lines followed by the section's lines,
# the last line "KM-END". Progress goes to stdout (the console).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# Progress on the console, with the seconds since boot, so a slow or hung step shows where.
say() { echo "km: $*  [$(cut -d' ' -f1 /proc/uptime 2>/dev/null)s]"; }

if [ -z "$KM_NATIVE" ]; then
  /bin/busybox mkdir -p /proc /sys /dev /tmp /run
  /bin/busybox mount -t proc proc /proc
  /bin/busybox --install -s /bin
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev 2>/dev/null
  mount -t tmpfs tmpfs /tmp
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
  mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null
  ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
  hostname km-guest
  KM_OUT=/dev/ttyS1
  stty -F /dev/ttyS1 raw -echo 2>/dev/null
  VIGIL=/usr/bin/vigil
  VIGIL_BPF_OBJECT=/usr/lib/vigil/vigil.bpf.o
  KM_RULES=/etc/vigil
  KM_PROGS=/km
  KM_WORK=/tmp/km
  export LD_LIBRARY_PATH="$(cat /etc/km-ld-library-path 2>/dev/null)"
  export HOME=/root
  # KM_CHECKS, KM_DEADLINE and KM_LOAD_TIMEOUT come from the kernel command line (as environment).
  finish() { sync; poweroff -f; }
else
  : "${VIGIL:?VIGIL must name the vigil binary}" "${VIGIL_BPF_OBJECT:?}" "${KM_RULES:?}" "${KM_PROGS:?}" "${KM_WORK:?}" "${KM_OUT:?}"
  finish() { exit 0; }
fi
export VIGIL_BPF_OBJECT
KM_CHECKS="${KM_CHECKS:-load,exec,open,connect,fork,fork-ids,ia32,uring,rule,ia32-rule,uring-rule}"
KM_LOAD_TIMEOUT="${KM_LOAD_TIMEOUT:-120}"
KM_EVENT_TIMEOUT="${KM_EVENT_TIMEOUT:-60}"
# Longest any one test program may run (a program that blocks is killed and its check fails).
KM_PROG_TIMEOUT="${KM_PROG_TIMEOUT:-60}"
# Seconds after the scenario starts at which the watchdog writes the results gathered so far, with
# what was running, and ends the scenario: a hang then fails the checks it stopped, not all of them
# silently at the host's timeout (run.sh passes its KERNEL_TIMEOUT less a margin).
KM_DEADLINE="${KM_DEADLINE:-240}"
KM_CHECKS=",$(echo "$KM_CHECKS" | tr ' ' ','),"
want() { case "$KM_CHECKS" in *",$1,"*) return 0 ;; esac; return 1; }
mkdir -p "$KM_WORK"
W="$KM_WORK"
: > "$W/facts"
fact() { echo "$*" >> "$W/facts"; }

# Waits (polling, with a deadline in seconds) until FILE contains STRING or PID is gone.
# Returns 0 when the string appeared.
wait_for() { # FILE STRING PID SECONDS
  n=0; limit=$(( $4 * 10 ))
  while [ $n -lt $limit ]; do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    [ -n "$3" ] && ! kill -0 "$3" 2>/dev/null && { grep -qF -- "$2" "$1" 2>/dev/null; return $?; }
    sleep 0.1; n=$((n + 1))
  done
  return 1
}
# Stops PID with SIGINT and waits for it (SIGKILL after SECONDS).
stop() { # PID SECONDS
  kill -INT "$1" 2>/dev/null
  n=0
  while kill -0 "$1" 2>/dev/null && [ $n -lt $(( $2 * 10 )) ]; do sleep 0.1; n=$((n + 1)); done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
# Runs a test program (killed after KM_PROG_TIMEOUT s: rc 124 or 137), recording
# "<check> rc=N <its output>" as a fact.
run_prog() { # CHECK PROG ARGS...
  c="$1"; shift
  step "$c: $*"
  out="$(timeout -k 5 "$KM_PROG_TIMEOUT" "$@" 2>"$W/$c.err")"; rc=$?
  fact "$c rc=$rc $out $(tr '\n' ' ' < "$W/$c.err")"
}
# Names the step now running (for the watchdog) and says it on the console.
step() { echo "$*" > "$W/step"; say "$*"; }

# The results on $KM_OUT, written once (by the scenario's end or by the watchdog, whichever is first).
write_results() {
  mkdir "$W/results.lock" 2>/dev/null || return 0
  {
    echo "KM-BEGIN $(uname -r)"
    echo "KM-SECTION facts"; cat "$W/facts"
    echo "KM-SECTION trace.err"; cat "$W/trace.err" 2>/dev/null
    echo "KM-SECTION trace"; grep -e 'km[-_]' "$W/trace.json" 2>/dev/null
    if want rule || want ia32-rule || want uring-rule; then
      echo "KM-SECTION run.err"; grep -v '"level":"debug"' "$W/run.err" 2>/dev/null
      echo "KM-SECTION run.out"; grep -e 'km[-_]' -e shadow "$W/run.out" 2>/dev/null
    fi
    echo "KM-END"
  } > "$KM_OUT"
}

# What the scenario's processes are doing, for a hang: state, wait channel and kernel stack of
# each vigil, test program and uninterruptible (D) process; then the agents' last log lines.
# (A comm with a space shifts /proc/PID/stat's fields; the scenario's own processes have none.)
diagnose() {
  sid="$(cut -d' ' -f6 /proc/$$/stat)"
  for d in /proc/[0-9]*; do
    comm="$(cat "$d/comm" 2>/dev/null)" || continue
    state="$(cut -d' ' -f3 "$d/stat" 2>/dev/null)"
    # Natively, only this scenario's processes (its session); in a guest that is all of them.
    [ -n "$KM_NATIVE" ] && [ "$(cut -d' ' -f6 "$d/stat" 2>/dev/null)" != "$sid" ] && continue
    case "$comm:$state" in vigil*|km_*|cat:*|timeout:*|*:D) ;; *) continue ;; esac
    echo "km: diag: pid ${d#/proc/} $comm state=$state wchan=$(cat "$d/wchan" 2>/dev/null)"
    sed 's/^/km: diag:   /' "$d/stack" 2>/dev/null | head -12
  done
  for f in trace.err run.err; do [ -f "$W/$f" ] && tail -3 "$W/$f" | sed "s/^/km: diag: $f: /"; done
}

say "kernel $(uname -r), checks ${KM_CHECKS}, deadline ${KM_DEADLINE}s"
fact "kernel release=$(uname -r)"
: > "$W/step"
( n=0
  while [ $n -lt "$KM_DEADLINE" ]; do [ -e "$W/done" ] && exit 0; sleep 1; n=$((n + 1)); done
  say "watchdog: DEADLINE of ${KM_DEADLINE}s reached during: $(cat "$W/step")"
  diagnose
  fact "guest deadline=$KM_DEADLINE during: $(cat "$W/step")"
  write_results
  say "watchdog: results written"
  finish ) &

# ---- capture: vigil trace ----
# The "attaching BPF programs" / "programs attached" / "did not attach" lines bound the attach on
# the console: run.sh (tcg_fault.py) recognises an emulator fault during it.
step "vigil trace: attaching BPF programs"
"$VIGIL" trace > "$W/trace.json" 2> "$W/trace.err" &
TRACE=$!
if wait_for "$W/trace.err" '"BPF programs attached"' "$TRACE" "$KM_LOAD_TIMEOUT"; then
  say "vigil trace: programs attached"
  fact "load attached=1"
  m="$W/km-marker"
  if want exec; then
    run_prog exec "$KM_PROGS/km_exit" 0 vigil-km-exec-marker "two words" "key=value"
  fi
  if want open; then
    run_prog open "$KM_PROGS/km_open" "$m-open"
  fi
  if want connect; then
    run_prog connect "$KM_PROGS/km_connect"
  fi
  if want fork; then
    run_prog fork "$KM_PROGS/km_fork" 7
  fi
  if want fork-ids; then
    run_prog fork-ids "$KM_PROGS/km_forks"
  fi
  if want ia32; then
    echo ia32 > "$m-ia32"; run_prog ia32 "$KM_PROGS/km_ia32" "$m-ia32"
  fi
  if want uring; then
    echo uring > "$m-uring"; run_prog uring "$KM_PROGS/km_uring" "$m-uring"
  fi
  # A last exec marks the end: once it is printed, everything before it was read from the ring.
  step "trace: sentinel exec and wait"
  timeout -k 5 "$KM_PROG_TIMEOUT" "$KM_PROGS/km_exit" 0 vigil-km-sentinel > /dev/null
  if wait_for "$W/trace.json" vigil-km-sentinel "$TRACE" "$KM_EVENT_TIMEOUT"; then fact "trace sentinel=1"; else fact "trace sentinel=0"; fi
  step "vigil trace: stopping"
  stop "$TRACE" 20
else
  say "vigil trace: did not attach"
  fact "load attached=0"
  stop "$TRACE" 5
fi

# ---- a default rule: vigil run with the bundled rules ----
if want rule || want ia32-rule || want uring-rule; then
  step "vigil run: attaching BPF programs"
  "$VIGIL" run -c "$KM_RULES/vigil.yaml" -r "$KM_RULES" -o webserver.enabled=false > "$W/run.out" 2> "$W/run.err" &
  RUN=$!
  if ! wait_for "$W/run.err" '"BPF programs attached"' "$RUN" "$KM_LOAD_TIMEOUT"; then
    say "vigil run: did not attach"
  else
    say "vigil run: programs attached"
    step "rule: cat /etc/shadow"
    out="$(timeout -k 5 "$KM_PROG_TIMEOUT" sh -c 'echo "pid=$$"; exec cat /etc/shadow > /dev/null')"; fact "rule rc=$? $out"
    # The same read through the i386 entry and through io_uring must alert too.
    if want ia32-rule; then run_prog ia32-rule "$KM_PROGS/km_ia32" /etc/shadow; fi
    if want uring-rule; then run_prog uring-rule "$KM_PROGS/km_uring" /etc/shadow; fi
    # The end marker: one more read whose alert comes after all of the above (one ring, in order).
    step "run: end marker and wait"
    end="$(timeout -k 5 "$KM_PROG_TIMEOUT" sh -c 'echo "$$"; exec cat /etc/shadow > /dev/null')"
    if wait_for "$W/run.out" "\"proc.pid\":$end," "$RUN" "$KM_EVENT_TIMEOUT"; then fact "run sentinel=1"; else fact "run sentinel=0"; fi
  fi
  step "vigil run: stopping"
  stop "$RUN" 20
fi

# ---- results ----
: > "$W/done"
write_results
say "done"
finish
