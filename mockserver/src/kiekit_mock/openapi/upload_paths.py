"""The upload host (kie-api.md §1, §4; uploads_http.py): a server of its own, so a document of its
own. Its envelope adds `success`; a wrong method on an upload path is its own 405 in that
envelope; stored files are public at their `filePath`."""

from __future__ import annotations

from typing import Any

from .operation import plain
from .schema import BEARER, INT, STRING, Schema, obj, required_text, strict, text, url

CODES = (400, 401, 405, 500)
FILE = strict(
    {
        "success": {"const": True},  # inside data too, as recorded answers carry it (#13)
        "fileName": STRING,
        "filePath": STRING,
        "downloadUrl": STRING,
        "fileSize": INT,
        "mimeType": STRING,
        "uploadedAt": STRING,
    }
)
ANSWER: Schema = {
    "oneOf": [
        strict({"success": {"const": True}, "code": {"const": 200}, "msg": STRING, "data": FILE}),
        strict(
            {
                "success": {"const": False},
                "code": {"enum": list(CODES)},
                "msg": STRING,
                "data": {"type": "null"},
            }
        ),
    ]
}
UPLOAD_PATH = required_text()  # no leading or trailing slash (§4)


def _upload(summary: str, media_type: str, body: Schema) -> dict[str, Any]:
    return {
        "tags": ["upload"],
        "summary": summary,
        "description": "kie-api.md §4",
        "security": BEARER,
        "requestBody": {"required": True, "content": {media_type: {"schema": body}}},
        "responses": {
            "200": {
                "description": "the host's envelope; a failure is a body code",
                "content": {"application/json": {"schema": ANSWER}},
            }
        },
    }


def paths() -> dict[str, dict[str, Any]]:
    return {
        "/api/file-stream-upload": {
            "post": _upload(
                "Upload a file (multipart)",
                "multipart/form-data",
                obj(
                    {
                        "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                        "uploadPath": UPLOAD_PATH,
                        "fileName": text(),
                    },
                    ("file", "uploadPath"),
                ),
            )
        },
        "/api/file-url-upload": {
            "post": _upload(
                "Upload a file from a URL",
                "application/json",
                obj(
                    {"fileUrl": url(), "uploadPath": UPLOAD_PATH, "fileName": text()},
                    ("fileUrl", "uploadPath"),
                ),
            )
        },
        "/api/file-base64-upload": {
            "post": _upload(
                "Upload base64 data (raw or a data: URL)",
                "application/json",
                obj(
                    {
                        "base64Data": required_text(),
                        "uploadPath": UPLOAD_PATH,
                        "fileName": text(),
                        "mimeType": text(),
                    },
                    ("base64Data", "uploadPath"),
                ),
            )
        },
        "/kieai/{rest}": {
            "get": plain(
                "An uploaded file at its filePath (public)",
                {
                    "200": {"description": "the file", "content": {"*/*": {"schema": STRING}}},
                    "404": {
                        "description": "no such file, or expired",
                        "content": {"text/plain": {"schema": STRING}},
                    },
                },
                tag="upload",
                path_params={"rest": STRING},
            )
        },
    }
