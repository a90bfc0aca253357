"""Callbacks as KIE sends them: the signature (kie-api.md §6.3) and every family's shape
(§6.2), framework-free. The package's docstring (:mod:`kiekit.webhooks`) says why they look so."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from kiekit.errors import KieError, ProtocolError
from kiekit.provider import Provider  # at run time too: typing.get_type_hints reads it

log = logging.getLogger("kiekit.webhooks")

__all__ = [
    "ACK",
    "DEFAULT_MAX_AGE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Callback",
    "CallbackError",
    "SignatureError",
    "digest",
    "parse_callback",
    "sign",
    "verify_signature",
]

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
ACK = {"code": 200, "msg": "success"}  # what KIE expects back (kie-api.md §2.3, WAN30)
DEFAULT_MAX_AGE = 300.0  # seconds; KIE names no window (§6.3 [INF: e.g. 5 min])
_MAX_TASK_ID = 256
# Suno's stages that announce progress; "complete" and "error" announce the end, and every
# other family calls back once, at the end, on success and on failure (§3.6, §6.1)
_PROGRESS_STAGES = frozenset({"text", "first"})


class CallbackError(ProtocolError):
    """A callback kiekit cannot accept: not JSON, not an object, no task id."""


class SignatureError(CallbackError):
    """A callback whose signature is missing, malformed, stale, wrong or replayed."""


@frozen
class Callback:
    """One callback, as read from any family's shape. Nothing in it is confirmed: ask KIE."""

    task_id: str
    code: int | None  # the envelope's code: 200 success, else KIE's failure code (§6.2, §7)
    message: str | None
    stage: str | None = None  # Suno's callbackType: "text", "first", "complete", "error"
    state: str | None = None  # the market record's state, when the body carries one
    model: str | None = None  # the market record's model, when the body carries one
    payload: Any = field(default=None, eq=False, repr=False)

    @property
    def announces_end(self) -> bool:
        """Whether the callback says the task has ended (every family's only callback, Suno's
        "complete" and "error", any failure code), not a stage on the way (§3.6, §6.1)."""
        failed = self.code is not None and self.code != 200
        return failed or self.stage not in _PROGRESS_STAGES


