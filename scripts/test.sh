#!/usr/bin/env bash
# Runs weir's whole test suite: installs what is missing, builds, runs the
# pipeline tests, the unit and pipeline tests under ASan+UBSan (ctest; without
# the sanitizers when WEIR_SKIP_SANITIZERS=1), runs the fuzz targets
# briefly, then starts a private local Kafka
# broker and runs the integration tests against it (pytest), and stops the
# broker whatever happens. The README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

scripts/install-deps.sh

if [[ ${WEIR_SKIP_SANITIZERS:-0} != 1 ]]; then
  # The unit tests are compiled once, with the sanitizers; the optimised
  # build makes the weir binary that the pipeline and integration tests run.
  WEIR_BUILD_TARGETS=weir scripts/build.sh build
  echo "== pipeline tests (weir test)"
  (cd build && ctest --output-on-failure -j2 -L pipeline)
  echo "== unit and pipeline tests under AddressSanitizer and UndefinedBehaviorSanitizer"
  # The benchmarks are built here too, so that CI compiles them.
  scripts/build.sh build-asan -DWEIR_SANITIZE=ON
  (cd build-asan && ctest --output-on-failure -j2)
else
  scripts/build.sh build
  echo "== unit tests and pipeline tests (weir test)"
  (cd build && ctest --output-on-failure -j2)
fi

if [[ ${WEIR_SKIP_FUZZ:-0} != 1 ]]; then
  echo "== fuzz targets (clang, libFuzzer), 10 s each on the committed corpora"
  scripts/fuzz.sh 10
fi

echo "== integration tests against a local Kafka broker"
# A private broker on its own port and directory, so a broker started by the
# quick start (port 9092) is left alone.
export WEIR_KAFKA_PORT=${WEIR_TEST_KAFKA_PORT:-19092}
run_dir=$(mktemp -d /tmp/weir-test.XXXXXX)
export WEIR_KAFKA_DIR=$run_dir/kafka
cleanup() {
  scripts/kafka.sh stop >/dev/null 2>&1 || true
  rm -rf "$run_dir"
}
trap cleanup EXIT
# With a SASL_PLAINTEXT/SCRAM listener too, for tests/integration/test_sasl.py,
# a mutual-TLS one, for tests/integration/test_tls.py, and ACLs binding a
# second SCRAM user, for tests/integration/test_topic_permissions.py (every
# other client is a super user); exported, so that tests restarting the
# broker keep them.
export WEIR_KAFKA_SASL=1 WEIR_KAFKA_TLS=1 WEIR_KAFKA_ACL=1
scripts/kafka.sh start
export WEIR_TEST_BOOTSTRAP=127.0.0.1:$WEIR_KAFKA_PORT
export WEIR_TEST_SASL_BOOTSTRAP WEIR_TEST_TLS_BOOTSTRAP WEIR_TEST_TLS_CLIENT_CONF
WEIR_TEST_SASL_BOOTSTRAP=$(scripts/kafka.sh sasl-bootstrap)
WEIR_TEST_TLS_BOOTSTRAP=$(scripts/kafka.sh tls-bootstrap)
WEIR_TEST_TLS_CLIENT_CONF=$(scripts/kafka.sh tls-client-conf)
export WEIR_BIN=$root/build/weir
/usr/bin/python3 -m pytest -v -p no:cacheprovider tests/integration
