#!/usr/bin/env bash
# `make images`: build the mesh's images with the local Docker engine, report
# their sizes (bench/results/images.json) and write .mlmesh/images.env, the
# image variables docker-compose.yml reads (`make compose-up` passes it).
#
#   service images: ingest feature-writer embedder inference monitor features-local
#   server images:  kafka redis milvus triton (CPU, from the nvidia-pytriton wheel) mlflow
#
# Base images are build arguments, the official ones by default
# (python:3.11.14-slim-bookworm, debian:12.12-slim, maven:3.9.11-eclipse-temurin-17).
# Where one cannot be pulled (no registry reachable) an equivalent is built from
# Debian packages first (mmdebstrap), trusting what this host trusts (its
# /usr/local/share/ca-certificates, e.g. a TLS-inspecting proxy's CA).
#
#   IMAGES="ingest kafka"   only these (default: all)
#   TAG=dev                 image tag (mlmesh/<name>:$TAG)
#   PYTHON_BASE= DEBIAN_BASE= MAVEN_BASE=   bases of your own; skip the probe
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${TAG:-dev}
ALL="ingest feature-writer embedder inference monitor features-local kafka redis milvus triton mlflow"
IMAGES=${IMAGES:-$ALL}
OUT=${IMAGES_REPORT:-bench/results/images.json}
ENV_OUT=${IMAGES_ENV:-.mlmesh/images.env}

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

if ! docker info >/dev/null 2>&1; then
  echo "images: no Docker engine answers (start one: tools/dockerd.sh; README, 'Containers')" >&2
  exit 2
fi

# Disk: every stage of these builds carries the label io.mlmesh.build, so the
# untagged stages that earlier builds left (the layer cache, ~1.4 GB per service
# stage) can be dropped without touching anyone else's images. They are dropped
# only when the engine's disk runs low; below MIN_FREE_GB even then: exit 3.
MIN_FREE_GB=${MLMESH_IMAGES_MIN_FREE_GB:-20}
root=$(docker info -f '{{.DockerRootDir}}')
free_gb() { df -P -BG "$root" | awk 'NR == 2 { sub("G", "", $4); print $4 }'; }
if [ "$(free_gb)" -lt "$MIN_FREE_GB" ]; then
  say "disk: $(free_gb) GB free under $root: dropping the untagged stages of earlier mlmesh builds"
  docker image prune -f --filter label=io.mlmesh.build >/dev/null
fi
if [ "$(free_gb)" -lt "$MIN_FREE_GB" ]; then
  echo "images: only $(free_gb) GB free under $root; building needs ${MIN_FREE_GB} GB" \
       "(MLMESH_IMAGES_MIN_FREE_GB). Free some, e.g. docker system prune" >&2
  exit 3
fi

declare -A OFFICIAL=([PYTHON_BASE]=python:3.11.14-slim-bookworm [DEBIAN_BASE]=debian:12.12-slim
                     [MAVEN_BASE]=maven:3.9.11-eclipse-temurin-17)
declare -A LOCAL=([PYTHON_BASE]=mlmesh/python-base:3.11-bookworm
                  [DEBIAN_BASE]=mlmesh/debian-base:bookworm
                  [MAVEN_BASE]=mlmesh/maven-base:3-jdk17-bookworm)
# Debian packages of each equivalent (minbase + these)
declare -A PACKAGES=([PYTHON_BASE]=python3,python3-venv,python-is-python3,ca-certificates,passwd
                     [DEBIAN_BASE]=ca-certificates,passwd
                     [MAVEN_BASE]=maven,openjdk-17-jdk-headless,ca-certificates,passwd)
declare -A BASE=()

# $1: PYTHON_BASE | DEBIAN_BASE | MAVEN_BASE -> BASE[$1]
resolve_base() {
  local var=$1 official=${OFFICIAL[$1]} local_=${LOCAL[$1]}
  [ -n "${BASE[$var]:-}" ] && return
  if [ -n "${!var:-}" ]; then BASE[$var]=${!var}; return; fi
  if docker image inspect "$official" >/dev/null 2>&1 || docker pull -q "$official" >/dev/null 2>&1; then
    BASE[$var]=$official; return
  fi
  BASE[$var]=$local_
  docker image inspect "$local_" >/dev/null 2>&1 && return
  if ! command -v mmdebstrap >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "base: installing mmdebstrap (apt-get; running as root)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  fi
  command -v mmdebstrap >/dev/null || {
    echo "images: $official cannot be pulled and mmdebstrap is missing (apt-get install mmdebstrap)" >&2
    exit 2
  }
  say "base: $official cannot be pulled; building $local_ from Debian packages"
  local t0=$SECONDS
  # the host's extra CAs go in before the packages, so ca-certificates (and
  # ca-certificates-java, for Maven) include them
  mmdebstrap --quiet --variant=minbase --include="${PACKAGES[$var]}" \
    --setup-hook='mkdir -p "$1/usr/local/share/ca-certificates" && for c in /usr/local/share/ca-certificates/*.crt; do [ -f "$c" ] && cp "$c" "$1/usr/local/share/ca-certificates/"; done; true' \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1 || true' \
    bookworm - \
    | docker import --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["bash"]' - "$local_" >/dev/null
  say "base: $local_ built in $((SECONDS - t0)) s"
}

