#!/usr/bin/env bash
# Regenerate (default) or check (--check) the Python stubs generated from protos/.
# Stubs live in exactly one place: gen/python/mlmesh/<domain>/v1/.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_PY=${PROTOC_PY:-.venv-protoc/bin/python}
mode=${1:-generate}

generate() {
  local out
  mkdir -p "$1"
  out=$(cd "$1" && pwd)
  rm -rf "$out/mlmesh"
  mapfile -t files < <(cd protos && find mlmesh -name '*.proto' | LC_ALL=C sort)
  local py
  py=$(cd "$(dirname "$PROTOC_PY")" && pwd)/$(basename "$PROTOC_PY")
  (cd protos && "$py" -m grpc_tools.protoc -I. \
      --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${files[@]}")
  # mlmesh/ stays a namespace package (the shared library lives in lib/mlmesh);
  # every level below it is a regular package.
  find "$out/mlmesh" -mindepth 1 -type d | while read -r d; do
    : > "$d/__init__.py"
  done
  : > "$out/mlmesh/py.typed"
  # grpc stubs without services are empty shells: drop them.
  find "$out/mlmesh" -name '*_pb2_grpc.py' | while read -r f; do
    grep -q "class .*Stub" "$f" || rm -f "$f"
  done
}

case "$mode" in
  generate)
    generate gen/python
    echo "stubs regenerated in gen/python/mlmesh"
    ;;
  --check)
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    generate "$tmp"
    if ! diff -r -x __pycache__ "$tmp/mlmesh" gen/python/mlmesh; then
      echo "ERROR: generated stubs are out of date: run 'make protos' and commit" >&2
      exit 1
    fi
    echo "stubs up to date"
    ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
