#!/usr/bin/env bash
# Runs the libFuzzer targets for a bounded time each over their seed corpus (fuzz/README.md).
#
#   fuzz/run.sh [-d FUZZ_BIN_DIR] [-t SECONDS] [-j PARALLEL] [TARGET...]
#
# FUZZ_BIN_DIR holds the fuzz_<target> executables (default build/fuzz/fuzz); SECONDS is per
# target (default 25); PARALLEL targets run at once (default 2). No TARGET: all of them.
# New interesting inputs go to a scratch directory (the repository corpus is only read).
# A crash, leak, timeout or broken invariant leaves its input in
# build/fuzz-artifacts/<target>/ and makes the exit status 1; each target's log is printed
# when it fails. Put a crash input into fuzz/regressions/<target>/ once fixed.
set -uo pipefail
cd "$(dirname "$0")/.."

bin=build/fuzz/fuzz
seconds=25
parallel=2
while getopts "d:t:j:" opt; do
  case $opt in
    d) bin=$OPTARG ;;
    t) seconds=$OPTARG ;;
    j) parallel=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=()
  for d in fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi

scratch=$(mktemp -d /tmp/natter-fuzz-run.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
artifacts=build/fuzz-artifacts

run_one() {  # run_one TARGET: exit status of the fuzzer
  local t=$1
  local exe=$bin/fuzz_$t
  [ -x "$exe" ] || { echo "$exe: not built" > "$scratch/$t.log"; return 2; }
  mkdir -p "$scratch/$t" "$artifacts/$t"
  # -timeout: one input taking over 10 s is a hang. -rss_limit_mb: libFuzzer's default 2 GB.
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t/" "$scratch/$t" "fuzz/corpus/$t" > "$scratch/$t.log" 2>&1
}

status=0
next=0
declare -A pids=()
running=0
while [ "$next" -lt ${#targets[@]} ] || [ "$running" -gt 0 ]; do
  while [ "$next" -lt ${#targets[@]} ] && [ "$running" -lt "$parallel" ]; do
    t=${targets[$next]}
    next=$((next + 1))
    run_one "$t" &
    pids[$t]=$!
    running=$((running + 1))
  done
  wait -n || true
  for t in "${!pids[@]}"; do
    kill -0 "${pids[$t]}" 2>/dev/null && continue
    wait "${pids[$t]}"
    rc=$?
    unset "pids[$t]"
    running=$((running - 1))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$scratch/$t.log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$scratch/$t.log" | tail -1)
    if [ "$rc" -eq 0 ]; then
      echo "fuzz $t: ok, ${execs:-?} inputs in ${seconds}s, ${cov:-cov: ?}"
    else
      status=1
      echo "fuzz $t: FAILED (exit $rc); input saved under $artifacts/$t/:"
      ls -1 "$artifacts/$t" 2>/dev/null | sed 's/^/  /'
      echo "---- fuzz_$t log (last 60 lines) ----"
      tail -60 "$scratch/$t.log"
      echo "---- end of log ----"
    fi
  done
done
exit $status
