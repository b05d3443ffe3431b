"""The live page in a real headless Chromium: it loads, shows numbers that
change as events flow, and a screenshot is taken (copied over
bench/results/dashboard.png only with MLMESH_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import random
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from monitor import synthetic as sy

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.browser


def _feed(bootstrap: str, topic: str, stop: threading.Event) -> None:
    rng = random.Random(9)
    prod = sy.producer(bootstrap)
    i = 0
    while not stop.is_set():
        batch = [sy.prediction(f"w{i + k}", f"u{k % 30}", latency_ms=rng.uniform(2, 60),
                               score=rng.random(), features=sy.features_for(rng),
                               route="canary" if k % 5 == 0 else "primary",
                               model_version="v2" if k % 5 == 0 else "v1")
                 for k in range(100)]
        sy.produce(prod, topic, batch)
        i += 100
        stop.wait(0.4)


def test_dashboard_shows_live_numbers(monitor_factory: Any, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium missing: run `make setup-browser` "
                    "(apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    mon = monitor_factory(env={"MLMESH_MONITOR_WINDOW_S": "5",
                               "MLMESH_MONITOR_REFERENCE_MIN_COUNT": "100"})
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(mon.bootstrap, mon.prefix + "predictions", stop),
                              daemon=True)
    feeder.start()
    requests: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM),
                headless=True, args=FLAGS, viewport={"width": 1400, "height": 1000})
            try:
                page = ctx.new_page()
                page.on("request", lambda r: requests.append(r.url))
                page.goto(mon.url + "/", wait_until="load")
                assert page.title() == "mlmesh monitor"
                page.wait_for_function(
                    "() => { const e = document.getElementById('kpi-processed');"
                    " return e && e.textContent !== '-' && e.textContent !== '0'; }",
                    timeout=30_000)
                first = page.text_content("#kpi-processed")
                page.wait_for_function(
                    "(v) => document.getElementById('kpi-processed').textContent !== v",
                    arg=first, timeout=30_000)
                second = page.text_content("#kpi-processed")
                assert first != second
                p95 = page.text_content("#kpi-p95") or "-"
                assert p95 != "-" and float(p95) > 0
                latency_rows = page.locator("#latency tbody tr").count()
                assert latency_rows == 2  # v1 and v2
                page.wait_for_selector("#rollout tbody tr", timeout=10_000)
                assert "canary" in (page.text_content("#rollout") or "")
                assert "live" in (page.text_content("#status") or "")
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                if os.environ.get("MLMESH_UPDATE_SCREENSHOTS") == "1":  # on purpose only:
                    results = REPO / "bench" / "results"  # a test run leaves tracked files be
                    results.mkdir(parents=True, exist_ok=True)
                    shutil.copy(shot, results / "dashboard.png")
            finally:
                ctx.close()
    finally:
        stop.set()
        feeder.join(10)
    # no request left the monitor (no CDN, no network)
    assert requests and all(u.startswith(mon.url) for u in requests), requests
