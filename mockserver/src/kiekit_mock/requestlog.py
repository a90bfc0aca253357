"""The request journal: what clients sent and what they got back, for tests to assert on (and
the inspector page to show). Keys are never kept.

Each record carries the mock-clock time the request arrived and the caller's account id (derived
from the key; the Authorization header itself is kept masked). The journal is indexed by task,
path and account, so a soak test's 10,000 tasks do not turn each query into a scan, and it
answers the questions tests ask of a client: was this task created exactly once, did the client
resubmit a create, did it poll faster than it should. `check_*` return a CheckResult (for the
`/_mock/journal/check` route); `assert_*` raise AssertionError listing the offending requests.
Control requests (`/_mock/…`) are the test talking to the mock, not the client: not journaled.
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from .envelope import dumps, loads
from .masking import mask_secret_bytes, mask_secrets, masked_json
from .memory import OVERHEAD, under

Key = TypeVar("Key")
CONTROL_PREFIX = "/_mock/"
RequestKind = Literal["create", "poll", "other"]
REQUEST_KINDS: tuple[RequestKind, ...] = ("create", "poll", "other")
DUPLICATE_WINDOW = 60.0  # mock seconds: identical creates closer than this look like a resubmit
DEFAULT_JOURNAL_LIMIT = 100_000  # records kept: a few hundred MiB at most, a soak test's worth
TEXT_ANSWER_LIMIT = 64 * 1024  # bytes of a text answer kept: every KIE answer fits, a page too
# A request body up to this size is kept as received; a larger one (a base64 upload, a chat
# with an inline image) only as a preview: kept whole, one such body filled the journal's memory
# and froze the inspector page for seconds.
BODY_LIMIT = 64 * 1024
PREVIEW_CHARACTERS = 16 * 1024  # about as much text as a preview holds, strings and keys
LONG_STRING = 2048  # a string longer than this is cut in a preview…
STRING_START = 512  # …to its first characters (a data: URL to its header)
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


def mask_authorization(value: str | None) -> str | None:
    """'Bearer sk-123' -> 'Bearer ***': the scheme stays visible, the secret never."""
    if value is None:
        return None
    scheme, _, secret = value.strip().partition(" ")
    return f"{scheme} ***" if secret else "***"


@functools.lru_cache(maxsize=64)  # a handful of types, asked at every request
def is_text(content_type: str | None) -> bool:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith(("+json", "+xml"))


def request_kind(
    method: str,
    path: str,
    query: Mapping[str, str],
    task_id: str | None,
    code: int | None,
    fault: str | None,
) -> RequestKind:
    """create: a POST to KIE's API that made a new task (it answered the task id, or a fault
    lost that answer after the task was made: still paid for); poll: a GET naming a task
    (?taskId=), whatever the answer; other: anything else."""
    if method == "GET" and "taskId" in query:
        return "poll"
    made = task_id is not None and query.get("taskId") != task_id
    answered = code == 200 or fault is not None
    if method == "POST" and path.startswith("/api/") and made and answered:
        return "create"
    return "other"


@dataclass(frozen=True, slots=True)
class BodyPreview:
    """A request body the journal does not keep as received: its size and, when it was a JSON
    object over BODY_LIMIT bytes, a preview of it (preview_json); a multipart upload's, its
    size alone (the files are not kept)."""

    value: dict[str, Any] | None
    size: int | None  # None: not known (a body neither read whole nor given a Content-Length)


def kept_body(raw: bytes) -> bytes | BodyPreview:
    """A request body as the journal keeps it: as received up to BODY_LIMIT bytes (parsed
    when first read), else a BodyPreview made now, so the body itself is not kept."""
    if len(raw) <= BODY_LIMIT:
        return raw
    value = parse_json_object(raw)
    return BodyPreview(None if value is None else preview_json(value), len(raw))


def listed_preview(body: dict[str, Any], text: str | None = None) -> dict[str, Any] | None:
    """A body kept whole elsewhere (a task's request body), as a list shows it: None when its
    JSON (``text``, if the caller has it) is within BODY_LIMIT bytes (listed whole, as the
    journal keeps such a body), else its preview (preview_json). Measured once, when the task
    is made."""
    if len((dumps(body) if text is None else text).encode()) <= BODY_LIMIT:
        return None
    return preview_json(body)


def preview_json(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object cut to about PREVIEW_CHARACTERS of text: a string over LONG_STRING
    characters keeps its start (a data: URL its header only) and says how long it was, with a
    digest (two bodies that differ get different previews: the duplicate-create check compares
    them); past the budget, the remaining fields and items are counted, not kept."""
    budget = [PREVIEW_CHARACTERS]
    shown = _preview(value, budget)
    assert isinstance(shown, dict)
    return shown


def _preview(value: Any, budget: list[int]) -> Any:
    if isinstance(value, str):
        return _preview_string(value, budget)
    if isinstance(value, dict):
        fields: dict[str, Any] = {}
        for index, (name, item) in enumerate(value.items()):
            if budget[0] <= 0:
                fields["…"] = f"truncated: {len(value) - index} more fields not kept"
                break
            budget[0] -= len(name) + 4
            fields[name] = _preview(item, budget)
        return fields
    if isinstance(value, list):
        items: list[Any] = []
        for index, item in enumerate(value):
            if budget[0] <= 0:
                items.append(f"… truncated: {len(value) - index} more items not kept")
                break
            items.append(_preview(item, budget))
        return items
    budget[0] -= 8
    return value


def _preview_string(text: str, budget: list[int]) -> str:
    if len(text) <= LONG_STRING and len(text) <= max(budget[0], 64):
        budget[0] -= len(text) + 2
        return text
    comma = text.find(",", 0, 256) if text.startswith("data:") else -1
    start = text[: comma + 1] if comma >= 0 else text[: min(STRING_START, max(budget[0], 64))]
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    budget[0] -= len(start) + 80
    return f"{start}… [truncated: {len(text):,} characters, sha256 {digest}…]"


@dataclass(frozen=True, slots=True)
class SentAnswer:
    """The answer a request got, as the mock sent it: its type, size and the other headers the
    mock set; the body itself only for text (JSON, HTML, XML …), at most TEXT_ANSWER_LIMIT bytes.
    A streamed answer (server-sent events, a "truncated" fault) has no size or body here."""

    content_type: str | None
    size: int | None  # bytes; None when it was streamed
    headers: dict[str, str] = field(default_factory=dict)  # besides Content-Type
    body: bytes | None = None  # the text's first TEXT_ANSWER_LIMIT bytes, as sent
    # False: the client had hung up before the answer was ready (its own timeout during a
    # slow fault or a slow create), so none of it reached it: what the mock did stands (a
    # task made and charged), what the client saw is nothing
    delivered: bool = True

    @classmethod
    def of(
        cls, content_type: str | None, headers: dict[str, str], body: bytes | None
    ) -> SentAnswer:
        """`body` None: a streamed answer. Binary bodies are measured, not kept."""
        if body is None:
            return cls(content_type, None, headers)
        kept = body[:TEXT_ANSWER_LIMIT] if is_text(content_type) else None
        return cls(content_type, len(body), headers, kept)

    def to_json(self, *, bodies: bool = True) -> dict[str, Any]:
        """`json` when the body parses as JSON, else `text`; `cut` when only its start was
        kept; `streamed` when it went out in pieces (no body here); `delivered` false when
        the client had hung up before it was ready. `bodies=False`: neither `json` nor `text`
        (a list that shows no bodies need not carry them)."""
        shown: dict[str, Any] = {
            "content_type": self.content_type,
            "size": self.size,
            "headers": dict(self.headers),
            "streamed": self.size is None,
            "delivered": self.delivered,
        }
        if self.body is not None and bodies:
            text = self.body.decode("utf-8", "replace")
            try:
                shown["json"] = loads(text)
            except ValueError:
                shown["text"] = text
            shown["cut"] = self.size is not None and self.size > len(self.body)
        return shown


@dataclass(frozen=True)
class RequestRecord:
    """One request the mock received, and how it answered."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None  # the JSON body when it was an object (a preview: truncated)
    task_id: str | None  # the task the request created or named
    authorization: str | None  # masked
    status: int  # HTTP status of the answer
    code: int | None  # KIE body code of the answer, when it was an envelope
    fault: str | None = None  # the fault rule (faults.py) or limit (limits.py) that answered
    at: float | None = None  # mock-clock seconds when the request arrived
    account_id: str | None = None  # the caller's account (state.account_id of the key)
    seq: int = -1  # its place in the journal, from 0, never reused (set when recorded)
    answer: SentAnswer | None = None  # what was sent back (None: nothing, e.g. a reset)
    rules: tuple[int, ...] = ()  # a create: the outcome/lifecycle rules its task got (rules.py)
    body_size: int | None = None  # bytes of the body received (None: not known)
    # the body was over BODY_LIMIT: `body` is a preview of it (preview_json), or None
    body_truncated: bool = False

    @property
    def kind(self) -> RequestKind:
        """What the request was: a create, a poll, or another."""
        return request_kind(self.method, self.path, self.query, self.task_id, self.code, self.fault)

    def to_json(self, *, bodies: bool = True) -> dict[str, Any]:
        """`bodies=False`: without `body` and the answer's body (GET /_mock/journal?bodies=0,
        for a list; one record in full: GET /_mock/journal/{seq})."""
        shown = {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "body_size": self.body_size,
            "body_truncated": self.body_truncated,
            "task_id": self.task_id,
            "account_id": self.account_id,
            "authorization": self.authorization,
            "status": self.status,
            "code": self.code,
            "fault": self.fault,
            "rules": list(self.rules),
            "answer": None if self.answer is None else self.answer.to_json(bodies=bodies),
        }
        if not bodies:
            del shown["body"]
        return shown

    def describe(self) -> str:
        """One line for failure messages."""
        query = "?" + "&".join(f"{k}={v}" for k, v in self.query.items()) if self.query else ""
        at = "?" if self.at is None else f"{self.at:.3f}"
        body = "" if self.body is None else " body=" + _short(json.dumps(self.body, sort_keys=True))
        return (
            f"#{self.seq} at={at} {self.method} {self.path}{query} task={self.task_id} "
            f"account={self.account_id} -> HTTP {self.status} code={self.code}{body}"
        )


# What a record is made of until it is first read (Journal.add_later): RequestRecord's fields
# but seq, in order, with the body as kept_body keeps it and the answer as SentAnswer.of's
# arguments. One
# tuple of plain values, which the garbage collector stops tracking; a closure per request (a
# function and a cell per value), kept by the tens of thousands, made every collection slower
# (7 % of a polling mock's CPU went to the collector, under 2 % now).
Noted = tuple[
    str,  # method
    str,  # path
    dict[str, str],  # query
    bytes | BodyPreview,  # body: as received, or a preview of a large one (kept_body)
    str | None,  # task_id
    str | None,  # authorization, masked
    int,  # status
    int | None,  # code
    str | None,  # fault
    float | None,  # at
    str | None,  # account_id
    # answer: its type, headers, the body as SentAnswer keeps it (noted_answer), its size, and
    # whether the client was still there for it
    tuple[str | None, dict[str, str], bytes | None, int | None, bool] | None,
    tuple[int, ...],  # rules
]


def noted_answer(
    content_type: str | None,
    headers: dict[str, str],
    body: bytes | None,
    delivered: bool = True,
) -> tuple[str | None, dict[str, str], bytes | None, int | None, bool]:
    """An answer as a Noted keeps it until its record is made: what SentAnswer.of keeps, cut
    now (a finished task's 1 MB record, kept whole by every poll's note, took GBs)."""
    if body is None:
        return content_type, headers, None, None, delivered
    if not is_text(content_type):
        return content_type, headers, None, len(body), delivered
    kept = body if len(body) <= TEXT_ANSWER_LIMIT else body[:TEXT_ANSWER_LIMIT]
    return content_type, headers, kept, len(body), delivered


def _noted_bytes(noted: Noted) -> int:
    """Bytes a noted record holds, as MockConfig.memory_limit counts them (memory.py)."""
    body, answer = noted[3], noted[11]
    size = OVERHEAD + (len(body) if isinstance(body, bytes) else _preview_bytes(body.value))
    if answer is not None and answer[2] is not None:
        size += len(answer[2])
    return size


def _preview_bytes(preview: dict[str, Any] | None) -> int:
    # a preview holds about PREVIEW_CHARACTERS of text (preview_json); none: nothing
    return 0 if preview is None else PREVIEW_CHARACTERS


def _record_bytes(record: RequestRecord) -> int:
    """Bytes a record holds (as _noted_bytes): its body as JSON text, its answer's kept body."""
    if record.body is None:
        size = 0
    elif record.body_truncated:
        size = PREVIEW_CHARACTERS
    else:
        size = record.body_size or 0
    answer = record.answer
    if answer is not None and answer.body is not None:
        size += len(answer.body)
    return OVERHEAD + size


