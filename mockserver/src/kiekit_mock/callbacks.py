"""Callbacks: every one is recorded; only those aimed at loopback are actually POSTed.

KIE POSTs JSON to callBackUrl when a task ends, with a 15 s timeout, best effort, and the same
task "may be delivered more than once" (kie-api.md §6.1); optionally signed (§6.3). The mock must
never reach a host outside this machine, so a URL whose host is not loopback (127.0.0.0/8,
localhost, ::1) is recorded with delivered=False — unless whoever started the mock named that
host in ``MockConfig.allowed_callback_hosts`` (never settable over HTTP: a control request must
not be able to point the mock at the network).

Modes a test switches on (``CallbackSettings``: Python ``configure(...)``, HTTP
``PUT /_mock/callbacks/settings``): HMAC signing, each callback sent ``copies`` times (each copy
its own record, to test a receiver's idempotency), and ``tamper`` — "signature" (a wrong
X-Webhook-Signature) or "stale" (a correctly signed timestamp ``stale_seconds`` old) — for
callbacks a verifying receiver must reject. Timestamps are read from the mock clock.

The callbacks of one task to one URL go out one after the other, in the order they were owed,
each once the one before it was answered (or failed, or timed out): a task that owes several at
once — Suno's staged ``text``, ``first`` and ``complete`` (§3.6, §11) when one poll crosses
every stage — reaches its receiver in KIE's order, as real KIE, which sends them minutes apart,
does. Different tasks, and one task's callbacks to different URLs, are delivered concurrently.

Memory stays bounded on a long-lived mock: a task's records go when the task store forgets the
task (``forget_tasks``, past ``MockConfig.task_limit``), and past ``callback_limit`` records the
oldest tenth goes at once (counted in ``dropped``). The records are indexed by task, so what a
status answer reads (Suno's stages, Luma's delivery flag) costs the same however many are kept.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import itertools
import re
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypedDict, Unpack
from urllib.parse import unquote, urlsplit

import aiohttp
from yarl import URL

from .config import CALLBACK_TAMPERS, CallbackTamper, MockConfig
from .egress import Egress, EgressRefused
from .envelope import dumps
from .masking import mask_secrets, masked_json

# [INF] §6.3 names no maximum age for a timestamp; an hour is past any sane replay window
STALE_SECONDS = 3600
MAX_COPIES = 10
ANSWER_LIMIT = 4096  # characters of a receiver's answer kept in its record
MAX_WAIT = 600.0  # seconds a listing may wait for deliveries: 10 copies of 3 Suno stages, 15 s


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (brackets allowed)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


SELF_REFUSAL = "the mock's own control API (/_mock/): callbacks to it are recorded, never sent"


def control_route_of(url: str, own_ports: Collection[int]) -> bool:
    """Whether ``url`` would reach the mock's own control API: a port the mock listens on and
    a path under ``/_mock/`` as its router reads it (percent-escapes decoded, dot segments
    and repeated slashes gone), whatever the host says. Any spelling of the mock's address
    (``localhost``, ``127.1.2.3``, ``[::1]``, ``x.localhost``, an allowed name) counts: a
    callback must not complete, fail or reset another account's task (README, Callbacks)."""
    if not own_ports:
        return False
    try:
        parsed = URL(url)
        port = parsed.port
    except (ValueError, TypeError):
        return False
    if port not in own_ports:
        return False
    path = re.sub(r"/{2,}", "/", unquote(parsed.path))
    return path.rstrip("/") == CONTROL_ROOT or path.startswith(CONTROL_ROOT + "/")


CONTROL_ROOT = "/_mock"


def loopback_refusal(url: str, allowed_hosts: Collection[str] = ()) -> str | None:
    """Why a callback URL must not be called, or None when it may be: loopback, or a host the
    operator allowed (exact, case-insensitive)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return "malformed URL"
    if parts.scheme not in ("http", "https") or not host:
        return "not an http(s) URL"
    if not is_loopback_host(host) and host.lower() not in allowed_hosts:
        return "not loopback: the mock never calls hosts outside this machine"
    return None


def signature_headers(key: str, task_id: str, timestamp: int) -> dict[str, str]:
    """KIE's opt-in webhook signature: base64(HMAC-SHA256(key, "taskId.timestamp")) (§6.3)."""
    mac = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return {
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": base64.b64encode(mac).decode(),
    }


