"""The sans-I/O engine: every side effect of kiekit as an operation, and the flows that yield them.

- :mod:`~kiekit._engine.ops` — the operations (HTTP, fetch, upload, stream, sleep, clock,
  journal write) and ``Flow``;
- :mod:`~kiekit._engine.engine` — KIE's calls, the create, the status, the wait, the download;
- :mod:`~kiekit._engine.retrying` — the one retry loop and the one answer reader;
- :mod:`~kiekit._engine.request_log` — the lines ``-vv`` logs for every request, chat's too;
- :mod:`~kiekit._engine.file_policy` — what a result file is named, and what is refused as one;
- :mod:`~kiekit._engine.account` — the credit balance and the three uploads;
- :mod:`~kiekit._engine.session` — each method of the two clients as one flow, journal included.

The drivers that perform the operations are in :mod:`kiekit._transports.drivers`.
"""

from __future__ import annotations

from kiekit._engine.engine import (
    MALFORMED_STATUS_TRIES,
    Engine,
    SendState,
    StatusHook,
    may_pass,
)
from kiekit._engine.file_policy import check_file_start, file_name
from kiekit._engine.ops import (
    Digest,
    Fetch,
    Flow,
    HttpRequest,
    HttpResponse,
    Now,
    Op,
    OpenStream,
    ReadStream,
    Record,
    Reserve,
    Sleep,
    StreamHead,
    StreamUpload,
    mark_unsent,
    unsent,
)
from kiekit._engine.retrying import MIN_ATTEMPT_SECONDS, read_answer, read_envelope, retrying

__all__ = [
    "MALFORMED_STATUS_TRIES",
    "MIN_ATTEMPT_SECONDS",
    "Digest",
    "Engine",
    "Fetch",
    "Flow",
    "HttpRequest",
    "HttpResponse",
    "Now",
    "Op",
    "OpenStream",
    "ReadStream",
    "Record",
    "Reserve",
    "SendState",
    "Sleep",
    "StatusHook",
    "StreamHead",
    "StreamUpload",
    "check_file_start",
    "file_name",
    "mark_unsent",
    "may_pass",
    "read_answer",
    "read_envelope",
    "retrying",
    "unsent",
]
