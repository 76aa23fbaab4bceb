#!/usr/bin/env bash
# Runs a local single-node Apache Kafka broker (KRaft: broker and controller in
# one JVM) on 127.0.0.1 for weir's integration and end-to-end tests. The broker
# jars come from Maven Central through Maven, once, into a cache directory;
# OpenJDK runs them. Several instances can run side by side on different ports.
#
# Usage: scripts/kafka.sh COMMAND
#   start                         start the broker (no-op if it already runs) and
#                                 wait until it answers metadata requests
#   stop                          stop it: SIGTERM, then SIGKILL after 30 s
#   restart                       stop, then start (same data)
#   status                        print `running pid=… version=… bootstrap=… dir=…`
#                                 and exit 0, or `stopped …` and exit 3
#                                 (exit 1: process alive but not answering)
#   topic-create NAME PARTITIONS [KEY=VALUE...]
#                                 create a topic (replication factor 1, optional
#                                 topic configs) unless it exists; wait until
#                                 every partition has a leader
#   topic-delete NAME             delete a topic if it exists; wait until it is
#                                 gone from the metadata
#   logs [-f]                     print the broker log's last lines (or follow it)
#   fetch                         only download the jars
#   bootstrap                     print the bootstrap address, 127.0.0.1:PORT
#   sasl-bootstrap                print the SASL_PLAINTEXT bootstrap address,
#                                 127.0.0.1:SASL_PORT (needs WEIR_KAFKA_SASL=1)
#   tls-bootstrap                 print the SSL bootstrap address,
#                                 127.0.0.1:TLS_PORT (needs WEIR_KAFKA_TLS=1)
#   tls-client-conf               print the path of the librdkafka client
#                                 properties for the SSL listener (needs
#                                 WEIR_KAFKA_TLS=1 and one start)
#
# Environment:
#   WEIR_KAFKA_PORT             client (PLAINTEXT) port, default 9092
#   WEIR_KAFKA_CONTROLLER_PORT  KRaft controller port, default WEIR_KAFKA_PORT+1
#                               (so instances need client ports at least 2 apart,
#                               3 apart with WEIR_KAFKA_SASL=1, 4 apart with
#                               WEIR_KAFKA_TLS=1)
#   WEIR_KAFKA_SASL             1: the broker also listens for SASL_PLAINTEXT
#                               clients (SCRAM-SHA-256 and SCRAM-SHA-512), with
#                               one user created when the storage is formatted;
#                               the PLAINTEXT listener stays. Default 0
#   WEIR_KAFKA_SASL_PORT        SASL_PLAINTEXT port, default WEIR_KAFKA_PORT+2
#   WEIR_KAFKA_SASL_USER        SCRAM user, default weir
#   WEIR_KAFKA_SASL_PASSWORD    its password (both mechanisms), default
#                               weir-secret. Users are written only when the
#                               storage is first formatted: to change them,
#                               stop the broker and delete WEIR_KAFKA_DIR/data
#   WEIR_KAFKA_ACL              1 (needs WEIR_KAFKA_SASL=1): the broker authorizes
#                               requests (KRaft's StandardAuthorizer). Super users:
#                               User:ANONYMOUS (the PLAINTEXT listener, the
#                               controller and the broker itself), the SCRAM
#                               user and User:CN=weir (the TLS client
#                               certificate), so they may do anything as before.
#                               A second SCRAM user, created when the storage is
#                               formatted, gets ACLs (set once after the first
#                               start) to read, write and describe every topic,
#                               read every group and use every transactional id,
#                               but not to create, delete or alter topics.
#                               Default 0
#   WEIR_KAFKA_SASL_RESTRICTED_USER     that user, default weir-restricted
#   WEIR_KAFKA_SASL_RESTRICTED_PASSWORD its password, default weir-restricted-secret
#   WEIR_KAFKA_TLS              1: the broker also listens for SSL clients, with
#                               mutual TLS (ssl.client.auth=required); the other
#                               listeners stay. `start` makes, with openssl,
#                               a throwaway CA, the broker's certificate and a
#                               client certificate in WEIR_KAFKA_DIR/tls (ca.pem,
#                               client.pem, client.key: PEM, the key encrypted),
#                               kept across restarts until one expires within a
#                               day or the key password changes, plus
#                               WEIR_KAFKA_DIR/tls-client.properties for
#                               librdkafka (kcat -F). Default 0
#   WEIR_KAFKA_TLS_PORT         SSL port, default WEIR_KAFKA_PORT+3
#   WEIR_KAFKA_TLS_KEY_PASSWORD password encrypting client.key, default
#                               weir-key-secret
#   WEIR_CACHE_DIR              cache root, default ~/.cache/weir; the jars go to
#                               $WEIR_CACHE_DIR/kafka-3.9.1/libs
#   WEIR_KAFKA_DIR              instance directory (server.properties, data/,
#                               server.log, kafka.pid), default
#                               $WEIR_CACHE_DIR/kafka-run-$WEIR_KAFKA_PORT
#   WEIR_KAFKA_PROPERTIES       extra server.properties lines (KEY=VALUE,
#                               separated by spaces or newlines); later lines win
#   WEIR_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer, default 90
#   JAVA_HOME                   JDK to use, default the `java` on PATH
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Kafka 3.9.x, not 4.x: Debian 12's librdkafka 2.0.2 enables consumer groups
# only when the broker offers JoinGroup v0, which Kafka 4.0.0 removed (KIP-896;
# restored for old clients in 4.0.1/4.1.0). 3.9.x removes no protocol version.
readonly KAFKA_VERSION=3.9.1
readonly SCALA_VERSION=2.13
# An slf4j binding, without which the broker logs nothing. Its version matches
# the slf4j-api that kafka_2.13:3.9.1 depends on (1.7.36).
readonly SLF4J_VERSION=1.7.36
readonly DEPENDENCY_PLUGIN_VERSION=3.6.1

