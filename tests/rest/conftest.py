"""The REST app in this process: built as a worker builds it, called as uvicorn calls it."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelserve.cli import build_parser, parse_serve_arguments, settings_from_args
from modelserve.model import build_model
from modelserve.workers.assembly import Assembly, assemble, rest_app
from tests.conftest import MODELS


class AppClient:
    """An HTTP client of the REST app of one model, without a socket (httpx's ASGI transport)."""

    def __init__(self, model: str, *flags: str, env: dict[str, str] | None = None):
        if str(MODELS) not in sys.path:
            sys.path.append(str(MODELS))  # where `modelserve serve` finds them: its working directory
        args = parse_serve_arguments(build_parser(), ["serve", model, *flags])
        settings = settings_from_args(args, environ=env or {})
        self.metrics_dir = tempfile.TemporaryDirectory(prefix="modelserve-test-metrics-")
        model = build_model(settings)
        self.assembly: Assembly = assemble(model, settings, self.metrics_dir.name, settings.user_threads)
        self.app = rest_app(self.assembly, settings)
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://modelserve.test")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
        self.assembly.plane.close()
        self.metrics_dir.cleanup()


@pytest.fixture
def app() -> Iterator[Any]:
    """app(model, *flags, env=...) -> an AppClient of that model's REST app, closed after the test."""
    made: list[AppClient] = []

    def make(model: str, *flags: str, env: dict[str, str] | None = None) -> AppClient:
        client = AppClient(model, *flags, env=env)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