def sign(key: str, task_id: str, timestamp: int | str) -> str:
    """KIE's signature for a task id and a Unix-seconds timestamp (§6.3)."""
    message = f"{task_id}.{timestamp}".encode()
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def verify_signature(
    key: str,
    task_id: str,
    timestamp: str | None,
    signature: str | None,
    *,
    now: float | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> None:
    """Raise SignatureError unless ``signature`` is KIE's for ``task_id`` and ``timestamp`` and
    the timestamp is within ``max_age`` seconds of ``now``. Framework-free: pass the header
    values as received. The comparison takes constant time."""
    if not key:
        raise SignatureError("no webhook HMAC key configured", task_id=task_id)
    if timestamp is None or signature is None:
        raise SignatureError(
            f"unsigned callback: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required",
            task_id=task_id,
        )
    stamp = timestamp.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not Unix seconds", task_id=task_id)
    current = time.time() if now is None else now
    if not math.isfinite(current) or abs(current - int(stamp)) > max_age:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is more than {max_age:g} s from now (a replay?)", task_id=task_id
        )
    try:
        given = base64.b64decode(signature.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise SignatureError(f"{SIGNATURE_HEADER} is not base64", task_id=task_id) from None
    expected = hmac.new(key.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise SignatureError("the callback's signature does not match", task_id=task_id)


def parse_callback(
    body: bytes | str | Mapping[str, Any], *, providers: Iterable[Provider] = ()
) -> Callback:
    """Read a callback body of any family (§6.2): the bytes or text KIE POSTed, or that JSON
    already parsed into a dict; CallbackError when it is not one. A family whose callbacks
    carry the task id elsewhere than kiekit looks is read by its provider, given in
    ``providers`` (:meth:`~kiekit.provider.Provider.callback_task_id`)."""
    if isinstance(body, Mapping):
        payload: Any = dict(body)
    elif isinstance(body, (bytes, bytearray, str)):
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise CallbackError("callback body is not JSON") from None
    else:
        raise TypeError(
            "parse_callback takes the body as bytes or str (as received), or a dict of its "
            f"JSON, not {type(body).__name__}"
        )
    if not isinstance(payload, dict):
        raise CallbackError("callback body is not a JSON object", payload=_clip(payload))
    data = payload.get("data")
    inner = data if isinstance(data, dict) else {}
    task_id = _task_id(payload, inner, tuple(providers))
    code = _code(payload.get("code"))
    message = payload.get("msg", payload.get("message"))
    stage = inner.get("callbackType")
    state = inner.get("state")
    model = inner.get("model")
    return Callback(
        task_id=task_id,
        code=code,
        message=message if isinstance(message, str) else None,
        stage=stage if isinstance(stage, str) else None,
        state=state if isinstance(state, str) else None,
        model=model if isinstance(model, str) and model else None,
        payload=payload,
    )


def _code(value: Any) -> int | None:
    """The envelope's code: a JSON number, or the same number as text (``"200"``). §6.2's
    shapes and §7 show numbers, but no source pins the type, and KIE's envelopes elsewhere
    mix types (``param`` and ``resultJson`` are JSON strings, §2): be liberal (DESIGN.md)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 6:
            return int(text)
    return None


# Where KIE puts the task id, most common first (§6.2, §6.3: "verifiers should try
# data.taskId, data.task_id, top-level taskId/task_id"), as said in CallbackError messages
_PLACES = ("data.taskId", "data.task_id", "taskId", "task_id")


def _task_id(
    payload: Mapping[str, Any], data: Mapping[str, Any], providers: tuple[Provider, ...] = ()
) -> str:
    # Every documented location, most common first (§6.2, §6.3; APICITY webhook.ts). KIE signs
    # one id (§6.3): a body naming two different ones is refused, so that the id verified, the
    # id confirmed with KIE and the id the application reads are one.
    found: dict[str, str] = {}
    for prefix, where in (("data.", data), ("", payload)):
        for name in ("taskId", "task_id"):
            value = where.get(name)
            if isinstance(value, str) and value.strip():
                found[prefix + name] = value
            elif value is not None and not isinstance(value, str):
                # KIE's task ids are text (hex strings in every §6.2 shape); a number there is
                # no id KIE signed (the signature is over the text, §6.3): said, not guessed at
                raise CallbackError(
                    f"callback task id at {prefix + name} is not a string: "
                    f"{_clip(value, 60)} ({type(value).__name__})"
                )
    for provider in providers if not found else ():  # a family's own place (§6.2 lists ours)
        value = _asked(provider, payload)
        if isinstance(value, str) and value.strip():
            found[f"{provider.name}.callback_task_id"] = value
            break
    if not found:
        raise CallbackError(
            f"callback carries no task id ({', '.join(_PLACES)}"
            + (", nor where its providers look)" if providers else ")")
        )
    task_id = next(iter(found.values()))
    if len(task_id) > _MAX_TASK_ID or not task_id.isprintable():
        raise CallbackError("callback task id is not a task id")
    others = {place: value for place, value in found.items() if value != task_id}
    if others:
        first = next(iter(found))
        place, other = next(iter(others.items()))
        raise CallbackError(
            f"callback names two task ids ({first} {_clip(task_id, 60)}, {place} "
            f"{_clip(other, 60)}): which one KIE signed cannot be told"
        )
    return task_id


_WARNED: set[tuple[type[Any], str]] = set()  # (provider class, error kind): said once each
_WARNED_LOCK = threading.Lock()


def _asked(provider: Provider, payload: Any) -> str | None:
    """``provider.callback_task_id(payload)``; a KieError it raises (CallbackError) passes.
    Anything else it raises — a ``KeyError`` on a body of another family — means "this
    provider cannot read this body": the next provider is asked (KIE does not resend a
    callback, §6.1: one plugin's bug must not lose another family's), and the plugin is named
    in a WARNING, once per plugin and kind of error."""
    try:
        return provider.callback_task_id(payload)
    except KieError:
        raise
    except Exception as exc:
        kind = (type(provider), type(exc).__name__)
        with _WARNED_LOCK:
            first = kind not in _WARNED
            _WARNED.add(kind)
        if first:
            log.warning(
                "provider %s.%s (%s).callback_task_id raised %s on a callback body: it must "
                "return None for a body it cannot read (taken as that; said once)",
                type(provider).__module__,
                type(provider).__name__,
                provider.name,
                type(exc).__name__,
            )
        return None


def _clip(value: Any, size: int = 200) -> str:
    return repr(value)[:size]


def digest(callback: Callback, body: bytes) -> bytes:
    """The body, as KIE meant it (key order and spacing aside)."""
    try:
        canonical = json.dumps(callback.payload, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    return hashlib.sha256(canonical).digest()
