"""A moto server on a free loopback port, shared by every test that talks AWS through boto3.

Tests reach it over real HTTP (boto3's signing, serialisation, retries and error parsing), never
through in-process patching.

moto's backends are not thread-safe: concurrent requests can lose conditional writes (two
``PutItem``s both pass ``attribute_not_exists``) and a cancelled transaction restores a table
snapshot over another request's write. Real AWS is atomic per request, so the server handles one
request at a time.
"""

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


class _OneRequestAtATime:
    """WSGI middleware that serialises requests, as AWS's per-request atomicity needs."""

    def __init__(self, app: DomainDispatcherApplication) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server serving every AWS service on loopback for the whole session."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        port = _free_port()
        app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        server = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.shutdown()
            thread.join()