PORT=${WEIR_KAFKA_PORT:-9092}
[[ $PORT =~ ^[0-9]+$ ]] || weir_die "WEIR_KAFKA_PORT is not a port number: $PORT"
CONTROLLER_PORT=${WEIR_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
[[ $CONTROLLER_PORT =~ ^[0-9]+$ ]] ||
  weir_die "WEIR_KAFKA_CONTROLLER_PORT is not a port number: $CONTROLLER_PORT"
[[ $CONTROLLER_PORT != "$PORT" ]] || weir_die "client and controller ports are both $PORT"
SASL=${WEIR_KAFKA_SASL:-0}
[[ $SASL == 0 || $SASL == 1 ]] || weir_die "WEIR_KAFKA_SASL must be 0 or 1, not: $SASL"
SASL_PORT=${WEIR_KAFKA_SASL_PORT:-$((PORT + 2))}
[[ $SASL_PORT =~ ^[0-9]+$ ]] || weir_die "WEIR_KAFKA_SASL_PORT is not a port number: $SASL_PORT"
SASL_USER=${WEIR_KAFKA_SASL_USER:-weir}
SASL_PASSWORD=${WEIR_KAFKA_SASL_PASSWORD:-weir-secret}
ACL=${WEIR_KAFKA_ACL:-0}
[[ $ACL == 0 || $ACL == 1 ]] || weir_die "WEIR_KAFKA_ACL must be 0 or 1, not: $ACL"
[[ $ACL == 0 || $SASL == 1 ]] || weir_die "WEIR_KAFKA_ACL=1 needs WEIR_KAFKA_SASL=1"
RESTRICTED_USER=${WEIR_KAFKA_SASL_RESTRICTED_USER:-weir-restricted}
RESTRICTED_PASSWORD=${WEIR_KAFKA_SASL_RESTRICTED_PASSWORD:-weir-restricted-secret}
TLS=${WEIR_KAFKA_TLS:-0}
[[ $TLS == 0 || $TLS == 1 ]] || weir_die "WEIR_KAFKA_TLS must be 0 or 1, not: $TLS"
TLS_PORT=${WEIR_KAFKA_TLS_PORT:-$((PORT + 3))}
[[ $TLS_PORT =~ ^[0-9]+$ ]] || weir_die "WEIR_KAFKA_TLS_PORT is not a port number: $TLS_PORT"
TLS_KEY_PASSWORD=${WEIR_KAFKA_TLS_KEY_PASSWORD:-weir-key-secret}
if [[ $SASL == 1 ]]; then
  [[ $SASL_PORT != "$PORT" && $SASL_PORT != "$CONTROLLER_PORT" ]] ||
    weir_die "the SASL port $SASL_PORT is also the client or controller port (set WEIR_KAFKA_SASL_PORT)"
  # Both go unquoted into a SCRAM credential spec and a properties file.
  [[ $SASL_USER =~ ^[A-Za-z0-9._-]+$ ]] ||
    weir_die "WEIR_KAFKA_SASL_USER may contain only letters, digits, '.', '_' and '-'"
  [[ $SASL_PASSWORD =~ ^[A-Za-z0-9._~@%+:/!^*-]+$ ]] ||
    weir_die "WEIR_KAFKA_SASL_PASSWORD must be non-empty and contain only letters, digits and ._~@%+:/!^*-"
fi
if [[ $ACL == 1 ]]; then
  [[ $RESTRICTED_USER =~ ^[A-Za-z0-9._-]+$ && $RESTRICTED_USER != "$SASL_USER" ]] ||
    weir_die "WEIR_KAFKA_SASL_RESTRICTED_USER may contain only letters, digits, '.', '_' and '-', and must differ from the SCRAM user"
  [[ $RESTRICTED_PASSWORD =~ ^[A-Za-z0-9._~@%+:/!^*-]+$ ]] ||
    weir_die "WEIR_KAFKA_SASL_RESTRICTED_PASSWORD must be non-empty and contain only letters, digits and ._~@%+:/!^*-"
fi
if [[ $TLS == 1 ]]; then
  [[ $TLS_PORT != "$PORT" && $TLS_PORT != "$CONTROLLER_PORT" &&
    ($SASL == 0 || $TLS_PORT != "$SASL_PORT") ]] ||
    weir_die "the TLS port $TLS_PORT is also the client, controller or SASL port (set WEIR_KAFKA_TLS_PORT)"
  # It goes unquoted into a properties file; openssl wants at least 4 characters.
  [[ $TLS_KEY_PASSWORD =~ ^[A-Za-z0-9._~@%+:/!^*-]{4,}$ ]] ||
    weir_die "WEIR_KAFKA_TLS_KEY_PASSWORD must have at least 4 characters, only letters, digits and ._~@%+:/!^*-"
fi
CACHE_DIR=$(weir_cache_dir)
KAFKA_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION
LIBS=$KAFKA_HOME/libs
INSTANCE_DIR=${WEIR_KAFKA_DIR:-$CACHE_DIR/kafka-run-$PORT}
START_TIMEOUT=${WEIR_KAFKA_START_TIMEOUT:-90}
BOOTSTRAP=127.0.0.1:$PORT
SASL_BOOTSTRAP=127.0.0.1:$SASL_PORT
TLS_BOOTSTRAP=127.0.0.1:$TLS_PORT

PROPS=$INSTANCE_DIR/server.properties
DATA_DIR=$INSTANCE_DIR/data
LOG_FILE=$INSTANCE_DIR/server.log
PID_FILE=$INSTANCE_DIR/kafka.pid
CLUSTER_ID_FILE=$INSTANCE_DIR/cluster-id
# SCRAM user and a digest of the password the storage was formatted with.
SCRAM_FILE=$INSTANCE_DIR/scram-credentials
# librdkafka client config for the SASL listener (kcat -F, readiness check).
SASL_CLIENT_CONF=$INSTANCE_DIR/sasl-client.properties
# Written once the restricted user's ACLs are in the cluster metadata; removed
# whenever the storage is formatted.
ACL_FILE=$INSTANCE_DIR/acls-set
# CA, certificates and keys for the SSL listener (see make_tls_material), and
# the librdkafka client config that uses them (kcat -F, readiness check).
TLS_DIR=$INSTANCE_DIR/tls
TLS_CLIENT_CONF=$INSTANCE_DIR/tls-client.properties

if [[ -n ${JAVA_HOME:-} ]]; then
  JAVA=$JAVA_HOME/bin/java
else
  JAVA=java
fi

KCAT=$(command -v kcat || command -v kafkacat || true)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# --- jars -------------------------------------------------------------------

write_pom() {
  cat >"$1" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka.sh: the runtime classpath of a Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>$DEPENDENCY_PLUGIN_VERSION</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
}

# Downloads the broker's jars into $LIBS unless they are there already.
# Concurrent callers wait for one another.
fetch_jars() {
  [[ -f $LIBS/.complete ]] && return 0
  command -v mvn >/dev/null 2>&1 || weir_die "mvn not found (run scripts/install-deps.sh)"
  mkdir -p "$KAFKA_HOME"
  (
    flock -w 600 8 || weir_die "timed out waiting for another download of the Kafka jars"
    [[ -f $LIBS/.complete ]] && exit 0
    local started=$SECONDS tmp=$KAFKA_HOME/libs.tmp
    weir_log "downloading Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
    rm -rf "$tmp"
    write_pom "$KAFKA_HOME/pom.xml"
    if ! mvn -B -q -f "$KAFKA_HOME/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_HOME/fetch.log" 2>&1; then
      tail -n 30 "$KAFKA_HOME/fetch.log" >&2
      weir_die "Maven could not fetch the Kafka jars (log: $KAFKA_HOME/fetch.log)"
    fi
    [[ -f $tmp/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar && -f $tmp/slf4j-simple-$SLF4J_VERSION.jar ]] ||
      weir_die "the Kafka jars are missing from $tmp after the download"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    touch "$LIBS/.complete"
    weir_log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - started)) s"
  ) 8>"$KAFKA_HOME/.fetch.lock"
}

