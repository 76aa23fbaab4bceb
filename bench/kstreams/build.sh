#!/usr/bin/env bash
# Builds bench/kstreams/target/weir-bench-kstreams.jar, the self-contained
# Kafka Streams peer of the end-to-end benchmarks, with Maven (dependencies
# from Maven Central, cached in ~/.m2). Does nothing if the jar is newer than
# every source. Offline first; if an artifact is missing from the local
# repository, once more online.
#
# Usage: bench/kstreams/build.sh [--force]
# Environment: MVN (default mvn); JAVA_HOME as for Maven.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jar=$here/target/weir-bench-kstreams.jar
mvn=${MVN:-mvn}

if [[ ${1:-} != --force && -f $jar ]] &&
  [[ -z $(find "$here/pom.xml" "$here/src" -newer "$jar" -print -quit) ]]; then
  echo "build.sh: up to date: $jar"
  exit 0
fi
command -v "$mvn" >/dev/null 2>&1 || { echo "build.sh: error: $mvn not found" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$mvn" -B -q -o -f "$here/pom.xml" package >"$log" 2>&1; then
  if grep -qiE 'offline|has not been downloaded|Could not resolve|Cannot access' "$log"; then
    echo "build.sh: resolving missing artifacts from Maven Central" >&2
    "$mvn" -B -q -f "$here/pom.xml" package >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  else
    cat "$log" >&2
    exit 1
  fi
fi
# Keep the jar's time after every source's, so the next run skips the build.
touch "$jar"
echo "build.sh: built $jar"
