# Monitor service (owner: monitor helper). Targets: setup-browser, test-monitor,
# test-monitor-integration, test-monitor-browser, bench-monitor, monitor-run.
MON_PY ?= .venv/bin/python
MON_PYTEST ?= $(MON_PY) -m pytest

.PHONY: setup-browser test-monitor test-monitor-integration test-monitor-browser bench-monitor \
        monitor-run

# Headless Chromium from Debian for the dashboard's browser test (no browser
# download: Playwright drives /usr/bin/chromium). Idempotent.
setup-browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium present: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	else SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; fi


test-monitor: ## monitor unit tests (no Kafka)
	$(MON_PYTEST) -q tests/unit/monitor

test-monitor-integration: ## monitor on a real broker (includes the browser test)
	$(MON_PYTEST) -q tests/integration/monitor

test-monitor-browser: setup-browser
	$(MON_PYTEST) -q -m browser tests/integration/monitor

bench-monitor: ## -> bench/results/monitor.json
	$(MON_PY) -m bench.monitor

monitor-run: ## run the monitor against $$MLMESH_KAFKA_BOOTSTRAP (dashboard :18090)
	$(MON_PY) -m monitor
