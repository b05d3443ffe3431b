#!/usr/bin/env bash
# `make images`: build the service images with the local Docker engine and
# report their sizes (bench/results/images.json).
#
# Base images are build arguments. PYTHON_BASE defaults to the official
# python:3.11.14-slim-bookworm; where it cannot be pulled (no registry
# reachable), an equivalent base is built from Debian packages first
# (mmdebstrap: Debian's python3 3.11, venv, CA certificates) and used instead.
#
#   IMAGES="ingest inference"   only these (default: every Python service image)
#   TAG=dev                     image tag (mlmesh/<name>:$TAG)
#   PYTHON_BASE=...             a base of your own; skips the probe
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${TAG:-dev}
IMAGES=${IMAGES:-"ingest feature-writer embedder inference monitor"}
OFFICIAL=python:3.11.14-slim-bookworm
LOCAL_BASE=mlmesh/python-base:3.11-bookworm
OUT=${IMAGES_REPORT:-bench/results/images.json}

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

if ! docker info >/dev/null 2>&1; then
  echo "images: no Docker engine answers (start dockerd; see README, 'Containers')" >&2
  exit 2
fi

base=${PYTHON_BASE:-}
if [ -z "$base" ]; then
  if docker image inspect "$OFFICIAL" >/dev/null 2>&1 || docker pull -q "$OFFICIAL" >/dev/null 2>&1; then
    base=$OFFICIAL
  else
    base=$LOCAL_BASE
    if ! docker image inspect "$base" >/dev/null 2>&1; then
      command -v mmdebstrap >/dev/null || {
        echo "images: $OFFICIAL cannot be pulled and mmdebstrap is missing (apt-get install mmdebstrap)" >&2
        exit 2
      }
      say "base: $OFFICIAL cannot be pulled; building $base from Debian packages"
      t0=$SECONDS
      # it trusts what this host trusts (its CA bundle, e.g. a TLS-inspecting
      # proxy's), and pip is told to use that bundle
      mmdebstrap --quiet --variant=minbase \
        --include=python3,python3-venv,python-is-python3,ca-certificates,passwd \
        --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
        bookworm - \
        | docker import --change 'ENV LANG=C.UTF-8' \
            --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
            --change 'CMD ["python3"]' - "$base" >/dev/null
      say "base: $base built in $((SECONDS - t0)) s"
    fi
  fi
fi
say "base: $base"

declare -A FILE=([ingest]=services/ingest/Dockerfile [embedder]=services/embedder/Dockerfile
                 [inference]=services/inference/Dockerfile [monitor]=services/monitor/Dockerfile
                 [feature-writer]=services/features/Dockerfile)
declare -A TARGET=([feature-writer]=writer)

rows=()
for name in $IMAGES; do
  file=${FILE[$name]:-}
  [ -n "$file" ] || { echo "images: unknown image $name" >&2; exit 2; }
  # host network: the build's pip and apt reach the registries the host reaches
  # (an engine started with --iptables=false gives bridge containers no route out)
  args=(--network host --build-arg "PYTHON_BASE=$base" -f "$file" -t "mlmesh/$name:$TAG")
  [ -n "${TARGET[$name]:-}" ] && args+=(--target "${TARGET[$name]}")
  say "build mlmesh/$name:$TAG"
  t0=$SECONDS
  log=$(mktemp)
  if ! DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} docker build "${args[@]}" . >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "images: mlmesh/$name failed to build (full log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
  # the vfs driver copies every layer whole (~1.4 GB of venv per stage): drop
  # the untagged stages of earlier builds, or a few builds fill the disk
  if [ "$(docker info -f '{{.Driver}}')" = vfs ]; then docker image prune -f >/dev/null; fi
  secs=$((SECONDS - t0))
  size=$(docker image inspect -f '{{.Size}}' "mlmesh/$name:$TAG")
  user=$(docker image inspect -f '{{.Config.User}}' "mlmesh/$name:$TAG")
  say "mlmesh/$name:$TAG $((size / 1000000)) MB, user $user, built in $secs s"
  rows+=("{\"image\": \"mlmesh/$name:$TAG\", \"bytes\": $size, \"user\": \"$user\", \"build_s\": $secs}")
done

{
  printf '{\n  "area": "images",\n  "measured_at": "%s",\n  "base": "%s",\n  "images": [\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$base"
  for i in "${!rows[@]}"; do
    sep=$([ "$i" -lt $((${#rows[@]} - 1)) ] && echo , || true)
    printf '    %s%s\n' "${rows[$i]}" "$sep"
  done
  printf '  ]\n}\n'
} > "$OUT"
say "sizes: $OUT"
