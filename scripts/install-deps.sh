#!/usr/bin/env bash
# Installs the Debian 12 packages weir needs to build, lint and test: the C++
# toolchain and libraries, kcat, OpenJDK and Maven (for the local Kafka broker,
# see scripts/kafka.sh) and Python's test tools. Idempotent: installs only the
# packages that are missing and runs `apt-get update` at most once, only when
# something is missing. Runs as root, or through sudo when available.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  # compiler cache: scripts/build.sh and scripts/fuzz.sh use it when present
  ccache
  # libraries
  librdkafka-dev rapidjson-dev librocksdb-dev libyaml-cpp-dev catch2
  prometheus-cpp-dev libfmt-dev libspdlog-dev libcli11-dev libre2-dev
  # micro-benchmarks (bench/micro)
  libbenchmark-dev
  # lint
  clang-format clang-tidy
  # fuzz targets (fuzz/, scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # local Kafka broker and its command-line client
  kafkacat openjdk-17-jdk-headless maven
  # integration tests
  python3 python3-pytest python3-confluent-kafka python3-yaml
)

installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

missing=()
for pkg in "${packages[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! {
  weir_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    weir_as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"
} >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  weir_die "apt-get failed installing: ${missing[*]}"
fi
echo "install-deps: installed ${#missing[@]} missing package(s): ${missing[*]}"
