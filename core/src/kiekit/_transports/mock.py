"""``MockTransport``: answers from a Python function, in memory, for tests with no sockets;
it serves both clients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiekit._engine import Fetch, HttpRequest, HttpResponse, StreamUpload
from kiekit._transports.base import BufferedStream, ByteStream, lower, upload_chunks
from kiekit._transports.download import Download
from kiekit.errors import DownloadError, TransportError

Handler = Callable[[HttpRequest], HttpResponse]


class MockTransport:
    """Answers every request from ``handler``, in memory; file fetches are GETs through it too.

    Works with both clients. ``requests`` keeps every request sent, for assertions.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []

    def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return self._handler(request)

    def fetch(self, fetch: Fetch) -> Path:
        with Download(fetch) as download:
            try:
                response = self.send(HttpRequest("GET", fetch.url, {}, None, task_id=fetch.task_id))
            except TransportError as exc:
                if isinstance(exc, DownloadError):
                    raise
                raise download.error(f"download failed: {exc.message}") from exc
            download.begin(response.status, lower(response.headers.items()))
            download.write(response.body)
            return download.finish()

    def upload(self, upload: StreamUpload) -> HttpResponse:
        """The multipart body is assembled in memory here: this transport is for small tests."""
        body = b"".join(upload_chunks(upload))
        return self.send(HttpRequest("POST", upload.url, upload.headers, body))

    def stream(self, request: HttpRequest) -> ByteStream:
        """The handler's answer in small chunks, as a network would cut an event stream."""
        return BufferedStream(self.send(request), chunk=64)

    def close(self) -> None:
        pass
