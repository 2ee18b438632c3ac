#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan, UBSan findings abort) in their own
# tree and runs each one, one after the other, for a fixed budget on a COPY of its seed corpus
# (fuzz/corpus/<target>/ never grows by itself). Prints executions, exec/s and libFuzzer's final
# coverage per target; exits non-zero on any crash, sanitizer report, timeout or out-of-memory.
#
#   scripts/fuzz.sh                      every target, 1,000,000 executions each
#   scripts/fuzz.sh --runs N             N executions each
#   scripts/fuzz.sh --seconds N          N seconds each (instead of a run count)
#   scripts/fuzz.sh --smoke              CI smoke: every target for 10 s
#   scripts/fuzz.sh --target csv_import  only the named target(s) (repeatable)
#   scripts/fuzz.sh --build-only         configure and build, run nothing
#
# Environment: SINYAL_FUZZ_BUILD_DIR (default build-fuzz), SINYAL_JOBS (compile jobs, default 2),
# SINYAL_FUZZ_OUT (logs, work corpora and crash artifacts; default <build dir>/fuzz-runs).
# Without clang/libFuzzer: exit 77 (ctest's skip) with a message, or 1 when CI=true.
# Everything runs under `nice -n 19` (the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

RUNS=1000000
SECONDS_EACH=""
ONLY=()
BUILD_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; SECONDS_EACH=""; shift 2 ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --smoke) SECONDS_EACH=10; shift ;;
    --target) ONLY+=("$2"); shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

missing=""
command -v clang++ >/dev/null 2>&1 || missing="clang++ (Debian package clang)"
if [ -z "$missing" ] && ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  missing="libFuzzer (Debian package libclang-rt-14-dev)"
fi
if [ -n "$missing" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "fuzz.sh: FAIL: $missing is missing (scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
  echo "fuzz.sh: SKIP: $missing is missing (scripts/install-deps.sh installs it)"
  exit 77
fi

BUILD_DIR="${SINYAL_FUZZ_BUILD_DIR:-build-fuzz}"
OUT="${SINYAL_FUZZ_OUT:-$BUILD_DIR/fuzz-runs}"
TARGETS=(csv_import json_body predict_request query_string midtrans_notification telegram_update strategy)
if [ "${#ONLY[@]}" -gt 0 ]; then TARGETS=("${ONLY[@]}"); fi

t0=$(date +%s)
# The tree is compiled with -g: by default ccache then hashes the build directory, so a fresh clone
# (CI) or a second tree would miss every entry. Sanitizer reports still name ../src/<file>:<line>.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
# RelWithDebInfo (-O2 -g): sanitizer flags come from SINYAL_FUZZ=ON (CMakeLists.txt).
nice -n 19 cmake -S . -B "$BUILD_DIR" -G Ninja -DSINYAL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
nice -n 19 ninja -C "$BUILD_DIR" -j "${SINYAL_JOBS:-2}" $(printf '%s_fuzz ' "${TARGETS[@]}")
t1=$(date +%s)
echo "fuzz.sh: built ${#TARGETS[@]} targets in $((t1 - t0)) s"
[ "$BUILD_ONLY" = "1" ] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$OUT"
budget=(-runs="$RUNS")
[ -n "$SECONDS_EACH" ] && budget=(-max_total_time="$SECONDS_EACH")
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz/${t}_fuzz"
  work="$OUT/$t/corpus"
  art="$OUT/$t/artifacts"
  log="$OUT/$t/fuzz.log"
  rm -rf "$work" "$art"
  mkdir -p "$work" "$art"
  cp -r "fuzz/corpus/$t/." "$work/"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  echo "fuzz.sh: $t: ${budget[*]} on a copy of fuzz/corpus/$t ($(ls "$work" | wc -l) seeds)"
  set +e
  nice -n 19 "$bin" "${budget[@]}" "${dict[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art/" "$work" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  final=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 |
          sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*/\1/')
  artifacts=$(ls "$art" 2>/dev/null | wc -l)
  if [ "$rc" != "0" ] || [ "$artifacts" != "0" ]; then
    failed+=("$t")
    status="FAILED (exit $rc; $artifacts artifact(s) in $art; log $log)"
    grep -E 'ERROR:|FUZZ_CHECK|runtime error|SUMMARY|what\(\)' "$log" | head -8 | sed 's/^/    /' >&2 || true
  else
    status="ok"
  fi
  line=$(printf '%-22s executions %-9s exec/s %-7s %-22s %s' "$t" "${execs:-?}" "${rate:-?}" "${final:-?}" "$status")
  echo "fuzz.sh: $line"
  summary+=("$line")
done
t2=$(date +%s)
echo
echo "fuzz.sh: summary (ASan+UBSan, ${budget[*]} each; build $((t1 - t0)) s, runs $((t2 - t1)) s; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ))"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (crashing inputs are in $OUT/<target>/artifacts/; reproduce with $BUILD_DIR/fuzz/<target>_fuzz <file>)" >&2
  exit 1
fi
echo "fuzz.sh: every target ran clean"
