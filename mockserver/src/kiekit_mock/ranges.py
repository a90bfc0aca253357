"""Range requests on the files the mock serves: result files (``/files/…``), a replayed
recording's files and the upload host's, as the object stores KIE's links point at (S3, R2)
answer them.

KIE's pages say nothing of ranges (kie-api.md); the mock's links imitate presigned object-store
links (``X-Amz-*``, 403 ``AccessDenied`` XML, files.py), and those stores honour ``Range``, so a
client's resumable download or seek is tested here as it would run there (asked by a Node
tester, who got all 157286400 bytes of an upload for ``bytes=0-9``):

- every file answer says ``Accept-Ranges: bytes``;
- one range, ``bytes=A-B``, ``bytes=A-`` or ``bytes=-N`` (the last N bytes), answers 206 with
  ``Content-Range: bytes A-B/SIZE`` and those bytes (B past the end is the end, RFC 9110 §14.1.2);
- a range that starts at or past the end (``bytes=SIZE-``, ``bytes=-0``, any range of an
  empty file) answers 416 with ``Content-Range: bytes */SIZE`` and S3's ``InvalidRange`` XML;
- several ranges (``bytes=0-9,20-29``), another unit or a header that does not parse are
  ignored, as RFC 9110 lets a server ignore them: 200 with the whole file (S3 does the same
  with several ranges);
- ``If-Range`` answers the whole file: the mock gives no ``ETag`` or ``Last-Modified`` that
  such a validator could match.

HEAD answers the same status and headers, without the bytes. An expired or forged link is
refused before any of this (403, files.expiry), as a store refuses it.
"""

from __future__ import annotations

import re
import secrets

from aiohttp import web

_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII)


def ranged(request: web.Request, response: web.Response) -> web.Response:
    """``response`` (a whole file, 200) as ``request``'s Range header asks for it."""
    body = response.body
    if response.status != 200 or not isinstance(body, bytes | bytearray | memoryview):
        return response
    response.headers["Accept-Ranges"] = "bytes"
    asked = request.headers.get("Range")
    if asked is None or "If-Range" in request.headers:
        return response
    found = _RANGE.fullmatch(asked.strip().replace(" ", ""))
    if found is None or found[1] == found[2] == "":  # several, another unit, nonsense
        return response
    size = len(body)
    first, last = found[1], found[2]
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:  # bytes=9-0: not a range, ignored
            return response
    else:  # bytes=-N: the last N bytes
        start, end = max(size - int(last), 0), size - 1
        if int(last) == 0:
            start = size
    if start >= size:
        return _unsatisfiable(response, size)
    response.set_status(206)
    response.body = memoryview(body)[start : end + 1]
    response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _unsatisfiable(whole: web.Response, size: int) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable"
        f"</Message><ActualObjectSize>{size}</ActualObjectSize>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    answer = web.Response(status=416, text=body, content_type="application/xml")
    for name in ("Content-Security-Policy", "X-Content-Type-Options"):  # files.FILE_HEADERS
        if name in whole.headers:
            answer.headers[name] = whole.headers[name]
    answer.headers["Accept-Ranges"] = "bytes"
    answer.headers["Content-Range"] = f"bytes */{size}"
    return answer
