"""The bot's web app (aiohttp): health, metrics, and whatever routes other parts register.

`create_web_app` takes health checks, metric sources and route registrars, so this module knows
nothing of payments or of how each part measures itself:

- ``GET /healthz``: every check, run concurrently with a time limit, as JSON; 200 when all
  pass, 503 when any fails.
- ``GET /metrics``: the samples of every source in Prometheus' text format (version 0.0.4).
- a route registrar is ``register(app)``, called once before the app starts (payments add
  ``POST /stripe/webhook`` and the sandbox checkout this way).
"""

import asyncio
import logging
import math
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

log = logging.getLogger("rr.web")

CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    """One part's health; ``detail`` is a short plain phrase (no secrets: the page is public)."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class Sample:
    """One metric value. Names follow Prometheus conventions (``rr_…``, counters end ``_total``);
    samples of one name share its ``kind`` and ``help`` and differ by ``labels``."""

    name: str
    kind: Literal["counter", "gauge"]
    help: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


HealthCheck = Callable[[], Awaitable[CheckResult]]
MetricsSource = Callable[[], Awaitable[Iterable[Sample]]]
RouteRegistrar = Callable[[web.Application], None]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def create_web_app(
    *,
    health: Mapping[str, HealthCheck],
    metrics: Sequence[MetricsSource] = (),
    routes: Sequence[RouteRegistrar] = (),
) -> web.Application:
    app = web.Application()

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
        samples = [sample for source in metrics for sample in await source()]
        return web.Response(
            body=render_prometheus(samples).encode(),
            headers={"Content-Type": PROMETHEUS_CONTENT_TYPE},
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


def render_prometheus(samples: Iterable[Sample]) -> str:
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, []).append(sample)
    lines = []
    for name, group in by_name.items():
        lines.append(f"# HELP {name} {_escape(group[0].help)}")
        lines.append(f"# TYPE {name} {group[0].kind}")
        lines.extend(f"{name}{_labels(sample.labels)} {_number(sample.value)}" for sample in group)
    return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    pairs = ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels.items())
    return "{" + pairs + "}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return _escape(text).replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


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
        self._socket.close()
