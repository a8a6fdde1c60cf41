"""The bot's web app (aiohttp): health, metrics, and whatever routes other parts register.

`create_web_app` takes health checks, a metrics registry and route registrars, so this module
knows nothing of payments or of how each part measures itself:

- ``GET /healthz``: every check, run concurrently with a time limit, as JSON; 200 when all
  pass, 503 when any fails.
- ``GET /metrics``: the app's own prometheus_client registry (never the process-wide one, so
  two apps in one process keep apart) in Prometheus' text format (version 0.0.4), after the
  refreshers have read what can only be read asynchronously (the view's figures).
- a route registrar is ``register(app)``, called once before the app starts (payments add
  ``POST /stripe/webhook`` and the sandbox checkout this way).
"""

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from bot.routes import RouteRegistrar

log = logging.getLogger("rr.web")

CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    """One part's health; ``detail`` is a short plain phrase (no secrets: the page is public)."""

    ok: bool
    detail: str


HealthCheck = Callable[[], Awaitable[CheckResult]]
RefreshMetrics = Callable[[], Awaitable[None]]


def create_web_app(
    *,
    health: Mapping[str, HealthCheck],
    metrics: CollectorRegistry | None = None,
    refresh_metrics: Sequence[RefreshMetrics] = (),
    routes: Sequence[RouteRegistrar] = (),
) -> web.Application:
    app = web.Application()
    registry = CollectorRegistry() if metrics is None else metrics

    async def healthz(_: web.Request) -> web.Response:
        names = list(health)
        results = await asyncio.gather(*(_run_check(name, health[name]) for name in names))
        healthy = all(result.ok for result in results)
        body = {
            "status": "ok" if healthy else "unhealthy",
            "checks": {
                name: {"ok": result.ok, "detail": result.detail}
                for name, result in zip(names, results, strict=True)
            },
        }
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        for refresh in refresh_metrics:
            await refresh()
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    for register in routes:
        register(app)
    return app


async def _run_check(name: str, check: HealthCheck) -> CheckResult:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await check()
    except TimeoutError:
        log.warning("health check timed out", extra={"check": name})
        return CheckResult(False, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as error:
        log.exception("health check failed", extra={"check": name})
        return CheckResult(False, f"failed ({type(error).__name__})")


class WebServer:
    """The web app listening on a socket bound up front, so the port is known before start."""

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, reuse_port=False)
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    async def start(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.close()

    def close(self) -> None:
        """Release the socket (a server that never started has nothing else to stop)."""
        self._socket.close()
