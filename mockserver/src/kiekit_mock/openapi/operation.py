"""Operations in the shapes the mock answers: KIE's `{code, msg, data}` envelope at HTTP 200
(kie-api.md §1, §7), Bearer on /api/, and plain control/file routes."""

from __future__ import annotations

from typing import Any

from .schema import BEARER, ERROR_CODES, STRING, Schema, strict

ERROR_REF = "#/components/schemas/KieError"
NOT_FOUND = {
    "description": "no such route or file (a real HTTP 404)",
    "content": {"text/plain": {"schema": STRING}},
}


def kie_error(data: Schema | None = None) -> Schema:
    """A failure envelope: a §7 body code at HTTP 200; `data` null unless a route says so."""
    return strict(
        {
            # KIE's own codes are ERROR_CODES; a fault rule may answer any other 4xx/5xx
            "code": {
                "type": "integer",
                "minimum": 400,
                "maximum": 599,
                "examples": list(ERROR_CODES),
            },
            "msg": STRING,
            "data": data if data is not None else {"type": "null"},
        }
    )


def envelope(data: Schema, *, error: Schema | None = None) -> Schema:
    """Success (`code` 200 and the route's `data`) or a failure, told apart by `code`."""
    success = strict({"code": {"const": 200}, "msg": STRING, "data": data})
    failure: Schema = {"$ref": ERROR_REF} if error is None else kie_error(error)
    return {"oneOf": [success, failure]}


# KIE's conventions, on every /api/ operation, for tools that read HTTP statuses (kie-api.md §1,
# §7): the answer is always HTTP 200; success and failure are told by the body's `code` — 401 a
# missing or unknown key, 4xx (mostly 400/422) input KIE refuses, 402 no credits, 429 too many
# requests, 5xx KIE's own trouble. Our schemathesis checks read the body code for this reason
# (mockserver/tests/kie_schemathesis_checks.py).
KIE_ENVELOPE: dict[str, Any] = {
    "httpStatus": 200,
    "outcomeIn": "body.code",
    "success": 200,
    "unauthorized": 401,
    "invalidInput": "4xx",
    "serverTrouble": "5xx",
    "reference": "kie-api.md §1, §7",
}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def kie(
    summary: str,
    data: Schema,
    *,
    tag: str,
    body: Schema | None = None,
    query: dict[str, Schema] | None = None,
    error: Schema | None = None,
    section: str = "",
) -> dict[str, Any]:
    """An /api/ operation: Bearer, JSON body or query, the envelope at HTTP 200."""
    operation: dict[str, Any] = {
        "tags": [tag],
        "summary": summary,
        "security": BEARER,
        "x-kie-envelope": KIE_ENVELOPE,
        "responses": {
            "200": {
                "description": "KIE's envelope; a failure is a body code, never an HTTP status",
                "content": _json(envelope(data, error=error)),
            }
        },
    }
    if section:
        operation["description"] = f"kie-api.md {section}"
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    if query:
        operation["parameters"] = [
            {"name": name, "in": "query", "required": True, "schema": schema}
            for name, schema in query.items()
        ]
    return operation


def plain(
    summary: str,
    responses: dict[str, Any],
    *,
    tag: str,
    body: Schema | None = None,
    path_params: dict[str, Schema] | None = None,
    query: dict[str, Schema] | None = None,
    optional_query: bool = False,
) -> dict[str, Any]:
    """A route outside KIE's conventions (control routes, result files): no auth, real HTTP
    statuses."""
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "responses": responses}
    params = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in (path_params or {}).items()
    ]
    params += [
        {"name": name, "in": "query", "required": not optional_query, "schema": schema}
        for name, schema in (query or {}).items()
    ]
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    return operation


def json_response(schema: Schema, description: str = "JSON") -> dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def file_response(*media_types: str) -> dict[str, Any]:
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    return {"description": "the file", "content": {t: {"schema": binary} for t in media_types}}
