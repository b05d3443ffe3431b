"""The live page and its JSON API (aiohttp, on the faust event loop).

GET /               dashboard (static HTML, no external resources)
GET /app.js         its script (polls /api/summary every 1.5 s)
GET /api/summary    everything the page shows (``?headline=1``: headline only)
GET /api/alerts     firing alerts + the recent transitions
GET /healthz        200 once tables are recovered and a summary exists (role
                    "active"; a standby replica answers role "standby": monitor.lease)
GET /readyz         the same on the active replica; 503 on a standby (Kubernetes'
                    readiness: the Service sends the dashboard's traffic to the active one)
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from monitor.state import Runtime

STATIC = resources.files("monitor") / "static"


def make_app(runtime: Runtime) -> web.Application:
    async def index(_req: web.Request) -> web.Response:
        return web.Response(text=(STATIC / "index.html").read_text(), content_type="text/html")

    async def script(_req: web.Request) -> web.Response:
        return web.Response(text=(STATIC / "app.js").read_text(),
                            content_type="application/javascript")

    async def summary(req: web.Request) -> web.Response:
        data = runtime.summary or {"ready": False}
        if req.query.get("headline"):
            data = {"ready": data.get("ready", False), "headline": data.get("headline", {}),
                    "generated_at": data.get("generated_at")}
        return web.json_response(data, headers={"Cache-Control": "no-store"})

    async def alerts(_req: web.Request) -> web.Response:
        data = runtime.summary or {}
        return web.json_response({"firing": data.get("alerts", []),
                                  "recent": list(runtime.recent_alerts[-200:])})

    async def healthz(_req: web.Request) -> web.Response:
        ok = bool(runtime.summary.get("ready"))
        return web.json_response({"ok": ok, "role": "active"}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/app.js", script)
    app.router.add_get("/api/summary", summary)
    app.router.add_get("/api/alerts", alerts)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", healthz)  # a standby's /readyz is 503: no traffic
    return app


async def start(runtime: Runtime, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(make_app(runtime), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
