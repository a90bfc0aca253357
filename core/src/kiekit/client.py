"""``Client`` (blocking, urllib3) and ``AsyncClient`` (asyncio, aiohttp).

Both are thin: every decision lives in :mod:`kiekit._engine` and is shared; a client only picks
the transport and how to sleep. The API key comes from the ``api_key`` argument or the
``KIE_API_KEY`` environment variable, and is never printed, logged or put in a repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import attrs

from kiekit._engine import Engine, StatusHook
from kiekit._version import __version__
from kiekit.errors import ConfigurationError
from kiekit.fields import Input
from kiekit.models import Request, Results, Task, TaskStatus
from kiekit.polling import PollPolicy
from kiekit.registry import Registry, default_registry
from kiekit.transport import (
    AiohttpTransport,
    AsyncTransport,
    SyncTransport,
    Urllib3Transport,
    drive,
    drive_async,
)

__all__ = ["DEFAULT_BASE_URL", "AsyncClient", "Client"]

DEFAULT_BASE_URL = "https://api.kie.ai"
API_KEY_ENV = "KIE_API_KEY"

InputLike = Input | Mapping[str, Any] | None


def _engine(
    api_key: str | None, base_url: str, registry: Registry | None, poll: PollPolicy | None
) -> Engine:
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not key or not key.strip():
        raise ConfigurationError(f"no KIE API key: pass api_key=... or set {API_KEY_ENV}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL, got {base_url!r}")
    return Engine(
        api_key=key.strip(),
        base_url=base_url,
        registry=registry or default_registry(),
        poll=poll or PollPolicy(),
        user_agent=f"kiekit/{__version__}",
    )


def _policy(engine: Engine, timeout: float | None) -> PollPolicy:
    return engine.poll if timeout is None else attrs.evolve(engine.poll, timeout=timeout)


class Client:
    """A blocking KIE client. Use it as a context manager, or call :meth:`close`.

    >>> with Client(base_url=mock.base_url) as kie:            # doctest: +SKIP
    ...     task = kie.submit("flux-kontext-pro", prompt="a lighthouse at dawn")
    ...     files = kie.download(kie.wait(task), "out")
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: SyncTransport | None = None,
        registry: Registry | None = None,
        poll: PollPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._engine = _engine(api_key, base_url, registry, poll)
        self._transport = transport or Urllib3Transport(timeout=timeout)

    def __repr__(self) -> str:
        return f"Client(base_url={self._engine.base_url!r})"

    def submit(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        callback_url: str | None = None,
        **fields: Any,
    ) -> Task:
        """Validate the input (before any I/O) and create the task; return its handle."""
        checked = self._engine.prepare(model, params, fields)
        return drive(
            self._engine.submit(model, checked, callback_url=callback_url), self._transport
        )

    def call(self, request: Request, *, task_id: str | None = None) -> Any:
        """Send one request a provider describes (an extra endpoint such as a fresh download
        link) and return KIE's ``data``; body codes other than 200 raise typed errors."""
        return drive(self._engine.call(request, task_id=task_id), self._transport)

    def status(self, task: Task) -> TaskStatus:
        return drive(self._engine.status(task), self._transport)

    def wait(
        self, task: Task, *, timeout: float | None = None, on_status: StatusHook | None = None
    ) -> Results:
        """Poll until the task succeeds (its results) or fails (TaskFailedError); give up
        with WaitTimeoutError after ``timeout`` seconds (default: the poll policy's)."""
        flow = self._engine.wait(task, policy=_policy(self._engine, timeout), on_status=on_status)
        return drive(flow, self._transport)

    def download(self, results: Results, out_dir: str | os.PathLike[str]) -> list[Path]:
        return drive(self._engine.download(results, Path(out_dir)), self._transport)

    def generate(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        out_dir: str | os.PathLike[str],
        timeout: float | None = None,
        **fields: Any,
    ) -> list[Path]:
        """Submit, wait and download in one call; returns the files written."""
        task = self.submit(model, params, **fields)
        return self.download(self.wait(task, timeout=timeout), out_dir)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of :class:`Client`, with the same methods as coroutines."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: AsyncTransport | SyncTransport | None = None,
        registry: Registry | None = None,
        poll: PollPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._engine = _engine(api_key, base_url, registry, poll)
        self._transport = transport or AiohttpTransport(timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self._engine.base_url!r})"

    async def submit(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        callback_url: str | None = None,
        **fields: Any,
    ) -> Task:
        checked = self._engine.prepare(model, params, fields)
        flow = self._engine.submit(model, checked, callback_url=callback_url)
        return await drive_async(flow, self._transport)

    async def call(self, request: Request, *, task_id: str | None = None) -> Any:
        return await drive_async(self._engine.call(request, task_id=task_id), self._transport)

    async def status(self, task: Task) -> TaskStatus:
        return await drive_async(self._engine.status(task), self._transport)

    async def wait(
        self, task: Task, *, timeout: float | None = None, on_status: StatusHook | None = None
    ) -> Results:
        flow = self._engine.wait(task, policy=_policy(self._engine, timeout), on_status=on_status)
        return await drive_async(flow, self._transport)

    async def download(self, results: Results, out_dir: str | os.PathLike[str]) -> list[Path]:
        return await drive_async(self._engine.download(results, Path(out_dir)), self._transport)

    async def generate(
        self,
        model: str,
        params: InputLike = None,
        /,
        *,
        out_dir: str | os.PathLike[str],
        timeout: float | None = None,
        **fields: Any,
    ) -> list[Path]:
        task = await self.submit(model, params, **fields)
        return await self.download(await self.wait(task, timeout=timeout), out_dir)

    async def close(self) -> None:
        result = self._transport.close()
        if result is not None:
            await result

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