# name -> Dockerfile, target, the bases it needs
declare -A FILE=([ingest]=services/ingest/Dockerfile [embedder]=services/embedder/Dockerfile
                 [inference]=services/inference/Dockerfile [monitor]=services/monitor/Dockerfile
                 [feature-writer]=services/features/Dockerfile
                 [features-local]=services/features/Dockerfile
                 [kafka]=docker/kafka.Dockerfile [redis]=docker/redis.Dockerfile
                 [milvus]=docker/milvus.Dockerfile [triton]=docker/triton-cpu.Dockerfile
                 [mlflow]=docker/mlflow.Dockerfile)
declare -A TARGET=([feature-writer]=writer [features-local]=local)
declare -A NEEDS=([features-local]="PYTHON_BASE MAVEN_BASE" [kafka]="MAVEN_BASE DEBIAN_BASE"
                  [redis]=DEBIAN_BASE [milvus]="PYTHON_BASE DEBIAN_BASE")

rows=()
for name in $IMAGES; do
  file=${FILE[$name]:-}
  [ -n "$file" ] || { echo "images: unknown image $name (known: $ALL)" >&2; exit 2; }
  # host network: the build's pip, apt and Maven reach the registries the host
  # reaches (an engine started with --iptables=false gives bridge containers no route out)
  args=(--network host -f "$file" -t "mlmesh/$name:$TAG")
  for var in ${NEEDS[$name]:-PYTHON_BASE}; do
    resolve_base "$var"
    args+=(--build-arg "$var=${BASE[$var]}")
  done
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
  if [ "$(docker info -f '{{.Driver}}')" = vfs ]; then
    docker image prune -f --filter label=io.mlmesh.build >/dev/null
  fi
  secs=$((SECONDS - t0))
  size=$(docker image inspect -f '{{.Size}}' "mlmesh/$name:$TAG")
  user=$(docker image inspect -f '{{.Config.User}}' "mlmesh/$name:$TAG")
  say "mlmesh/$name:$TAG $((size / 1000000)) MB, user $user, built in $secs s"
  rows+=("{\"image\": \"mlmesh/$name:$TAG\", \"bytes\": $size, \"user\": \"$user\", \"build_s\": $secs}")
done

{
  printf '{\n  "area": "images",\n  "measured_at": "%s",\n  "storage_driver": "%s",\n  "bases": {' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(docker info -f '{{.Driver}}')"
  sep=""
  for var in "${!BASE[@]}"; do printf '%s"%s": "%s"' "$sep" "$var" "${BASE[$var]}"; sep=", "; done
  printf '},\n  "images": [\n'
  for i in "${!rows[@]}"; do
    sep=$([ "$i" -lt $((${#rows[@]} - 1)) ] && echo , || true)
    printf '    %s%s\n' "${rows[$i]}" "$sep"
  done
  printf '  ]\n}\n'
} > "$OUT"
say "sizes: $OUT"

# the compose file's image variables: the images just built (server images
# replace the official ones only where this script built them)
mkdir -p "$(dirname "$ENV_OUT")"
{
  echo "# written by tools/images.sh: docker-compose --env-file $ENV_OUT ..."
  echo "MLMESH_IMAGE_TAG=$TAG"
  for server in kafka redis milvus triton mlflow; do
    if docker image inspect "mlmesh/$server:$TAG" >/dev/null 2>&1; then
      echo "MLMESH_${server^^}_IMAGE=mlmesh/$server:$TAG"
    fi
  done
  [ -n "${BASE[PYTHON_BASE]:-}" ] && echo "PYTHON_BASE=${BASE[PYTHON_BASE]}"
  true
} > "$ENV_OUT"
say "compose image variables: $ENV_OUT"
