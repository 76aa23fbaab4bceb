#!/usr/bin/env bash
# Prints RECORDS lines `KEY<TAB>JSON` for `kcat -P -K '\t'`: the first KEYS
# records each have a new user, the rest reuse users at random; event times
# rise over four minutes of one ten-minute window.
# Usage: generate.sh RECORDS KEYS
set -euo pipefail
records=${1:?RECORDS}
keys=${2:?KEYS}
exec awk -v n="$records" -v k="$keys" 'BEGIN {
  srand(42)
  base = 1699999800000  # a multiple of ten minutes
  for (i = 0; i < n; i++) {
    u = (i < k) ? i : int(rand() * k)
    printf "u%d\t{\"user\":\"u%d\",\"amount\":%d,\"ts\":%.0f}\n", u, u, i % 1000, base + int(i * 240000 / n)
  }
}'
