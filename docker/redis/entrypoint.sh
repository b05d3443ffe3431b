#!/bin/sh
# As the official redis image does: a server started without a config file
# listens on every interface of its container (no protected mode).
set -eu
if [ "${1:-}" = "redis-server" ] && [ "${2:-}" != "/etc/redis/redis.conf" ]; then
  shift
  exec redis-server --protected-mode no --dir /data "$@"
fi
exec "$@"
