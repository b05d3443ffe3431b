#!/usr/bin/env bash
# `make setup`: one line per step with its time; each step's own output (pip,
# Maven, compilers) goes to the log file, printed in part only when a step fails.
#
#   tools/setup.sh "label=make-target" ...
#
# First checks the system prerequisites and names the command that installs a
# missing one; installs nothing with the system package manager itself.
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=${STATE:-.mlmesh}
LOG=${SETUP_LOG:-$STATE/logs/setup.log}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

missing=0
need() {  # need <what> <why> <install hint> -- <check command...>
  local what=$1 why=$2 hint=$3
  shift 4
  if ! "$@" >/dev/null 2>&1; then
    printf '  missing: %s (%s)\n           install it, e.g.: %s\n' "$what" "$why" "$hint" >&2
    missing=1
  fi
}
py=${PYTHON:-python3}
need "Python 3.11+ with venv" "every service and tool" \
  "sudo apt-get install python3 python3-venv   |   brew install python@3.11" -- \
  "$py" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))'
need "Java 17+" "Kafka and Flink run on the JVM" \
  "sudo apt-get install openjdk-17-jre-headless   |   brew install openjdk@17" -- \
  bash -c 'v=$(java -XshowSettings:properties -version 2>&1 | sed -n "s/ *java.specification.version = //p"); [ "${v%%.*}" -ge 17 ]'
need "Maven" "fetches the Kafka and Flink jars from Maven Central" \
  "sudo apt-get install maven   |   brew install maven" -- mvn -v
if [ "$missing" != 0 ]; then
  echo "set-up stopped: install what is missing above, then run the same command again" >&2
  exit 2
fi
if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
  echo "  note: no C compiler: the optional C speedups of ingest are skipped (pure Python runs)"
fi

now() { "$py" -c 'import time; print(time.time())'; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%7.1f s", b - a }'; }
total0=$(now)
for step in "$@"; do
  label=${step%%=*}
  target=${step#*=}
  t0=$(now)
  printf '  %-44s' "$label"
  echo "=== $label: make $target" >>"$LOG"
  if ${MAKE:-make} -s --no-print-directory "$target" >>"$LOG" 2>&1; then
    printf '%s\n' "$(since "$t0")"
  else
    printf 'FAILED\n'
    echo "---- last lines of $LOG ----" >&2
    tail -n 25 "$LOG" >&2
    echo "---- the whole log: $LOG" >&2
    exit 1
  fi
done
printf '  %-44s%s   (log: %s)\n' "set-up complete" "$(since "$total0")" "$LOG"
