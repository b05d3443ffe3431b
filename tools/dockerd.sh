#!/usr/bin/env bash
# Start a Docker engine when none answers and this user can (root, dockerd
# installed): what `.ci/run` does before `make test`, so CI exercises the
# container paths. overlay2 where the kernel allows it (a layer is a diff), else
# vfs (every layer a full copy: slower builds, far more disk). Options as these
# machines need them: no iptables (no NAT), cgroupfs. Exit 0 when an engine
# answers at the end, 1 otherwise (never fatal for the caller).
set -uo pipefail

if docker info >/dev/null 2>&1; then
  echo "dockerd: an engine already answers ($(docker info -f '{{.Driver}}'))"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null; then
  echo "dockerd: no engine answers and this user cannot start one (needs root and dockerd)"
  exit 1
fi
log=${DOCKERD_LOG:-/tmp/mlmesh-dockerd.log}
for driver in ${DOCKERD_STORAGE_DRIVER:-overlay2 vfs}; do
  nohup dockerd --storage-driver "$driver" --iptables=false --ip6tables=false \
    --exec-opt native.cgroupdriver=cgroupfs >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      echo "dockerd: started (pid $pid, storage driver $driver, log $log)"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  echo "dockerd: storage driver $driver did not start (log $log)"
done
exit 1