def _record_of(noted: Noted, seq: int) -> RequestRecord:
    (
        method,
        path,
        query,
        body,
        task_id,
        authorization,
        status,
        code,
        fault,
        at,
        account,
        answer,
        rules,
    ) = noted
    # a URL's secrets in the bodies and the answer's headers as *** (masking.py): masked as
    # the record is made, when first read, not at every request
    if isinstance(body, BodyPreview):
        parsed, size, truncated = masked_json(body.value), body.size, (body.size or 0) > BODY_LIMIT
    else:
        parsed = parse_json_object(mask_secret_bytes(body)) if body else None
        size, truncated = len(body), False
    return RequestRecord(
        method,
        path,
        query,
        parsed,
        task_id,
        authorization,
        status,
        code,
        fault,
        at,
        account,
        seq,
        None if answer is None else _masked_answer(answer),
        rules,
        size,
        truncated,
    )


def _masked_answer(
    answer: tuple[str | None, dict[str, str], bytes | None, int | None, bool],
) -> SentAnswer:
    """A noted answer as its record keeps it: a URL's secrets in its headers (a redirect's
    Location) and its text (a record echoing a callBackUrl) as ``***``."""
    content_type, headers, body, size, delivered = answer
    if headers:
        headers = {name: mask_secrets(value) for name, value in headers.items()}
    if body is not None:
        body = mask_secret_bytes(body)
    return SentAnswer(content_type, size, headers, body, delivered)


