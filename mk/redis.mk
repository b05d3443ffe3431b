# Redis, Feast's scale-out online store (MLMESH_FEAST_ONLINE=redis), from the
# Debian package: the local stack and the integration tests run the real
# redis-server. Idempotent.
.PHONY: setup-redis

setup-redis:
	@if command -v redis-server >/dev/null; then echo "redis present: $$(redis-server --version | cut -d' ' -f3)"; \
	else SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends redis-server; fi

