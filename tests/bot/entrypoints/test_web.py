"""The web app: /healthz, /metrics and routes registered by other parts, served over HTTP."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from bot.entrypoints.web import CheckResult, WebServer, create_web_app

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[WebServer] = []

    async def start(app: web.Application) -> str:
        server = WebServer("127.0.0.1", 0)
        await server.start(app)
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.stop()


def passing(detail: str) -> Callable[[], Awaitable[CheckResult]]:
    async def check() -> CheckResult:
        return CheckResult(True, detail)

    return check


async def failing() -> CheckResult:
    return CheckResult(False, "last tick 5 minutes ago")


async def broken() -> CheckResult:
    raise ConnectionError("database at 10.0.0.1 refused")


async def hanging() -> CheckResult:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def get_json(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_healthz_is_200_with_every_check_when_all_pass(serve: Serve) -> None:
    base = await serve(
        create_web_app(health={"store": passing("reachable"), "view": passing("ok")})
    )

    status, body = await get_json(base + "/healthz")

    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {
            "store": {"ok": True, "detail": "reachable"},
            "view": {"ok": True, "detail": "ok"},
        },
    }


async def test_healthz_is_503_naming_the_failing_part(serve: Serve) -> None:
    base = await serve(create_web_app(health={"store": passing("reachable"), "scheduler": failing}))

    status, body = await get_json(base + "/healthz")

    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"] == {
        "store": {"ok": True, "detail": "reachable"},
        "scheduler": {"ok": False, "detail": "last tick 5 minutes ago"},
    }


async def test_a_check_that_raises_fails_without_leaking_its_message(serve: Serve) -> None:
    base = await serve(create_web_app(health={"store": broken}))

    status, body = await get_json(base + "/healthz")

    assert status == 503
    assert body["checks"] == {"store": {"ok": False, "detail": "failed (ConnectionError)"}}


async def test_a_check_that_hangs_fails_after_the_time_limit(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.entrypoints.web.CHECK_TIMEOUT_SECONDS", 0.01)
    base = await serve(create_web_app(health={"store": passing("reachable"), "view": hanging}))

    status, body = await get_json(base + "/healthz")

    assert status == 503
    assert body["checks"]["view"] == {"ok": False, "detail": "no answer within 0.01 s"}


async def test_the_app_registry_is_served_in_prometheus_text_format(serve: Serve) -> None:
    registry = CollectorRegistry()
    Counter("rr_commands_total", "Commands handled.", registry=registry).inc(12)
    lag = Gauge("rr_view_lag_seconds", "How far the view is behind.", registry=registry)

    async def refresh() -> None:  # what can only be read asynchronously, read at each scrape
        lag.set(0.25)

    app = create_web_app(health={}, metrics=registry, refresh_metrics=[refresh])
    base = await serve(app)

    status, content_type, text = await get(base + "/metrics")

    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    assert (
        "# HELP rr_commands_total Commands handled.\n"
        "# TYPE rr_commands_total counter\n"
        "rr_commands_total 12.0\n"
    ) in text
    assert (
        "# HELP rr_view_lag_seconds How far the view is behind.\n"
        "# TYPE rr_view_lag_seconds gauge\n"
        "rr_view_lag_seconds 0.25\n"
    ) in text


async def test_two_apps_keep_their_metrics_apart(serve: Serve) -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    Counter("rr_commands_total", "Commands handled.", registry=first).inc(1)
    Counter("rr_commands_total", "Commands handled.", registry=second).inc(2)

    _, _, first_text = await get(await serve(create_web_app(health={}, metrics=first)) + "/metrics")
    _, _, second_text = await get(
        await serve(create_web_app(health={}, metrics=second)) + "/metrics"
    )

    assert "rr_commands_total 1.0\n" in first_text
    assert "rr_commands_total 2.0\n" in second_text


async def test_other_parts_register_their_routes(serve: Serve) -> None:
    async def webhook(request: web.Request) -> web.Response:
        return web.json_response({"received": len(await request.read())})

    def register(app: web.Application) -> None:
        app.router.add_post("/stripe/webhook", webhook)

    base = await serve(create_web_app(health={}, routes=[register]))

    async with (
        aiohttp.ClientSession() as session,
        session.post(base + "/stripe/webhook", data=b"12345") as response,
    ):
        assert response.status == 200
        assert await response.json() == {"received": 5}


def test_the_port_is_known_before_the_server_starts() -> None:
    server = WebServer("127.0.0.1", 0)
    try:
        assert server.port > 0
    finally:
        asyncio.run(server.stop())


async def test_samples_of_one_name_share_their_header_and_differ_by_labels(serve: Serve) -> None:
    registry = CollectorRegistry()
    actions = Counter("rr_actions_total", "Actions.", ["kind"], registry=registry)
    actions.labels("launch").inc(3)
    actions.labels('say "hi"\n').inc()

    base = await serve(create_web_app(health={}, metrics=registry))

    _, _, text = await get(base + "/metrics")

    assert (
        "# HELP rr_actions_total Actions.\n"
        "# TYPE rr_actions_total counter\n"
        'rr_actions_total{kind="launch"} 3.0\n'
        'rr_actions_total{kind="say \\"hi\\"\\n"} 1.0\n'
    ) in text