def parse_json_object(raw: bytes) -> dict[str, Any] | None:
    """The JSON object `raw` holds, or None (not JSON, or not an object)."""
    try:
        value = loads(raw)
    except ValueError:  # UnicodeDecodeError included
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a journal check; `offending` are the requests that broke it."""

    check: str
    passed: bool
    message: str
    offending: tuple[RequestRecord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The check's outcome as the control API shows it, with the records that failed it."""
        return {
            "check": self.check,
            "passed": self.passed,
            "message": self.message,
            "offending": [record.to_json() for record in self.offending],
        }

    def verify(self) -> None:
        """Raise AssertionError with the check's message unless it passed."""
        if not self.passed:
            raise AssertionError(self.message)


@dataclass(frozen=True)
class JournalPage:
    """Part of the journal: `records` in order; `more` when older matches lie before them;
    `first_seq`/`last_seq` bound the journal as it is (an empty one: last = first - 1);
    `dropped`: the oldest records let go so far to keep the journal within its limit;
    `held`: the records it holds now (the seqs between the bounds but those forgotten);
    `forgotten`: the records per-account resets have forgotten so far (they leave gaps);
    `matched`: when counted, how many records fit the filters between `after` and `before`."""

    records: list[RequestRecord]
    more: bool
    first_seq: int
    last_seq: int
    dropped: int = 0
    held: int = 0
    forgotten: int = 0
    matched: int | None = None