# --- instance state ----------------------------------------------------------

# Regex matching the broker JVM's command line for this instance.
broker_pattern() {
  printf 'kafka[.]Kafka %s$' "$(weir_regex_escape "$PROPS")"
}

is_our_broker() {
  local pid=$1 cmdline
  [[ -r /proc/$pid/cmdline ]] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"kafka.Kafka $PROPS"* ]]
}

# Prints the pid of this instance's broker JVM; fails if none runs.
running_pid() {
  local pid
  if [[ -f $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if [[ $pid =~ ^[0-9]+$ ]] && is_our_broker "$pid"; then
      echo "$pid"
      return 0
    fi
  fi
  pid=$(pgrep -f -- "$(broker_pattern)" | head -n 1) || true
  [[ -n $pid ]] || return 1
  echo "$pid"
}

# True when the broker answers a metadata request and lists itself.
answering() {
  weir_port_open "$PORT" || return 1
  [[ $SASL == 0 ]] || weir_port_open "$SASL_PORT" || return 1
  [[ $TLS == 0 ]] || weir_port_open "$TLS_PORT" || return 1
  if [[ -z $KCAT ]]; then
    return 0 # no client to ask: open ports will have to do
  fi
  "$KCAT" -b "$BOOTSTRAP" -L -t __weir_none -m 3 2>/dev/null |
    grep -qF "broker 1 at $BOOTSTRAP" || return 1
  if [[ $SASL == 1 ]]; then
    # The SCRAM user can log in on the SASL listener.
    "$KCAT" -F "$SASL_CLIENT_CONF" -b "$SASL_BOOTSTRAP" -L -t __weir_none -m 3 2>/dev/null |
      grep -qF "broker 1 at $SASL_BOOTSTRAP" || return 1
  fi
  if [[ $TLS == 1 ]]; then
    # The SSL listener completes a handshake with the client certificate.
    "$KCAT" -F "$TLS_CLIENT_CONF" -b "$TLS_BOOTSTRAP" -L -t __weir_none -m 3 2>/dev/null |
      grep -qF "broker 1 at $TLS_BOOTSTRAP" || return 1
  fi
  return 0
}

# Kafka version of the jars a running broker has on its classpath.
broker_version() {
  local pid=$1 cp jar
  cp=$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n '/^-cp$/{n;p;q}')
  for jar in "${cp%/\*}"/kafka_"$SCALA_VERSION"-*.jar; do
    [[ -f $jar ]] || continue
    jar=${jar##*/kafka_"$SCALA_VERSION"-}
    echo "${jar%.jar}"
    return 0
  done
  echo unknown
}

lock_instance() {
  mkdir -p "$INSTANCE_DIR"
  exec 9>"$INSTANCE_DIR/.lock"
  flock -w 180 9 || weir_die "timed out waiting for another kafka.sh on $INSTANCE_DIR"
}

# Waits until the broker answers; fails (log tail printed) if it exits or the
# timeout passes.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while ! answering; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOG_FILE" >&2 || true
      weir_log "error: the broker exited during start-up (log: $LOG_FILE)"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$LOG_FILE" >&2 || true
      weir_log "error: the broker did not answer on $BOOTSTRAP within $START_TIMEOUT s (log: $LOG_FILE)"
      return 1
    fi
    sleep 0.25
  done
}

# --- commands ----------------------------------------------------------------

write_config() {
  # The broker itself and the controller talk PLAINTEXT; WEIR_KAFKA_SASL and
  # WEIR_KAFKA_TLS add a listener each, for clients only. Each listener's name
  # is its security protocol.
  local listeners=PLAINTEXT://127.0.0.1:$PORT advertised=PLAINTEXT://127.0.0.1:$PORT
  local protocols=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
  if [[ $SASL == 1 ]]; then
    listeners+=,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT
    advertised+=,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT
    protocols+=,SASL_PLAINTEXT:SASL_PLAINTEXT
  fi
  if [[ $TLS == 1 ]]; then
    listeners+=,SSL://127.0.0.1:$TLS_PORT
    advertised+=,SSL://127.0.0.1:$TLS_PORT
    protocols+=,SSL:SSL
  fi
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$DATA_DIR
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
group.initial.rebalance.delay.ms=0
# Lets tests use short consumer session timeouts (the default minimum is 6 s).
group.min.session.timeout.ms=1000
# After a SIGKILL the restarted broker cannot register until its previous
# incarnation's session expires (default 9 s, plus registration back-off).
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
EOF
  if [[ $SASL == 1 ]]; then
    # The SCRAM credentials live in the cluster metadata (see format_storage),
    # so the JAAS config names no user.
    cat >>"$PROPS" <<EOF
# WEIR_KAFKA_SASL=1: the SASL_PLAINTEXT listener uses SCRAM
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
    (
      umask 077
      cat >"$SASL_CLIENT_CONF" <<EOF
# Generated by scripts/kafka.sh: librdkafka settings for $SASL_BOOTSTRAP
# (kcat -F $SASL_CLIENT_CONF -b $SASL_BOOTSTRAP ...).
security.protocol=SASL_PLAINTEXT
sasl.mechanisms=SCRAM-SHA-256
sasl.username=$SASL_USER
sasl.password=$SASL_PASSWORD
EOF
    )
  fi
  if [[ $ACL == 1 ]]; then
    # ANONYMOUS is every PLAINTEXT client, the controller and the broker
    # itself; CN=weir is the TLS client certificate's subject (the default
    # principal mapping keeps the whole distinguished name).
    cat >>"$PROPS" <<EOF
# WEIR_KAFKA_ACL=1: requests are authorized; only $RESTRICTED_USER is bound by ACLs
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:$SASL_USER;User:CN=weir
EOF
  fi
  if [[ $TLS == 1 ]]; then
    # The keystore holds the broker's key and certificate chain. The
    # truststore is the CA's PEM file: openssl 3.0 cannot mark a certificate
    # in a PKCS12 file as trusted for Java, and keytool would cost a JVM start.
    local store_password
    store_password=$(<"$TLS_DIR/store-password")
    cat >>"$PROPS" <<EOF
# WEIR_KAFKA_TLS=1: the SSL listener requires a client certificate signed by
# the CA in $TLS_DIR
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$TLS_DIR/broker.p12
listener.name.ssl.ssl.keystore.password=$store_password
listener.name.ssl.ssl.key.password=$store_password
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$TLS_DIR/ca.pem
listener.name.ssl.ssl.client.auth=required
EOF
    (
      umask 077
      cat >"$TLS_CLIENT_CONF" <<EOF
# Generated by scripts/kafka.sh: librdkafka settings for $TLS_BOOTSTRAP
# (kcat -F $TLS_CLIENT_CONF -b $TLS_BOOTSTRAP ...).
security.protocol=SSL
ssl.ca.location=$TLS_DIR/ca.pem
ssl.certificate.location=$TLS_DIR/client.pem
ssl.key.location=$TLS_DIR/client.key
ssl.key.password=$TLS_KEY_PASSWORD
EOF
    )
  fi
  if [[ -n ${WEIR_KAFKA_PROPERTIES:-} ]]; then
    local prop
    echo "# From WEIR_KAFKA_PROPERTIES" >>"$PROPS"
    for prop in $WEIR_KAFKA_PROPERTIES; do
      [[ $prop == *=* ]] || weir_die "WEIR_KAFKA_PROPERTIES: not KEY=VALUE: $prop"
      echo "$prop" >>"$PROPS"
    done
  fi
}

new_cluster_id() {
  # Kafka's form: 16 random bytes, base64url without padding, not starting
  # with '-'.
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && break
  done
  echo "$id"
}

# "USER SHA256-OF-PASSWORD": the SCRAM credentials formatting adds.
scram_fingerprint() {
  printf '%s %s\n' "$SASL_USER" "$(printf '%s' "$SASL_PASSWORD" | sha256sum | cut -d' ' -f1)"
  if [[ $ACL == 1 ]]; then
    printf '%s %s\n' "$RESTRICTED_USER" \
      "$(printf '%s' "$RESTRICTED_PASSWORD" | sha256sum | cut -d' ' -f1)"
  fi
}

format_storage() {
  # A formatted log dir holds meta.properties; formatting again would be a
  # no-op (--ignore-formatted) that costs a JVM start.
  if [[ -f $DATA_DIR/meta.properties ]]; then
    # SCRAM users are only added at format time (the broker's jar has no
    # admin tool for them, nor does the Python client used for topics): a data
    # dir formatted without them, or with other ones, must be formatted again.
    # (A restricted user the storage has while WEIR_KAFKA_ACL=0 does no harm.)
    local want
    want=$(scram_fingerprint)
    if [[ $SASL == 1 &&
      "$(head -n "$(wc -l <<<"$want")" "$SCRAM_FILE" 2>/dev/null)" != "$want" ]]; then
      weir_die "$DATA_DIR was formatted without SCRAM credentials for $SASL_USER (and, with WEIR_KAFKA_ACL=1, $RESTRICTED_USER) or with other passwords; delete it (its topics go too) and start again"
    fi
    return 0
  fi
  [[ -s $CLUSTER_ID_FILE ]] || new_cluster_id >"$CLUSTER_ID_FILE"
  mkdir -p "$DATA_DIR"
  local scram=() mechanism
  if [[ $SASL == 1 ]]; then
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      scram+=(--add-scram "$mechanism=[name=$SASL_USER,password=$SASL_PASSWORD]")
      [[ $ACL == 0 ]] ||
        scram+=(--add-scram "$mechanism=[name=$RESTRICTED_USER,password=$RESTRICTED_PASSWORD]")
    done
  fi
  rm -f "$ACL_FILE"
  if ! "$JAVA" -Xmx256m -cp "$LIBS/*" kafka.tools.StorageTool format \
    -t "$(<"$CLUSTER_ID_FILE")" -c "$PROPS" --ignore-formatted "${scram[@]}" \
    >"$INSTANCE_DIR/format.log" 2>&1 9>&-; then
    cat "$INSTANCE_DIR/format.log" >&2
    weir_die "formatting $DATA_DIR failed"
  fi
  if [[ $SASL == 1 ]]; then
    scram_fingerprint >"$SCRAM_FILE"
  else
    rm -f "$SCRAM_FILE"
  fi
}

# "SHA256-OF-KEY-PASSWORD": what the TLS material in $TLS_DIR was made for.
tls_fingerprint() {
  printf 'v1 %s\n' "$(printf '%s' "$TLS_KEY_PASSWORD" | sha256sum | cut -d' ' -f1)"
}

# True when $TLS_DIR holds every file, made for this key password, and no
# certificate expires within a day.
tls_material_usable() {
  local f
  for f in ca.pem broker.p12 client.pem client.key store-password; do
    [[ -s $TLS_DIR/$f ]] || return 1
  done
  [[ "$(cat "$TLS_DIR/fingerprint" 2>/dev/null)" == "$(tls_fingerprint)" ]] || return 1
  for f in ca.pem broker.pem client.pem; do
    openssl x509 -checkend 86400 -noout -in "$TLS_DIR/$f" >/dev/null 2>&1 || return 1
  done
}

# Makes, unless usable ones exist, a throwaway CA and two certificates it
# signs, all EC P-256 and valid for 10 years:
#   ca.pem                   the CA's certificate (the broker's truststore; the
#                            client's ssl.ca.location)
#   broker.p12               the broker's key and certificate (for 127.0.0.1
#                            and localhost) with the CA, password in
#                            store-password (the broker's keystore)
#   client.pem, client.key   the client's certificate (CN=weir) and key, PEM;
#                            the key encrypted (PKCS#8, AES-256) with
#                            WEIR_KAFKA_TLS_KEY_PASSWORD
# The CA's key is thrown away. openssl only: no JVM start.
make_tls_material() {
  tls_material_usable && return 0
  command -v openssl >/dev/null 2>&1 || weir_die "openssl not found (needed by WEIR_KAFKA_TLS=1)"
  local tmp=$TLS_DIR.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  chmod 700 "$tmp"
  cat >"$tmp/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[broker]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  # Passwords reach openssl through its environment, not its command line.
  (
    cd "$tmp"
    umask 077
    export WEIR_TLS_STORE_PASSWORD WEIR_TLS_KEY_PASSWORD=$TLS_KEY_PASSWORD
    WEIR_TLS_STORE_PASSWORD=$(openssl rand -hex 16)
    printf '%s\n' "$WEIR_TLS_STORE_PASSWORD" >store-password
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) days=3650
    openssl req -config openssl.cnf -x509 "${ec[@]}" -nodes -keyout ca.key -out ca.pem \
      -days "$days" -subj "/CN=weir test CA $(openssl rand -hex 4)" -extensions ca
    openssl req -config openssl.cnf -new "${ec[@]}" -nodes -keyout broker.key -out broker.csr \
      -subj /CN=localhost
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
      -days "$days" -extfile openssl.cnf -extensions broker -out broker.pem
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -passout env:WEIR_TLS_STORE_PASSWORD -out broker.p12
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc \
      -pass env:WEIR_TLS_KEY_PASSWORD -out client.key
    openssl req -config openssl.cnf -new -key client.key -passin env:WEIR_TLS_KEY_PASSWORD \
      -subj /CN=weir -out client.csr
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
      -days "$days" -extfile openssl.cnf -extensions client -out client.pem
    rm -f ca.key broker.key ./*.csr openssl.cnf
    chmod 644 ca.pem broker.pem client.pem
  ) >"$INSTANCE_DIR/tls.log" 2>&1 || {
    cat "$INSTANCE_DIR/tls.log" >&2
    weir_die "openssl could not make the TLS certificates (log: $INSTANCE_DIR/tls.log)"
  }
  tls_fingerprint >"$tmp/fingerprint"
  rm -rf "$TLS_DIR"
  mv "$tmp" "$TLS_DIR"
  weir_log "made a CA and broker and client certificates in $TLS_DIR"
}

cmd_start() {
  local pid started=$SECONDS
  lock_instance
  if pid=$(running_pid); then
    wait_ready "$pid" || exit 1
    echo "kafka.sh: already running: pid $pid, Kafka $(broker_version "$pid") on $BOOTSTRAP, dir $INSTANCE_DIR"
    return 0
  fi
  rm -f "$PID_FILE"
  local port
  local ports=("$PORT" "$CONTROLLER_PORT")
  [[ $SASL == 1 ]] && ports+=("$SASL_PORT")
  [[ $TLS == 1 ]] && ports+=("$TLS_PORT")
  for port in "${ports[@]}"; do
    ! weir_port_open "$port" ||
      weir_die "port $port is in use by another process (set WEIR_KAFKA_PORT / WEIR_KAFKA_CONTROLLER_PORT / WEIR_KAFKA_SASL_PORT / WEIR_KAFKA_TLS_PORT)"
  done
  command -v "$JAVA" >/dev/null 2>&1 || weir_die "java not found (run scripts/install-deps.sh)"
  fetch_jars
  [[ $TLS == 0 ]] || make_tls_material
  write_config
  format_storage
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"

  local jvm_opts=(
    -Xms256m -Xmx768m
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
    -Dorg.slf4j.simpleLogger.showDateTime=true
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS"
  )
  # setsid: the broker outlives the caller's process group (a test runner's
  # Ctrl-C); `stop` ends it.
  setsid nohup "$JAVA" "${jvm_opts[@]}" -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    </dev/null >"$LOG_FILE" 2>&1 9>&- &
  local launched=$! i
  # setsid forks when it leads its process group; then $! is not the JVM.
  pid=
  for ((i = 0; i < 50; i++)); do
    if is_our_broker "$launched"; then
      pid=$launched
      break
    fi
    pid=$(running_pid) && break
    sleep 0.1
  done
  [[ -n $pid ]] || pid=$launched
  echo "$pid" >"$PID_FILE"
  if ! wait_ready "$pid" || ! set_acls; then
    cmd_stop_locked >/dev/null || true
    exit 1
  fi
  local where=$BOOTSTRAP
  [[ $SASL == 1 ]] && where+=", SASL_PLAINTEXT/SCRAM $SASL_BOOTSTRAP (user $SASL_USER)"
  [[ $ACL == 1 ]] && where+=" with ACLs (restricted user $RESTRICTED_USER)"
  [[ $TLS == 1 ]] && where+=", SSL/mutual TLS $TLS_BOOTSTRAP (client config $TLS_CLIENT_CONF)"
  echo "kafka.sh: started Kafka $(broker_version "$pid") (pid $pid) on $where in $((SECONDS - started)) s, dir $INSTANCE_DIR"
}

# Gives the restricted SCRAM user its ACLs, once per formatted storage (they
# live in the cluster metadata). kafka.admin.AclCommand, through the
# PLAINTEXT listener as the super user ANONYMOUS: one run per set of
# operations valid on the resource types it names. No CREATE, DELETE or ALTER
# anywhere: topics are someone else's to make.
set_acls() {
  [[ $ACL == 1 && ! -f $ACL_FILE ]] || return 0
  local log=$INSTANCE_DIR/acls.log
  : >"$log"
  acl() {
    "$JAVA" -Xmx256m -cp "$LIBS/*" kafka.admin.AclCommand --bootstrap-server "$BOOTSTRAP" \
      --add --allow-principal "User:$RESTRICTED_USER" "$@" >>"$log" 2>&1 9>&-
  }
  if ! acl --operation Read --topic '*' --group '*' ||
    ! acl --operation Write --operation Describe --topic '*' --transactional-id '*'; then
    cat "$log" >&2
    weir_log "error: setting the ACLs of $RESTRICTED_USER failed (log: $log)"
    return 1
  fi
  echo "$RESTRICTED_USER" >"$ACL_FILE"
}

# Sends SIG to PIDS, then waits up to TIMEOUT seconds for them to exit.
# Succeeds if they all did.
signal_and_wait() {
  local sig=$1 timeout=$2 pid alive
  shift 2
  kill "-$sig" "$@" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while :; do
    alive=0
    for pid in "$@"; do
      is_our_broker "$pid" && alive=1
    done
    ((alive == 0)) && return 0
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}

cmd_stop_locked() {
  local pids started=$SECONDS how=SIGTERM
  mapfile -t pids < <({
    running_pid || true
    pgrep -f -- "$(broker_pattern)" || true
  } | sort -u)
  if [[ ${#pids[@]} -eq 0 ]]; then
    rm -f "$PID_FILE"
    echo "kafka.sh: not running (dir $INSTANCE_DIR)"
    return 0
  fi
  if ! signal_and_wait TERM 30 "${pids[@]}"; then
    how=SIGKILL
    weir_log "broker did not stop within 30 s of SIGTERM; sending SIGKILL"
    signal_and_wait KILL 10 "${pids[@]}" || weir_die "could not kill pid(s) ${pids[*]}"
  fi
  # Anything else still running on this instance's config (e.g. a JVM whose pid
  # file was lost) goes too.
  mapfile -t pids < <(pgrep -f -- "$(broker_pattern)" || true)
  if [[ ${#pids[@]} -gt 0 ]]; then
    how=SIGKILL
    signal_and_wait KILL 10 "${pids[@]}" || weir_die "could not kill pid(s) ${pids[*]}"
  fi
  rm -f "$PID_FILE"
  echo "kafka.sh: stopped ($how) in $((SECONDS - started)) s, dir $INSTANCE_DIR"
}

cmd_stop() {
  lock_instance
  cmd_stop_locked
}

cmd_status() {
  local pid
  if ! pid=$(running_pid); then
    echo "stopped bootstrap=$BOOTSTRAP dir=$INSTANCE_DIR"
    exit 3
  fi
  if ! answering; then
    echo "unresponsive pid=$pid version=$(broker_version "$pid") bootstrap=$BOOTSTRAP dir=$INSTANCE_DIR"
    exit 1
  fi
  echo "running pid=$pid version=$(broker_version "$pid") bootstrap=$BOOTSTRAP dir=$INSTANCE_DIR"
}

# Prints "P L" for topic NAME: partitions in the metadata and how many of them
# have a leader; prints nothing if the topic is unknown (kcat then prints
# `topic "NAME" with 0 partitions: Broker: Unknown topic or partition`).
topic_layout() {
  "$KCAT" -b "$BOOTSTRAP" -L -t "$1" -m 5 2>/dev/null | awk -v topic="$1" '
    $1 == "topic" && $2 == "\"" topic "\"" && $3 == "with" && $NF == "partitions:" {
      found = 1; parts = $4
    }
    found && $1 == "partition" && $3 == "leader" && $4 != "-1," { leaders++ }
    END { if (found) print parts, leaders + 0 }'
}

# Prints the path of a python3 that has confluent_kafka, for topic admin.
# (Kafka 3.9's TopicCommand lives in kafka-tools, which would bring Kafka
# Connect's dependencies and a second slf4j binding; Python's client is lighter
# and starts faster than a JVM.)
admin_python() {
  local python
  for python in /usr/bin/python3 python3; do
    if command -v "$python" >/dev/null 2>&1 &&
      "$python" -c 'import confluent_kafka' 2>/dev/null; then
      command -v "$python"
      return 0
    fi
  done
  weir_die "topic commands need python3 with confluent_kafka (run scripts/install-deps.sh)"
}

create_topic_python() {
  local python=$1 name=$2 partitions=$3
  shift 3
  "$python" - "$BOOTSTRAP" "$name" "$partitions" "$@" <<'EOF'
import sys
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, name, partitions, *configs = sys.argv[1:]
config = dict(c.split("=", 1) for c in configs)
admin = AdminClient({"bootstrap.servers": bootstrap})
future = admin.create_topics(
    [NewTopic(name, int(partitions), 1, config=config)],
    operation_timeout=30, request_timeout=30)[name]
try:
    future.result()
    print("created")
except KafkaException as e:
    err = e.args[0]
    if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
        sys.exit(f"kafka.sh: error: creating topic {name}: {err.str()}")
    print("exists")
EOF
}

cmd_topic_create() {
  [[ $# -ge 2 ]] || usage
  local name=$1 partitions=$2 config
  shift 2
  [[ $partitions =~ ^[1-9][0-9]*$ ]] || weir_die "PARTITIONS must be a positive integer: $partitions"
  for config in "$@"; do
    [[ $config == *=* ]] || weir_die "topic config is not KEY=VALUE: $config"
  done
  answering || weir_die "no broker answers on $BOOTSTRAP (run: scripts/kafka.sh start)"

  local python outcome
  python=$(admin_python)
  outcome=$(create_topic_python "$python" "$name" "$partitions" "$@")

  if [[ -n $KCAT ]]; then
    local layout deadline=$((SECONDS + 30))
    while :; do
      layout=$(topic_layout "$name")
      if [[ -n $layout ]]; then
        [[ ${layout% *} == "$partitions" ]] ||
          weir_die "topic $name exists with ${layout% *} partitions, not $partitions"
        [[ ${layout#* } == "$partitions" ]] && break
      fi
      ((SECONDS < deadline)) || weir_die "topic $name has no leader for every partition after 30 s"
      sleep 0.2
    done
  fi
  echo "kafka.sh: topic $name ($partitions partitions) $outcome on $BOOTSTRAP"
}

cmd_topic_delete() {
  [[ $# -eq 1 ]] || usage
  local name=$1 python outcome
  answering || weir_die "no broker answers on $BOOTSTRAP (run: scripts/kafka.sh start)"
  python=$(admin_python)
  outcome=$("$python" - "$BOOTSTRAP" "$name" <<'EOF'
import sys
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

bootstrap, name = sys.argv[1:]
admin = AdminClient({"bootstrap.servers": bootstrap})
future = admin.delete_topics([name], operation_timeout=30, request_timeout=30)[name]
try:
    future.result()
    print("deleted")
except KafkaException as e:
    err = e.args[0]
    if err.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
        sys.exit(f"kafka.sh: error: deleting topic {name}: {err.str()}")
    print("absent")
EOF
  )
  if [[ -n $KCAT ]]; then
    local deadline=$((SECONDS + 30))
    while [[ -n $(topic_layout "$name") ]]; do
      ((SECONDS < deadline)) || weir_die "topic $name still in the metadata after 30 s"
      sleep 0.2
    done
  fi
  echo "kafka.sh: topic $name $outcome on $BOOTSTRAP"
}

cmd_logs() {
  [[ -f $LOG_FILE ]] || weir_die "no log yet: $LOG_FILE"
  if [[ ${1:-} == -f ]]; then
    exec tail -n 50 -F "$LOG_FILE"
  fi
  tail -n 200 "$LOG_FILE"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case $cmd in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart)
    cmd_stop
    exec 9>&-
    cmd_start
    ;;
  status) cmd_status ;;
  topic-create) cmd_topic_create "$@" ;;
  topic-delete) cmd_topic_delete "$@" ;;
  logs) cmd_logs "$@" ;;
  fetch) fetch_jars ;;
  bootstrap) echo "$BOOTSTRAP" ;;
  sasl-bootstrap)
    [[ $SASL == 1 ]] || weir_die "the SASL listener is off (set WEIR_KAFKA_SASL=1)"
    echo "$SASL_BOOTSTRAP"
    ;;
  tls-bootstrap)
    [[ $TLS == 1 ]] || weir_die "the TLS listener is off (set WEIR_KAFKA_TLS=1)"
    echo "$TLS_BOOTSTRAP"
    ;;
  tls-client-conf)
    [[ $TLS == 1 ]] || weir_die "the TLS listener is off (set WEIR_KAFKA_TLS=1)"
    [[ -f $TLS_CLIENT_CONF ]] || weir_die "no $TLS_CLIENT_CONF yet (run: scripts/kafka.sh start)"
    echo "$TLS_CLIENT_CONF"
    ;;
  -h | --help | help) usage ;;
  *) usage ;;
  esac
}

main "$@"
