#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang-14 with ASan+UBSan, in build-fuzz/)
# and runs each for SECONDS (default 30) on a scratch copy of its seed corpus
# under build-fuzz/fuzz-run/. Prints one line per target; fails if any target
# crashed, leaked, timed out or ran out of memory, copying the input that did
# it to fuzz/crashes/ (not committed).
#   usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   targets: expr pipeline json accumulator (default: all)
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ ]] || weir_die "SECONDS_PER_TARGET must be a whole number, got '$seconds'"
shift $(($# > 0 ? 1 : 0))
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(expr pipeline json accumulator)

cxx=${WEIR_FUZZ_CXX:-clang++-14}
command -v "$cxx" >/dev/null || weir_die "$cxx not found (scripts/install-deps.sh installs clang-14)"
build=$root/build-fuzz
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
flags+=" -fno-omit-frame-pointer -gline-tables-only"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "$(weir_compiler_launcher)" -DCMAKE_CXX_FLAGS="$flags" -DWEIR_FUZZ=ON -DWEIR_BUILD_TESTS=OFF -DWEIR_BUILD_BENCH=OFF >/dev/null
ninja -C "$build" weir_fuzz_targets >/dev/null || weir_die "building the fuzz targets failed"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$root/fuzz/ubsan.supp}
failed=()
for target in "${targets[@]}"; do
  binary=$build/fuzz/fuzz_$target
  [[ -x $binary ]] || weir_die "no fuzz target '$target'"
  run=$build/fuzz-run/$target
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp "$root/fuzz/corpus/$target/"* "$run/corpus/" 2>/dev/null || true
  status=ok
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$run/artifacts/" "$run/corpus" >"$run/log" 2>&1 || status=failed

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -n 1)
  stats=$(grep -E '^#[0-9]+' "$run/log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$stats")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$stats")
  artifacts=("$run/artifacts/"*)
  if [[ -e ${artifacts[0]} ]]; then
    status=failed
    mkdir -p "$root/fuzz/crashes"
    for a in "${artifacts[@]}"; do cp "$a" "$root/fuzz/crashes/${target}-${a##*/}"; done
  fi
  printf '%-12s %-6s %ss  execs %s  cov %s  ft %s  corpus %s\n' "$target" "$status" "$seconds" \
    "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [[ $status != ok ]]; then
    failed+=("$target")
    grep -m 1 -E 'ERROR: |runtime error|==ABORTING|deadly signal|json round trip|accumulator state' \
      "$run/log" | sed 's/^/  /' || true
    printf '  log: %s\n' "$run/log"
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  weir_die "fuzz targets failed: ${failed[*]} (inputs copied to fuzz/crashes/)"
fi