class Journal:
    """Every client request, in order, with indexes; thread-safe.

    A record's `seq` is its place since the mock started and is never reused, not even after
    clear(): a watcher that remembers the last seq it saw asks for what came `after` it.

    It keeps at most `limit` records (None: all): past that the oldest tenth is let go at once
    (so the cost of letting go is spread over many requests) and counted in `dropped`, so a
    mock serving a million requests holds a bounded journal, and says what it no longer has.
    """

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        *,
        limit: int | None = DEFAULT_JOURNAL_LIMIT,
        byte_limit: int | None = None,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError("journal_limit must be >= 1 or None")
        if byte_limit is not None and byte_limit < 1:
            raise ValueError("byte_limit must be >= 1 or None")
        self._clock = clock
        self._limit = limit
        # the journal's share of MockConfig.memory_limit (memory.py): bytes its records may
        # hold; each record's bytes, in step with _records (0 for a forgotten one), and the sum
        self._byte_limit = byte_limit
        self._sizes: list[int] = []
        self._bytes = 0
        self._dropped = 0
        self._lock = threading.Lock()
        self._first = 0  # seq of _records[0]: the records cleared or dropped so far
        # a record, or what it is made of (add_later): most records are never read, and
        # making one costs more than the request it notes; None: forgotten (forget_account)
        self._records: list[RequestRecord | Noted | None] = []
        self._gaps = 0  # the Nones in _records
        self._forgotten = 0  # records forget_account has forgotten, since the mock started
        self._by_task: dict[str, list[int]] = {}
        self._by_path: dict[str, list[int]] = {}
        self._by_account: dict[str, list[int]] = {}
        # (task, path, account) of the newest records, not yet in those indexes: add_later
        # leaves indexing to the next reader, as most records are never looked for
        self._unindexed: list[tuple[str | None, str, str | None]] = []
        self._creates: list[int] = []
        # (account, path, body) of successful creates -> their seqs: the duplicate detector
        self._same_creates: dict[tuple[str | None, str, str], list[int]] = {}

    def add(self, record: RequestRecord) -> RequestRecord | None:
        """Record a request (stamped with the mock clock if it has no time); None for a
        control request, which is not recorded."""
        if record.path.startswith(CONTROL_PREFIX):
            return None
        with self._lock:
            self._index_pending()  # each index's seqs ascend
            seq = self._first + len(self._records)
            at = record.at if record.at is not None or self._clock is None else self._clock()
            record = replace(record, seq=seq, at=at)
            self._records.append(record)
            size = _record_bytes(record)
            self._sizes.append(size)
            self._bytes += size
            if record.task_id is not None:
                self._by_task.setdefault(record.task_id, []).append(seq)
            self._by_path.setdefault(record.path, []).append(seq)
            if record.account_id is not None:
                self._by_account.setdefault(record.account_id, []).append(seq)
            if record.kind == "create":
                self._creates.append(seq)
                # the body's digest, not its text: a second copy of every create body was kept
                body = _digest(json.dumps(record.body, sort_keys=True))
                self._same_creates.setdefault((record.account_id, record.path, body), []).append(
                    seq
                )
            self._rotate()
            return record

    def add_later(
        self,
        noted: Noted,
        *,
        path: str,
        task_id: str | None,
        account_id: str | None,
        kind: RequestKind,
    ) -> None:
        """Record a request, its record made of `noted` when it is first read; what the
        indexes need is given now. A create is made at once (the duplicate detector reads its
        body)."""
        if kind == "create":
            self.add(_record_of(noted, -1))
            return
        if path.startswith(CONTROL_PREFIX):
            return
        size = _noted_bytes(noted)
        with self._lock:
            self._records.append(noted)
            self._sizes.append(size)
            self._bytes += size
            self._unindexed.append((task_id, path, account_id))
            if self._over():
                self._rotate()

    def _over(self) -> bool:
        """Past the count limit or the byte limit; under the lock."""
        return (self._limit is not None and len(self._records) > self._limit) or (
            self._byte_limit is not None and self._bytes > self._byte_limit
        )

    def _index_pending(self) -> None:
        """Put the records add_later left unindexed into the indexes; under the lock."""
        pending = self._unindexed
        if not pending:
            return
        seq = self._first + len(self._records) - len(pending)
        for task_id, path, account_id in pending:
            if task_id is not None:
                self._by_task.setdefault(task_id, []).append(seq)
            self._by_path.setdefault(path, []).append(seq)
            if account_id is not None:
                self._by_account.setdefault(account_id, []).append(seq)
            seq += 1
        pending.clear()

    def _rotate(self) -> None:
        """Past the limit, let the oldest tenth go, from the records and every index; under
        the lock. Each index entry is a list of ascending seqs: its dropped ones are a prefix."""
        if not self._over():
            return
        self._index_pending()
        drop = 0
        if self._limit is not None and len(self._records) > self._limit:
            drop = len(self._records) - self._limit + self._limit // 10
        if self._byte_limit is not None and self._bytes > self._byte_limit:
            # the oldest records until they hold a tenth less than the byte limit
            excess = self._bytes - under(self._byte_limit) - sum(self._sizes[:drop])
            while excess > 0 and drop < len(self._records):
                excess -= self._sizes[drop]
                drop += 1
        self._bytes -= sum(self._sizes[:drop])
        del self._sizes[:drop]
        first = self._first + drop
        gaps = sum(1 for entry in self._records[:drop] if entry is None)
        del self._records[:drop]
        self._first = first
        self._gaps -= gaps
        self._dropped += drop - gaps
        _cut(self._creates, first)
        for index in (self._by_task, self._by_path, self._by_account):
            _prune(index, first)
        _prune(self._same_creates, first)

    @property
    def held_bytes(self) -> int:
        """Bytes the records hold, as MockConfig.memory_limit counts them (memory.py)."""
        with self._lock:
            return self._bytes

    @property
    def dropped(self) -> int:
        """Records let go to keep within the limit, since the mock started (clear() aside)."""
        with self._lock:
            return self._dropped

    def clear(self) -> None:
        """Forget every request recorded so far (a test's fresh start)."""
        with self._lock:
            self._first += len(self._records)
            self._records.clear()
            self._sizes.clear()
            self._bytes = 0
            self._gaps = 0
            self._by_task.clear()
            self._by_path.clear()
            self._by_account.clear()
            self._unindexed.clear()
            self._creates.clear()
            self._same_creates.clear()

    def forget_account(self, account: str) -> int:
        """Forget one account's records (a per-account reset); returns how many. Seqs are
        never reused: the others keep theirs, and the forgotten ones leave gaps."""
        with self._lock:
            self._index_pending()
            seqs = self._by_account.pop(account, [])
            for seq in seqs:
                self._records[seq - self._first] = None
                self._bytes -= self._sizes[seq - self._first]
                self._sizes[seq - self._first] = 0
            self._gaps += len(seqs)
            self._forgotten += len(seqs)
            gone = set(seqs)
            _drop_seqs(self._by_task, gone)
            _drop_seqs(self._by_path, gone)
            _drop_seqs(self._same_creates, gone)
            self._creates[:] = [seq for seq in self._creates if seq not in gone]
            return len(seqs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records) - self._gaps

    def records(self) -> list[RequestRecord]:
        """Every request recorded (and not yet dropped for memory), oldest first."""
        with self._lock:
            every = (
                self._read(seq) for seq in range(self._first, self._first + len(self._records))
            )
            return [record for record in every if record is not None]

    def _read(self, seq: int) -> RequestRecord | None:
        """The record at `seq`, made now if it was added later, None if it was forgotten;
        read it under the lock."""
        entry = self._records[seq - self._first]
        if entry is None or isinstance(entry, RequestRecord):
            return entry
        record = self._records[seq - self._first] = _record_of(entry, seq)
        return record

    def _at(self, seq: int) -> RequestRecord:
        """The record at an indexed `seq` (the indexes hold no forgotten one)."""
        record = self._read(seq)
        if record is None:
            raise KeyError(seq)
        return record

    # --- queries ---

    def query(
        self,
        *,
        path: str | None = None,
        method: str | None = None,
        task_id: str | None = None,
        account_id: str | None = None,
        kind: RequestKind | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[RequestRecord]:
        """The requests that fit every given filter, in order. `path` is exact, or a glob
        ("/api/v1/veo/*"); `since`/`until` bound the mock-clock time (inclusive)."""
        return self.page(
            path=path,
            method=method,
            task_id=task_id,
            account_id=account_id,
            kind=kind,
            since=since,
            until=until,
        ).records

    def page(
        self,
        *,
        path: str | None = None,
        method: str | None = None,
        task_id: str | None = None,
        account_id: str | None = None,
        kind: RequestKind | None = None,
        since: float | None = None,
        until: float | None = None,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
        count: bool = False,
    ) -> JournalPage:
        """As query(), within seqs `after` < seq < `before`, and only the last `limit` matches
        (None: all). Reads from the newest end and stops once it has them, so the newest page
        of a long journal costs what the page does, not what the journal does. `count`: also
        count every match between `after` and `before` (`matched`), a look at each record
        there (not made into a RequestRecord: about a microsecond each)."""
        glob = path is not None and any(c in path for c in "*?[")
        method = method.upper() if method is not None else None

        def fits(entry: RequestRecord | Noted | None) -> bool:
            # judged on what a record is made of: a record not yet made (add_later) is made
            # only when it is one of the page's, not to be looked at and thrown away
            if entry is None:
                return False
            if isinstance(entry, RequestRecord):
                facts = (entry.method, entry.path, entry.task_id, entry.account_id, entry.at)
            else:
                facts = (entry[0], entry[1], entry[4], entry[10], entry[9])
            its_method, its_path, its_task, its_account, at = facts
            if not (
                (
                    path is None
                    or (fnmatch.fnmatchcase(its_path, path) if glob else its_path == path)
                )
                and (method is None or its_method == method)
                and (task_id is None or its_task == task_id)
                and (account_id is None or its_account == account_id)
                and (since is None or (at is not None and at >= since))
                and (until is None or (at is not None and at <= until))
            ):
                return False
            if kind is None:
                return True
            if isinstance(entry, RequestRecord):
                return entry.kind == kind
            return request_kind(entry[0], entry[1], entry[2], entry[4], entry[7], entry[8]) == kind

        found: list[RequestRecord] = []
        more = False
        matched: int | None = None
        with self._lock:
            seqs = self._candidates(
                task_id=task_id, path=None if glob else path, account_id=account_id, kind=kind
            )
            low = 0 if after is None else bisect.bisect_right(seqs, after)
            high = len(seqs) if before is None else bisect.bisect_left(seqs, before)
            first = self._first
            entries = self._records
            for index in range(high - 1, low - 1, -1):
                seq = seqs[index]
                if not fits(entries[seq - first]):
                    continue
                if limit is not None and len(found) == limit:
                    more = True
                    break
                record = self._read(seq)
                assert record is not None  # it fits: not forgotten
                found.append(record)
            if count:
                matched = sum(1 for i in range(low, high) if fits(entries[seqs[i] - first]))
            last = first + len(entries) - 1
            held = len(entries) - self._gaps
            dropped, forgotten = self._dropped, self._forgotten
        found.reverse()
        return JournalPage(found, more, first, last, dropped, held, forgotten, matched)

    def get(self, seq: int) -> RequestRecord | None:
        """The record at `seq`; None when there is none (forgotten, let go, or not made yet)."""
        with self._lock:
            if not self._first <= seq < self._first + len(self._records):
                return None
            return self._read(seq)

    def _candidates(
        self,
        *,
        task_id: str | None,
        path: str | None,
        account_id: str | None,
        kind: RequestKind | None,
    ) -> Sequence[int]:
        """The smallest index that covers the filters (the caller applies all of them), as
        ascending seqs; read it under the lock."""
        self._index_pending()
        lists: list[list[int]] = []
        if task_id is not None:
            lists.append(self._by_task.get(task_id, []))
        if path is not None:
            lists.append(self._by_path.get(path, []))
        if account_id is not None:
            lists.append(self._by_account.get(account_id, []))
        if kind == "create":
            lists.append(self._creates)
        if not lists:
            return range(self._first, self._first + len(self._records))
        return min(lists, key=len)

    def creates(self, task_id: str | None = None) -> list[RequestRecord]:
        """Successful create requests (each answered a new task id), or those of one task."""
        if task_id is not None:
            return self.query(task_id=task_id, kind="create")
        with self._lock:
            return [self._at(seq) for seq in self._creates]

    def polls(self, task_id: str) -> list[RequestRecord]:
        """Status queries naming `task_id` (GET …?taskId=), answered or not."""
        return self.query(task_id=task_id, kind="poll")

    # --- checks ---

    def check_created_once(self, task_id: str, *, account_id: str | None = None) -> CheckResult:
        """Exactly one create answered `task_id` (of those `account_id` sent, when given)."""
        creates = self.query(task_id=task_id, kind="create", account_id=account_id)
        if len(creates) == 1:
            return CheckResult("created_once", True, f"task {task_id} was created once")
        message = f"task {task_id} was created by {len(creates)} requests, expected exactly 1"
        return CheckResult("created_once", False, _listing(message, creates), tuple(creates))

    def check_no_duplicate_creates(
        self, window: float = DUPLICATE_WINDOW, *, account_id: str | None = None
    ) -> CheckResult:
        """No two successful creates with the same account, path and body within `window`
        mock seconds: a client that resubmits a create after a timeout pays twice. Given
        `account_id`, only that account's creates are judged: parallel jobs sharing a mock,
        each on its own key, are not failed by one another's."""
        with self._lock:
            groups = [
                [self._at(seq) for seq in seqs]
                for (account, _, _), seqs in self._same_creates.items()
                if len(seqs) > 1 and (account_id is None or account == account_id)
            ]
        offending: list[RequestRecord] = []
        for group in groups:
            for before, after in itertools.pairwise(group):
                if _gap(before, after) <= window:
                    offending += [r for r in (before, after) if r not in offending]
        offending.sort(key=lambda record: record.seq)
        if not offending:
            return CheckResult("no_duplicate_creates", True, "no duplicate creates")
        message = f"identical creates within {window:g} s (each created and charged a task)"
        return CheckResult(
            "no_duplicate_creates", False, _listing(message, offending), tuple(offending)
        )

    def check_no_poll_faster_than(
        self, seconds: float, task_id: str | None = None, *, account_id: str | None = None
    ) -> CheckResult:
        """Consecutive polls of one task (of `task_id`, or of every task) at least `seconds`
        apart in mock time; given `account_id`, only the polls that account sent."""
        with self._lock:
            self._index_pending()
            if task_id is not None:
                tasks = [task_id]
            elif account_id is not None:  # the tasks it polled, not a scan of every task
                named = (self._at(seq).task_id for seq in self._by_account.get(account_id, []))
                tasks = list(dict.fromkeys(name for name in named if name is not None))
            else:
                tasks = list(self._by_task)
            per_task = [[self._at(seq) for seq in self._by_task.get(name, [])] for name in tasks]
        lines: list[str] = []
        offending: list[RequestRecord] = []
        for records in per_task:
            polls = [
                record
                for record in records
                if record.kind == "poll" and (account_id is None or record.account_id == account_id)
            ]
            for before, after in itertools.pairwise(polls):
                gap = _gap(before, after)
                if gap < seconds:
                    lines.append(f"{gap:.3f} s between #{before.seq} and #{after.seq}")
                    offending += [r for r in (before, after) if r not in offending[-2:]]
        name = "no_poll_faster_than"
        scope = f"task {task_id}" if task_id is not None else "any task"
        if not offending:
            return CheckResult(name, True, f"no two polls of {scope} closer than {seconds:g} s")
        message = f"polls of {scope} closer than {seconds:g} s: " + "; ".join(lines)
        return CheckResult(name, False, _listing(message, offending), tuple(offending))

    def assert_created_once(self, task_id: str, *, account_id: str | None = None) -> None:
        """AssertionError unless exactly one create answered ``task_id``."""
        self.check_created_once(task_id, account_id=account_id).verify()

    def assert_no_duplicate_creates(
        self, window: float = DUPLICATE_WINDOW, *, account_id: str | None = None
    ) -> None:
        """AssertionError if two creates of one account with one body came within ``window``."""
        self.check_no_duplicate_creates(window, account_id=account_id).verify()

    def assert_no_poll_faster_than(
        self, seconds: float, task_id: str | None = None, *, account_id: str | None = None
    ) -> None:
        """AssertionError if a task (or ``task_id``) was polled again sooner than ``seconds``."""
        self.check_no_poll_faster_than(seconds, task_id, account_id=account_id).verify()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _prune(index: dict[Key, list[int]], first: int) -> None:
    """Drop the seqs before `first` from every entry of `index`, and the entries left empty."""
    for key in [key for key, seqs in index.items() if _cut(seqs, first)]:
        del index[key]


def _drop_seqs(index: dict[Key, list[int]], gone: set[int]) -> None:
    """Drop the seqs in `gone` from every entry of `index`, and the entries left empty."""
    for key in list(index):
        kept = [seq for seq in index[key] if seq not in gone]
        if kept:
            index[key] = kept
        else:
            del index[key]


def _cut(seqs: list[int], first: int) -> bool:
    """Remove the seqs before `first` (a prefix: they ascend); True when none is left."""
    del seqs[: bisect.bisect_left(seqs, first)]
    return not seqs


def _gap(before: RequestRecord, after: RequestRecord) -> float:
    return (after.at or 0.0) - (before.at or 0.0)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(message: str, records: list[RequestRecord], limit: int = 20) -> str:
    shown = [f"  {record.describe()}" for record in records[:limit]]
    if len(records) > limit:
        shown.append(f"  … and {len(records) - limit} more")
    return "\n".join([message + ":", *shown])
