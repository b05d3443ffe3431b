#!/usr/bin/env bash
# Fails when protos/ breaks wire or JSON compatibility against a base revision.
# Base: $PROTO_BASE if set; on a branch other than main, main; on main, HEAD~1
# (the previous landing). A base that has no protos/ yet has nothing to break.
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=tools/buf/node_modules/.bin/buf
branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo "")
if [[ -n "${PROTO_BASE:-}" ]]; then base=$PROTO_BASE
elif [[ "$branch" != "main" ]] && git rev-parse -q --verify main >/dev/null; then base=main
else base=HEAD~1
fi
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null || \
   ! git cat-file -e "$base:protos/buf.yaml" 2>/dev/null; then
  echo "proto breaking check: base '$base' has no protos/ yet; nothing to compare"
  exit 0
fi
"$BUF" breaking protos --against ".git#ref=$(git rev-parse "$base"),subdir=protos"
echo "proto breaking check against $base: OK"
