"""The mock's OpenAPI 3.1 document: every route it serves, KIE's and its own.

Served at `GET /openapi.json` (no auth) and written by `python -m kiekit_mock openapi --out F`.
The document lives in this package rather than in fragments beside each family: the families
belong to different people and change at once, while the envelope, the security and the §7 error
codes must be said once for all of them; the family modules stay the one place that *checks*
input, and the `*_paths` modules import their enums and limits so the two cannot drift apart. A test
compares the document with the routes registered on the app, so a new route fails the suite
until it is described here.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

from aiohttp import web

from ..config import MockConfig
from ..route_helpers import origin_of
from ..runtime import RUNTIME
from . import chat_paths, control_paths, kie_paths, market_paths, suno_paths, upload_paths
from .operation import kie_error
from .schema import ERROR_CODES


def _version() -> str:
    try:
        return metadata.version("kiekit-mock")
    except metadata.PackageNotFoundError:  # run from a source tree
        return "0.0.0"


ROUTES = web.RouteTableDef()
# app._not_loopback and app.cross_site: the control API's DNS-rebinding and CSRF defences
HOST_REFUSED = {
    "description": "a Host header that does not name loopback (DNS rebinding defence), or a"
    " change sent by a web page of another origin (Origin, Sec-Fetch-Site: CSRF defence)",
    "content": {"application/json": {"schema": control_paths.CONTROL_ERROR}},
}
DOCUMENT_PATH = "/openapi.json"
VERSION = _version()


def build_document(
    config: MockConfig | None = None, server_url: str | None = None
) -> dict[str, Any]:
    """The document for a mock with `config` (its extra market models are listed too)."""
    from ..extension import installed_families

    config = config or MockConfig()
    paths: dict[str, dict[str, Any]] = {}
    extensions = installed_families()
    for part in (
        market_paths.paths(config),
        kie_paths.paths(),
        kie_paths.file_paths(),
        suno_paths.paths(),
        chat_paths.paths(),
        *(extension.openapi_paths() for extension in extensions),
        control_paths.paths(),
    ):
        for path, operations in part.items():
            paths.setdefault(path, {}).update(operations)
    for path, operations in paths.items():
        for method, operation in operations.items():
            operation["operationId"] = operation_id(method, path)
    links = kie_paths.STATUS_OF | suno_paths.STATUS_OF
    for extension in extensions:
        links |= extension.status_paths
    _link_creates_to_status(paths, links)
    for path, operations in paths.items():
        if path.startswith("/_mock/"):
            for operation in operations.values():
                operation["responses"]["403"] = HOST_REFUSED
    _public_unless_said(paths)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "kiekit-mock: the KIE AI API emulator",
            "version": VERSION,
            "description": (
                "KIE's routes as the mock emulates them (kie-api.md): every answer to an /api/ "
                "call is HTTP 200 with a body `{code, msg, data}`; `code` 200 is success, any "
                f"other a failure (KIE's: {', '.join(map(str, ERROR_CODES))}; fault rules may "
                "inject any 4xx/5xx). Only an unknown route is "
                "a real HTTP 404. Each /api/ operation says so in `x-kie-envelope`, for tools "
                "that judge answers by their HTTP status. Control routes under /_mock/ steer "
                "the mock with real HTTP statuses; they are not KIE's."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "any non-empty key unless the mock was given a key list",
                }
            },
            "schemas": {"KieError": kie_error(), **market_paths.schemas(config)},
        },
    }
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    return document


def _public_unless_said(paths: dict[str, dict[str, Any]]) -> None:
    """An operation that asks no key (control routes, result files, this document) says so
    with an empty `security`, as linters (redocly's security-defined) expect."""
    for operations in paths.values():
        for operation in operations.values():
            operation.setdefault("security", [])


def operation_id(method: str, path: str) -> str:
    """`post /api/v1/jobs/createTask` -> `post_api_v1_jobs_createTask`."""
    return method + "_" + re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")


def _link_creates_to_status(paths: dict[str, dict[str, Any]], links: dict[str, str]) -> None:
    for create, status in links.items():
        response = paths[create]["post"]["responses"]["200"]
        response["links"] = {
            "status": {
                "operationId": operation_id("get", status),
                "parameters": {"taskId": "$response.body#/data/taskId"},
            }
        }


def build_upload_document(server_url: str | None = None) -> dict[str, Any]:
    """The upload host's own document (a server of its own, kie-api.md §1, §4)."""
    paths = upload_paths.paths()
    for path, operations in paths.items():
        for method, operation in operations.items():
            operation["operationId"] = operation_id(method, path)
    _public_unless_said(paths)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "kiekit-mock: KIE's upload host",
            "version": VERSION,
            "description": "The mock's stand-in for kieai.redpandaai.co: answers are HTTP 200 "
            "with `{success, code, msg, data}`.",
        },
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    return document


@ROUTES.get(DOCUMENT_PATH)
async def document(request: web.Request) -> web.Response:
    config = request.app[RUNTIME].config
    return web.json_response(build_document(config, origin_of(request)))


__all__ = ["DOCUMENT_PATH", "ROUTES", "build_document", "build_upload_document"]