# a callback's body as sent, and its copies' records (numbered), owed to one task and URL
_Batch = tuple[dict[str, Any], list[tuple[int, "CallbackRecord"]]]


class CallbackChanges(TypedDict, total=False):
    """The fields of :class:`CallbackSettings` ``configure_callbacks(...)`` changes, for type
    checkers (a misspelt one is their error; a bad value, a ValueError naming it)."""

    hmac_key: str | None
    copies: int
    tamper: CallbackTamper | None
    stale_seconds: int


@dataclass(frozen=True)
class CallbackSettings:
    """How callbacks are sent. The HMAC key never shows in a repr or in the control API."""

    hmac_key: str | None = field(default=None, repr=False)
    copies: int = 1
    tamper: CallbackTamper | None = None
    stale_seconds: int = STALE_SECONDS

    def __post_init__(self) -> None:
        if self.hmac_key is not None and (not isinstance(self.hmac_key, str) or not self.hmac_key):
            raise ValueError("hmac_key must be a non-empty string or None")
        if (
            isinstance(self.copies, bool)
            or not isinstance(self.copies, int)
            or not 1 <= self.copies <= MAX_COPIES
        ):
            raise ValueError(f"copies must be an integer from 1 to {MAX_COPIES}")
        if self.tamper is not None and self.tamper not in CALLBACK_TAMPERS:
            raise ValueError(f"tamper must be null or one of {', '.join(CALLBACK_TAMPERS)}")
        if self.tamper is not None and self.hmac_key is None:
            raise ValueError("tamper needs signing: set an hmac_key first")
        if (
            isinstance(self.stale_seconds, bool)
            or not isinstance(self.stale_seconds, int)
            or self.stale_seconds < 1
        ):
            raise ValueError("stale_seconds must be an integer >= 1")

    @classmethod
    def from_config(cls, config: MockConfig) -> CallbackSettings:
        """The settings a mock of ``config`` starts with."""
        return cls(config.webhook_hmac_key, config.callback_copies, config.callback_tamper)

    def headers(self, task_id: str, now: float) -> dict[str, str]:
        """Content-Type, and the signature headers when signing (tampered as asked)."""
        headers = {"Content-Type": "application/json"}
        if self.hmac_key is None:
            return headers
        stamp = int(now)
        if self.tamper == "stale":
            return headers | signature_headers(self.hmac_key, task_id, stamp - self.stale_seconds)
        signed = signature_headers(self.hmac_key, task_id, stamp)
        if self.tamper == "signature":
            # what a forger without the key sends: the right shape, a signature of other bytes
            wrong = signature_headers(self.hmac_key + "-forged", task_id, stamp)
            signed["X-Webhook-Signature"] = wrong["X-Webhook-Signature"]
        return headers | signed

    def to_json(self) -> dict[str, Any]:
        """The settings as the control API shows them: whether they are signed, never the key."""
        public = asdict(self)
        del public["hmac_key"]
        return {"signing": self.hmac_key is not None, **public}


@dataclass(frozen=True)
class CallbackRecord:
    """One callback the mock owed. `delivered` means the receiver answered with HTTP 2xx.
    `url` and `payload` are as the mock keeps them: a secret's value in a URL's query (a
    receiver's ``?token=``) as ``***`` (masking.py); the callback went to the URL as given."""

    task_id: str
    url: str
    payload: dict[str, Any]
    headers: dict[str, str]
    delivered: bool
    reason: str | None  # why not delivered ("pending" while in flight); None when delivered
    status: int | None  # the receiver's HTTP status, when it answered
    copy: int = 1  # 1..copies: which delivery of the same callback this is
    tampered: CallbackTamper | None = None  # the signature was deliberately wrong / stale
    sent_at: float | None = None  # mock-clock seconds when it was owed
    answer: str | None = None  # the receiver's answer body (its first ANSWER_LIMIT characters)
    account_id: str | None = None  # the task's owner: what a per-account reset forgets

    def to_json(self) -> dict[str, Any]:
        """The record as the control API shows it (``GET /_mock/callbacks``)."""
        return asdict(self)


