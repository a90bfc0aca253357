"""KIE's response envelope: always HTTP 200, success or failure told by the body code.

kie-api.md §1: `{"code": <int>, "msg": <str>, "data": <any>}`; "The HTTP status is 200 even when
the request fails". Only an unknown route answers a real HTTP 404 (§1, APIFOX).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .memory import OVERHEAD, PRERENDER_BYTES, under


class ErrorAnswer(Exception):
    """A failure KIE reports in the body: raised by handlers, shaped by the app's middleware into
    the envelope ``{"code": code, "msg": msg, "data": null}``. (Not kiekit's ``KieError``, which
    is what a client raises on reading such an answer: the mock imports nothing from kiekit.)"""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once, not per call


def dumps(value: Any) -> str:
    """Compact JSON, as KIE sends it."""
    return _ENCODER.encode(value)


def loads(raw: bytes | str, *, parse_float: Callable[[str], Any] | None = None) -> Any:
    """A request body's JSON, read as a strict JSON service reads it: ``NaN`` and ``Infinity``
    are not JSON (echoed into a record they would break every other client's parser), and
    nesting too deep for Python's parser is malformed JSON, not a crash. An escaped lone
    surrogate (``"\\udce9"``: valid JSON, yet no character) is read as U+FFFD, as a service
    that keeps text in UTF-8 stores it: kept as it was, it broke each later encoding of the
    request (the task's record, a chat answer's echo: HTTP 500). Raises ValueError."""
    try:
        value = json.loads(raw, parse_constant=_not_json, parse_float=parse_float)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if isinstance(raw, str):
        escaped = _SURROGATE.search(raw) is not None
    else:
        escaped = _SURROGATE_BYTES.search(raw) is not None
    return _text_only(value) if escaped else value


# The escape of a surrogate, \uD800–\uDFFF, paired or not (a pair is one character once read:
# a body holding one is walked for nothing, rarely)
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def _text_only(value: Any) -> Any:
    """``value`` with each lone surrogate of its strings (keys too) made U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, dict):
        return {_text_only(key): _text_only(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_text_only(item) for item in value]
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


# The envelope an answer carries, kept on the response so the journal need not parse it back.
ENVELOPE: web.ResponseKey[dict[str, Any]] = web.ResponseKey("kiekit_mock.envelope", dict)


@dataclass(frozen=True, slots=True)
class Rendered:
    """An envelope and its bytes, encoded once: what an answer that never changes is sent as."""

    payload: dict[str, Any]
    body: bytes

    @classmethod
    def of(cls, code: int, msg: str, data: Any) -> Rendered:
        payload = {"code": code, "msg": msg, "data": data}
        return cls(payload, dumps(payload).encode())

    def response(self) -> web.Response:
        # the same bytes and Content-Type as web.json_response, through the one shared encoder
        response = web.Response(body=self.body, content_type="application/json", charset="utf-8")
        response[ENVELOPE] = self.payload
        return response


class Prerendered:
    """Answers rendered once and sent again as they are: a finished task's status record never
    changes (its state, times and files are fixed), yet clients poll it again and again.
    Keyed by what the answer depends on; emptied with the tasks (Runtime.reset). A plain dict:
    one get and one set are each atomic, and a race at worst renders an answer twice. Past
    ``limit`` answers (the task store's limit) the oldest tenth goes, so memory stays bounded."""

    def __init__(
        self,
        limit: int | None = None,
        *,
        byte_limit: int | None = None,
        largest: int = PRERENDER_BYTES,
    ) -> None:
        self._answers: dict[Hashable, Rendered] = {}
        self._limit = limit
        # MockConfig.memory_limit's share for these answers (memory.py), and the largest one
        # cached: a larger one (a 1 MB param echoed) is rendered at each poll instead
        self._byte_limit = byte_limit
        self._largest = largest
        self._bytes = 0

    def ok(self, key: Hashable, data: Callable[[], Any]) -> web.Response:
        """``ok(data())``, rendered on the first call for ``key`` only (if it is cached)."""
        rendered = self._answers.get(key)
        if rendered is None:
            rendered = Rendered.of(200, "success", data())
            if len(rendered.body) > self._largest:
                return rendered.response()
            self._answers[key] = rendered
            self._bytes += len(rendered.body) + OVERHEAD
            if self._limit is not None and len(self._answers) > self._limit:
                self._forget_oldest(len(self._answers) - self._limit + self._limit // 10)
            byte_limit = self._byte_limit
            if byte_limit is not None and self._bytes > byte_limit:
                self._forget_bytes(self._bytes - under(byte_limit))
        return rendered.response()

    def _forget_oldest(self, count: int) -> None:
        """Let the ``count`` oldest answers go (a dict keeps insertion order); another thread's
        concurrent change at worst makes this forget fewer, or render an answer again."""
        try:
            for key in list(itertools.islice(self._answers, count)):
                self._let_go(key)
        except RuntimeError:  # changed while being read: the next answer past the limit retries
            pass

    def _forget_bytes(self, excess: int) -> None:
        """Let the oldest answers go until ``excess`` bytes are (as _forget_oldest)."""
        try:
            for key in list(self._answers):
                if excess <= 0:
                    return
                excess -= self._let_go(key)
        except RuntimeError:
            pass

    def _let_go(self, key: Hashable) -> int:
        rendered = self._answers.pop(key, None)
        if rendered is None:
            return 0
        size = len(rendered.body) + OVERHEAD
        self._bytes -= size
        return size

    @property
    def held_bytes(self) -> int:
        """Bytes the cached answers hold, as MockConfig.memory_limit counts them."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._answers)

    def clear(self) -> None:
        self._answers.clear()
        self._bytes = 0


def envelope(code: int, msg: str, data: Any) -> web.Response:
    return Rendered.of(code, msg, data).response()


def ok(data: Any) -> web.Response:
    """KIE's envelope of a success: code 200, msg "success", ``data``."""
    return envelope(200, "success", data)


def error(code: int, msg: str) -> web.Response:
    return envelope(code, msg, None)
