#!/bin/sh
# mlmesh/kafka entrypoint: the apache/kafka image's configuration convention on
# a Debian JRE with the broker jars from Maven Central (docker/kafka.Dockerfile).
#
# Every KAFKA_<NAME> variable becomes the broker property <name> (lower case,
# "_" -> ".", "__" -> "_", "___" -> "-"), as in apache/kafka; KAFKA_HEAP_OPTS,
# KAFKA_OPTS and CLUSTER_ID are not properties. The log directory (log.dirs,
# default /var/lib/kafka/data) is formatted on first start only, so a restart
# keeps its data.
set -eu

PROPS=/tmp/kafka/server.properties
mkdir -p /tmp/kafka
: > "$PROPS"
env | grep '^KAFKA_' | while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_LOG4J_OPTS) continue ;;
  esac
  key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  printf '%s=%s\n' "$key" "$value" >> "$PROPS"
done
grep -q '^log.dirs=' "$PROPS" || echo "log.dirs=/var/lib/kafka/data" >> "$PROPS"
logdir=$(sed -n 's/^log.dirs=//p' "$PROPS" | cut -d, -f1)

cp="/opt/kafka/libs/*"
java_opts="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} ${KAFKA_OPTS:-} -Djava.awt.headless=true -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.xml"

if [ ! -f "$logdir/meta.properties" ]; then
  # shellcheck disable=SC2086
  cid=${CLUSTER_ID:-$(java $java_opts -cp "$cp" kafka.tools.StorageTool random-uuid | tail -1)}
  # shellcheck disable=SC2086
  java $java_opts -cp "$cp" kafka.tools.StorageTool format -t "$cid" -c "$PROPS" --ignore-formatted
fi
# shellcheck disable=SC2086
exec java $java_opts -cp "$cp" kafka.Kafka "$PROPS"
