"""KIE's response envelope: always HTTP 200, success or failure told by the body code.

kie-api.md §1: `{"code": <int>, "msg": <str>, "data": <any>}`; "The HTTP status is 200 even when
the request fails". Only an unknown route answers a real HTTP 404 (§1, APIFOX).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class ErrorAnswer(Exception):
    """A failure KIE reports in the body: raised by handlers, shaped by the app's middleware into
    the envelope ``{"code": code, "msg": msg, "data": null}``. (Not kiekit's ``KieError``, which
    is what a client raises on reading such an answer: the mock imports nothing from kiekit.)"""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


# The old name, kept only while families/market_models/ (being edited elsewhere) imports it;
# everything else raises ErrorAnswer. Third parties have extension.KieError (deprecated).
KieError = ErrorAnswer


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once, not per call


def dumps(value: Any) -> str:
    """Compact JSON, as KIE sends it."""
    return _ENCODER.encode(value)


# The envelope an answer carries, kept on the response so the journal need not parse it back.
ENVELOPE: web.ResponseKey[dict[str, Any]] = web.ResponseKey("kiekit_mock.envelope", dict)


def envelope(code: int, msg: str, data: Any) -> web.Response:
    payload = {"code": code, "msg": msg, "data": data}
    # the same bytes and Content-Type as web.json_response, through the one shared encoder
    body = dumps(payload).encode()
    response = web.Response(body=body, content_type="application/json", charset="utf-8")
    response[ENVELOPE] = payload
    return response


def ok(data: Any) -> web.Response:
    return envelope(200, "success", data)


def error(code: int, msg: str) -> web.Response:
    return envelope(code, msg, None)
