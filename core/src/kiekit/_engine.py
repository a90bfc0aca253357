"""Everything the two clients do that is not I/O, written once as generators ("sans-I/O").

Each operation is a generator that yields what it needs done — an :class:`HttpRequest`, a
:class:`Fetch` of a result file, a :class:`Sleep`, a look at the clock (:class:`Now`) — and
receives the outcome. ``Client`` drives the generators with urllib3 and ``time.sleep``,
``AsyncClient`` with aiohttp and ``asyncio.sleep`` (see :mod:`kiekit.transport`). So polling,
deadlines, envelope checks and file naming exist once, and tests can drive them with no sockets.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable, Generator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from attrs import field, frozen

from kiekit import wire
from kiekit.errors import (
    KieError,
    ProtocolError,
    TaskFailedError,
    ValidationError,
    WaitTimeoutError,
    api_error,
    http_error,
)
from kiekit.fields import Input
from kiekit.models import Asset, Request, Results, State, Task, TaskStatus
from kiekit.polling import PollPolicy
from kiekit.registry import Registry

T = TypeVar("T")


@frozen
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)  # carries the API key: never printed
    body: bytes | None = None
    task_id: str | None = None


@frozen
class HttpResponse:
    status: int
    body: bytes
    reason: str = ""


@frozen
class Fetch:
    """Stream ``url`` into ``destination`` (atomically); the outcome is the final path."""

    url: str
    destination: Path
    task_id: str | None = None


@frozen
class Sleep:
    seconds: float


@frozen
class Now:
    """Ask the driver for its monotonic clock."""


Op = HttpRequest | Fetch | Sleep | Now
Flow = Generator[Op, Any, T]

StatusHook = Callable[[TaskStatus], None]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


class Engine:
    """The shared logic of a client session: its key, base URL, registry and poll policy."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        registry: Registry,
        poll: PollPolicy,
        user_agent: str,
    ) -> None:
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self.base_url = base_url.rstrip("/")
        self.registry = registry
        self.poll = poll

    # -- one call ---------------------------------------------------------------------------

    def call(self, request: Request, *, task_id: str | None = None) -> Flow[Any]:
        """Send one KIE call; return the envelope's ``data`` or raise the body code's error."""
        url = self.base_url + request.path
        if request.query:
            url += "?" + urlencode(request.query)
        try:  # strict JSON: NaN or infinity would reach KIE as invalid JSON
            body = None if request.body is None else json.dumps(request.body, allow_nan=False)
        except ValueError as exc:
            raise ValidationError("input", f"holds a value JSON cannot carry: {exc}") from exc
        response: HttpResponse = yield HttpRequest(
            request.method,
            url,
            self._headers,
            None if body is None else body.encode(),
            task_id=task_id,
        )
        if response.status != 200:
            raise http_error(response.status, response.reason, task_id=task_id)
        try:
            payload = json.loads(response.body)
        except ValueError as exc:
            raise ProtocolError(
                f"answer to {request.method} {request.path} is not JSON",
                task_id=task_id,
                payload=response.body[:200],
            ) from exc
        envelope = wire.read_envelope(payload)
        if envelope.code != 200:  # HTTP 200 with an error code in the body (kie-api.md §1)
            raise api_error(envelope.code, envelope.msg, task_id=task_id, data=envelope.data)
        return envelope.data

    # -- the task lifecycle -----------------------------------------------------------------

    def prepare(
        self, model: str, params: Input | Mapping[str, Any] | None, fields: Mapping[str, Any]
    ) -> Input:
        """Validate input before any I/O: a ValidationError names the field."""
        return self.registry.provider(model).make_input(model, params, **fields)

    def submit(self, model: str, params: Input, *, callback_url: str | None = None) -> Flow[Task]:
        provider = self.registry.provider(model)
        request = provider.build_request(model, params, callback_url=callback_url)
        data = yield from self.call(request)
        return Task(id=provider.parse_created(data), model=model)

    def status(self, task: Task) -> Flow[TaskStatus]:
        provider = self.registry.provider(task.model)
        data = yield from self.call(provider.status_request(task.id), task_id=task.id)
        if data is None:  # some record-info endpoints answer an unknown id with data null (§2.2)
            raise ProtocolError("KIE has no record of this task", task_id=task.id)
        return provider.parse_status(task.id, data)

    def wait(
        self,
        task: Task,
        *,
        policy: PollPolicy | None = None,
        on_status: StatusHook | None = None,
    ) -> Flow[Results]:
        """Poll until the task finishes or the policy's deadline passes.

        A failed task raises TaskFailedError at once. Errors that a retry can cure (network
        faults, 429, 455, 5xx) do not end the wait: a status poll creates nothing and costs
        nothing, so it is tried again on the same schedule until the deadline.
        """
        policy = policy or self.poll
        provider = self.registry.provider(task.model)
        started: float = yield Now()
        last: TaskStatus | None = None
        while True:
            try:
                last = yield from self.status(task)
            except KieError as exc:
                if not exc.retryable:
                    raise
            else:
                if on_status is not None:
                    on_status(last)
                if last.state is State.SUCCEEDED:
                    return provider.extract_results(task.id, last.raw)
                if last.state is State.FAILED:
                    raise TaskFailedError(task.id, last.fail_code, last.fail_message)
            now: float = yield Now()
            elapsed = now - started
            remaining = policy.timeout - elapsed
            if remaining <= 0:
                raise WaitTimeoutError(task.id, elapsed, last.state.value if last else None)
            yield Sleep(min(policy.interval(elapsed), remaining))

    def download(self, results: Results, out_dir: Path) -> Flow[list[Path]]:
        """Fetch every result file into ``out_dir``; names come from the task id, never from
        the URL's path, so no URL can write outside the folder."""
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, item in enumerate(results.assets):
            destination = out_dir / file_name(results.task_id, index, item)
            path: Path = yield Fetch(item.url, destination, task_id=results.task_id)
            paths.append(path)
        return paths


def file_name(task_id: str, index: int, item: Asset) -> str:
    """``<task id>-<index>[-<label>]<ext>``, safe on every file system."""
    stem = _SAFE.sub("_", task_id).strip("._") or "task"
    if item.label:
        stem += "-" + (_SAFE.sub("_", item.label).strip("._") or "file")
    suffix = PurePosixPath(urlsplit(item.url).path).suffix
    if not _EXTENSION.match(suffix):
        guessed = mimetypes.guess_extension(item.media_type) if item.media_type else None
        suffix = guessed or ".bin"
    return f"{stem}-{index}{suffix.lower()}"