class CallbackDispatcher:
    """Records callbacks and delivers the allowed ones in background tasks of the server loop."""

    def __init__(
        self,
        *,
        timeout: float,
        hmac_key: str | None,
        clock: Callable[[], float] = time.time,
        copies: int = 1,
        tamper: CallbackTamper | None = None,
        allowed_hosts: Collection[str] = (),
        on_change: Callable[[], None] = lambda: None,
        limit: int | None = None,
    ) -> None:
        self._timeout = timeout
        self._on_change = on_change  # a record was added or settled (changes.py)
        self._clock = clock
        self._settings = CallbackSettings(hmac_key=hmac_key, copies=copies, tamper=tamper)
        self._allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self._egress = Egress(self._allowed_hosts)
        # the ports the mock listens on (serves_on): a callback to its own /_mock/ routes
        # there is recorded, never sent (control_route_of)
        self._own_ports: set[int] = set()
        # one session (and its connections) for every delivery while the server runs: open()
        # at its startup, close() at its shutdown. A new one per delivery cost a connector, a
        # resolver and a TCP connection each (tools/bench/mock_callback_cpu.py)
        self._shared: tuple[contextlib.AsyncExitStack, aiohttp.ClientSession] | None = None
        self._lock = threading.Lock()
        # every record by its number (oldest first), and each task's numbers: a task's own
        # records are read at its status answers, which must not scan everyone's
        self._records: dict[int, CallbackRecord] = {}
        self._by_task: dict[str, list[int]] = {}
        self._per_account: Counter[str | None] = Counter()  # a listing's total (page())
        self._numbers = itertools.count()
        self._limit = limit
        self._dropped = 0
        # each delivery in flight -> the task and account it delivers for (what wait_idle selects)
        self._in_flight: dict[asyncio.Task[None], tuple[str, str | None]] = {}
        # (task id, url) -> the batches (a callback's body as sent, and its copies) owed and
        # not yet started, while a delivery to that pair is in flight: the pair's deliveries
        # go one after the other
        self._queues: dict[tuple[str, str], deque[_Batch]] = {}

    @property
    def settings(self) -> CallbackSettings:
        with self._lock:
            return self._settings

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return self._allowed_hosts

    def configure(
        self, settings: CallbackSettings | None = None, /, **changes: Unpack[CallbackChanges]
    ) -> CallbackSettings:
        """Replace the settings or change some (``configure(copies=2, tamper="stale")``);
        ValueError naming the field for a bad value. Callbacks already owed keep theirs."""
        with self._lock:
            self._settings = replace(settings or self._settings, **changes)
            return self._settings

    def records(self) -> list[CallbackRecord]:
        with self._lock:
            return list(self._records.values())

    def records_of(self, task_id: str) -> list[CallbackRecord]:
        """One task's records, in the order owed (as cheap with 100,000 others kept)."""
        with self._lock:
            return [self._records[number] for number in self._by_task.get(task_id, ())]

    def page(
        self,
        *,
        task_id: str | None = None,
        account: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[int, list[CallbackRecord]]:
        """How many records fit, and the newest ``limit`` of them after skipping the newest
        ``offset`` (None: all), in the order owed. A page costs its own records, not a copy of
        every one kept (the inspector reloads its Callbacks page at every change)."""
        with self._lock:
            if task_id is not None:
                own = (self._records[number] for number in self._by_task.get(task_id, ()))
                fits = [record for record in own if account in (None, record.account_id)]
                total, newest_first = len(fits), iter(fits[::-1])
            else:
                total = len(self._records) if account is None else self._per_account[account]
                newest_first = (
                    record
                    for record in reversed(self._records.values())
                    if account in (None, record.account_id)
                )
            stop = None if limit is None else offset + limit
            newest = list(itertools.islice(newest_first, offset, stop)) if total > offset else []
        return total, newest[::-1]

    @property
    def dropped(self) -> int:
        """Records let go past the callback limit (not those of forgotten tasks or accounts)."""
        with self._lock:
            return self._dropped

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._by_task.clear()
            self._per_account.clear()
            self._dropped = 0
        self._on_change()

    def forget_account(self, account: str) -> int:
        """Forget one account's records (a per-account reset); returns how many. Deliveries in
        flight for it still go out, but settle nowhere."""
        with self._lock:
            mine = [n for n, record in self._records.items() if record.account_id == account]
            for number in mine:
                self._forget(number)
        if mine:
            self._on_change()
        return len(mine)

    def forget_tasks(self, task_ids: Collection[str]) -> int:
        """Forget these tasks' records (the store forgot the tasks); returns how many.
        Deliveries in flight for them still go out, but settle nowhere."""
        with self._lock:
            numbers = [n for task_id in task_ids for n in self._by_task.pop(task_id, ())]
            for number in numbers:
                self._uncount(self._records.pop(number))
        return len(numbers)

    def _add(self, records: list[CallbackRecord]) -> list[int]:
        """Keep the records (under the lock); their numbers. Past the limit the oldest tenth
        goes at once, as the journal's (requestlog.py), so the trim is rare."""
        numbers = []
        for record in records:
            number = next(self._numbers)
            self._records[number] = record
            self._by_task.setdefault(record.task_id, []).append(number)
            self._per_account[record.account_id] += 1
            numbers.append(number)
        limit = self._limit
        if limit is not None and len(self._records) > limit:
            excess = len(self._records) - limit + limit // 10
            for number in list(itertools.islice(self._records, excess)):
                self._forget(number)
            self._dropped += excess
        return numbers

    def _forget(self, number: int) -> None:
        """Drop one record and its place in its task's list; under the lock."""
        record = self._records.pop(number)
        self._uncount(record)
        numbers = self._by_task[record.task_id]
        numbers.remove(number)  # the oldest of its task when trimming: at the front
        if not numbers:
            del self._by_task[record.task_id]

    def _uncount(self, record: CallbackRecord) -> None:
        self._per_account[record.account_id] -= 1
        if not self._per_account[record.account_id]:
            del self._per_account[record.account_id]  # accounts come and go: no zeros kept

    def dispatch(
        self, task_id: str, url: str, payload: dict[str, Any], *, account_id: str | None = None
    ) -> None:
        """Record the callback (each copy); deliver it if the URL may be called. Needs a
        running loop."""
        settings, now = self.settings, self._clock()
        refusal = loopback_refusal(url, self._allowed_hosts)
        if refusal is None and control_route_of(url, self._own_ports):
            refusal = SELF_REFUSAL
        shown_url, shown_payload = mask_secrets(url), masked_json(payload)  # kept: masking.py
        records = [
            CallbackRecord(
                task_id,
                shown_url,
                shown_payload,
                settings.headers(task_id, now),
                False,
                refusal or "pending",
                None,
                copy=copy,
                tampered=settings.tamper,
                sent_at=now,
                account_id=account_id,
            )
            for copy in range(1, settings.copies + 1)
        ]
        with self._lock:
            numbers = self._add(records)
        self._on_change()
        if refusal is None:
            # sent as made: to the URL and with the body as given, not as kept
            batch = (payload, list(zip(numbers, records, strict=True)))
            queue = self._queues.get((task_id, url))
            if queue is not None:  # a delivery to this task and URL is in flight: wait for it
                queue.append(batch)
                return
            self._queues[(task_id, url)] = deque([batch])
            task = asyncio.get_running_loop().create_task(self._deliver_in_turn(task_id, url))
            self._in_flight[task] = (task_id, account_id)
            task.add_done_callback(self._landed)

    def serves_on(self, port: int) -> None:
        """Note a port the mock listens on (its API's, its upload host's): a callback to the
        mock's own control routes there is never sent (control_route_of)."""
        self._own_ports.add(port)

    def queued(self, task_id: str | None = None) -> int:
        """Callbacks (copies counted) owed and waiting for an earlier one of the same task to
        the same URL to be answered (of ``task_id``, or of every task); loop thread only."""
        return sum(
            len(copies)
            for (task, _), queue in self._queues.items()
            if task_id is None or task == task_id
            for _, copies in list(queue)[1:]  # the first is the one in flight
        )

    def record_undelivered(
        self,
        task_id: str,
        url: str,
        payload: dict[str, Any],
        reason: str,
        *,
        account_id: str | None = None,
    ) -> None:
        """Record a callback that is never sent: a test asked for its delivery to fail
        (the callback_fail outcome, rules.py)."""
        headers = {"Content-Type": "application/json"}
        with self._lock:
            record = CallbackRecord(
                task_id,
                mask_secrets(url),
                masked_json(payload),
                headers,
                False,
                reason,
                None,
                sent_at=self._clock(),
                account_id=account_id,
            )
            self._add([record])
        self._on_change()

    async def _deliver_in_turn(self, task_id: str, url: str) -> None:
        """Every callback owed to this task and URL, oldest first, until none is left; those
        owed meanwhile join the queue (dispatch)."""
        queue = self._queues[(task_id, url)]
        try:
            while queue:
                await self._deliver_all(url, *queue[0])
                queue.popleft()
        except asyncio.CancelledError:
            for _, indexed in list(queue)[1:]:  # the first settled its own
                for index, record in indexed:
                    self._settle(index, record, None, "cancelled: the mock server stopped")
            raise
        finally:
            del self._queues[(task_id, url)]

    async def _deliver_all(
        self, url: str, payload: dict[str, Any], indexed: list[tuple[int, CallbackRecord]]
    ) -> None:
        """The copies one after the other, as a sender retrying a delivery would."""
        for position, (index, record) in enumerate(indexed):
            try:
                await self._deliver(index, record, url, payload)
            except asyncio.CancelledError:
                for later_index, later in indexed[position + 1 :]:
                    self._settle(later_index, later, None, "cancelled: the mock server stopped")
                raise

    async def open(self) -> None:
        """Open the session every delivery shares (the server's startup, on its loop)."""
        if self._shared is None:
            stack = contextlib.AsyncExitStack()
            session = await stack.enter_async_context(self._egress.session())
            self._shared = (stack, session)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The shared session; one of the delivery's own when there is none (a dispatcher
        used without a server, or a callback owed once its shutdown began)."""
        if self._shared is not None:
            yield self._shared[1]
            return
        async with self._egress.session() as session:
            yield session

    async def _deliver(
        self, index: int, record: CallbackRecord, url: str, payload: dict[str, Any]
    ) -> None:
        """POST ``payload`` to ``url`` (as given: the record keeps them masked) and settle the
        record with what came of it."""
        status: int | None = None
        answer: str | None = None
        try:
            # no redirect is followed, and every connection goes through the egress check
            # (loopback or an allowed host, after DNS too): see egress.py
            async with (
                self._session() as session,
                self._egress.request(
                    session,
                    "POST",
                    url,
                    data=dumps(payload).encode(),
                    headers=record.headers,
                    timeout=aiohttp.ClientTimeout(total=self._timeout),
                ) as response,
            ):
                status = response.status
                answer = (await response.read()).decode("utf-8", "replace")[:ANSWER_LIMIT]
            reason = None if 200 <= status < 300 else f"receiver answered HTTP {status}"
        except asyncio.CancelledError:
            self._settle(index, record, status, "cancelled: the mock server stopped")
            raise
        except EgressRefused as exc:  # its text, as the next one's, may name the URL: masked
            reason = mask_secrets(
                f"not loopback: the mock never calls hosts outside this machine ({exc})"
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = mask_secrets(f"delivery failed: {type(exc).__name__}: {exc}")
        self._settle(index, record, status, reason, answer)

    def _settle(
        self,
        index: int,
        record: CallbackRecord,
        status: int | None,
        reason: str | None,
        answer: str | None = None,
    ) -> None:
        with self._lock:
            if self._records.get(index) is not record:
                return  # the records were cleared, or this one forgotten, meanwhile
            self._records[index] = replace(
                record, delivered=reason is None, reason=reason, status=status, answer=answer
            )
        self._on_change()

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)

    async def wait_idle(
        self,
        *,
        task_id: str | None = None,
        account: str | None = None,
        timeout: float | None = None,
    ) -> bool:
        """Wait for the deliveries in flight now of ``task_id`` / ``account`` (None: any), at
        most ``timeout`` seconds (None: the callback timeout, one delivery's longest; a task's
        queued copies or stages may take longer). Only those in flight when it is called: a
        steady stream of other deliveries, or of later ones, cannot keep it waiting. True when
        they all ended; False when the bound came first (their records still say "pending")."""
        selected = [
            delivery
            for delivery, (task, owner) in self._in_flight.items()
            if (task_id is None or task == task_id) and (account is None or owner == account)
        ]
        if not selected:
            return True
        bound = self._timeout if timeout is None else timeout
        _, pending = await asyncio.wait(selected, timeout=bound)
        return not pending

    async def close(self) -> None:
        """Cancel deliveries still in flight (server shutdown), then close the shared session."""
        deliveries = list(self._in_flight)
        for task in deliveries:
            task.cancel()
        await asyncio.gather(*deliveries, return_exceptions=True)
        shared, self._shared = self._shared, None
        if shared is not None:
            await shared[0].aclose()
