"""KIE's rate limits shared by every process and thread on one key, through Redis.

The in-process :class:`~kiekit.ratelimit.RateLimiter` keeps one client (or the clients of one
process) within KIE's limits (kie-api.md §8); workers in several processes on one account each
keep their own count, and together send 429s. :class:`SharedRateLimiter` keeps the same windows
in Redis: each reservation is one Lua script, atomic on the server, timed by the server's own
clock (``TIME``, so hosts whose clocks disagree still agree on the window), and hands out future
slots first come, first served, as the local limiter does: it returns the wait, the caller
sleeps, nothing polls. One sorted set per window holds its last ``count`` send times, under a
key made of a hash of the API key (never the key itself), so clients of one key share windows
and other keys do not.

Redis is an extra (``pip install 'kiekit[redis]'``), imported on the first reservation, never
by ``import kiekit``. ``Client`` reserves with the blocking client, ``AsyncClient`` with
``redis.asyncio`` (its loop never blocks): the engine asks for a slot with a
:class:`~kiekit._engine.ops.Reserve` op and the driver of each client performs it.

Why not the ``limits`` library: its Redis moving window is acquire-or-refuse (``hit`` answers
yes or no; a refused caller must poll for its turn, with no order among waiters) and stamps
entries with each host's own clock; we need a booked future slot, first come first served, on
the server's clock, under the same windows and margin as the local limiter.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kiekit._engine.ops import Reserve  # at run time too: typing.get_type_hints reads it
from kiekit._numbers import finite, shown
from kiekit.errors import ConfigurationError, RateLimitStoreError
from kiekit.ratelimit import Rate, RateLimiter, RateLimits

__all__ = ["LIMITS_URL_ENV", "SharedRateLimiter", "redacted"]

LIMITS_URL_ENV = "KIEKIT_LIMITS_URL"
SCHEMES = ("redis", "rediss", "unix")

# Books one slot in every window named in KEYS, at the first moment all of them allow (as
# kiekit.ratelimit._Window.earliest: after the last slot handed out, and a window plus the
# margin after the count-th last one). Times in microseconds of the server's clock. A window
# keeps every slot less than a window old, not only the last ``count``: one given back
# (_RELEASE) must leave the older ones in force.
# ARGV: member, within (µs from now; -1: no bound), margin (µs), then count and per (µs) per key.
# Returns the µs to wait, or -1 when the slot would come later than ``within`` (nothing booked).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local within = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local slot = now
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 + 2 * i])
  local per = tonumber(ARGV[3 + 2 * i])
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then slot = math.max(slot, tonumber(last[2])) end
  if redis.call('ZCARD', key) >= count then
    local oldest = redis.call('ZRANGE', key, -count, -count, 'WITHSCORES')
    slot = math.max(slot, tonumber(oldest[2]) + per + margin)
  end
end
if within >= 0 and slot - now > within then return -1 end
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[2 + 2 * i])
  local per = tonumber(ARGV[3 + 2 * i])
  redis.call('ZADD', key, slot, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per - margin)
  redis.call('PEXPIRE', key, math.ceil((slot - now + per + margin) / 1000) + 1000)
end
return slot - now
"""

# Admission of a create (or a status poll, with its own keys) just before it goes (as
# kiekit.ratelimit._Arrivals, issue 18): KEYS[1]
# holds answered creates scored by their answer's moment (they reached KIE no later), KEYS[2]
# those in flight scored by the end of their place's lease, which their process renews while
# the request runs (never past its attempt's end). A place whose lease ran out (its worker
# killed mid-request, or its attempt over unanswered) may have reached KIE until then: it is
# counted from then on as answered at that moment. ARGV: member, count, per (µs), lease (µs).
# Returns 0 when admitted (then counted in flight), else the µs to wait before asking again.
# The in-flight key outlives its last lease by a window (its lapsed places still count); a
# key's expiry is only ever lengthened, as other processes' places in it may run longer.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local count, per, timeout = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
if #lapsed > 0 then
  for i = 1, #lapsed, 2 do redis.call('ZADD', KEYS[1], lapsed[i + 1], lapsed[i]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(per / 1000) + 1000)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
local answered = redis.call('ZCARD', KEYS[1])
local excess = answered + redis.call('ZCARD', KEYS[2]) - count + 1
if excess <= 0 then
  redis.call('ZADD', KEYS[2], now + timeout, ARGV[1])
  local ttl = math.ceil((timeout + per) / 1000) + 1000
  if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
  return 0
end
if excess > answered then return math.floor(per / 50) end
local kth = redis.call('ZRANGE', KEYS[1], excess - 1, excess - 1, 'WITHSCORES')
return math.max(tonumber(kth[2]) + per - now, math.floor(per / 1000))
"""

# An admitted create (or poll) was answered: ARGV: member, per (µs).
_ANSWERED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000) + 1000)
return 0
"""

# Places in flight this process still holds, in KEYS[1]: ARGV: lease and per (µs), then the
# member and the µs left to its attempt of each place. A place gone (answered, or lapsed and
# counted answered by an admission) stays gone.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lease = tonumber(ARGV[1])
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'XX', now + math.min(lease, tonumber(ARGV[i + 1])), ARGV[i])
end
local ttl = math.ceil((lease + tonumber(ARGV[2])) / 1000) + 1000
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 0
"""

# A booked slot whose request will not be sent (cancelled while it waited, or given up): its
# member leaves every window in KEYS, so the slots booked after it are not held up by it.
_RELEASE = """
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 0
"""

_MICRO = 1_000_000
_SCRIPTS = (_RESERVE, _ADMIT, _ANSWERED, _RELEASE)  # "book", "admit", "answered", "release"
# How long a place in flight is held without word from its process, which renews the places
# it holds every third of this while their requests run: a worker killed mid-request (kill -9,
# a lost machine) holds its place this long at most, then a window as an arrival (10 s for
# creates, kie-api.md §8), not until its attempt's deadline (60 s by default).
PLACE_LEASE = 6.0
log = logging.getLogger("kiekit")


# query parameters that carry a credential: libpq's and redis-py's `?password=`, and the like
_SECRET_PARAMETERS = frozenset({"password", "pass", "passwd", "pwd", "secret", "token"})


def redacted(url: str) -> str:
    """``url`` without its password, fit for an error message or a log: the ``user:password@``
    form and a ``?password=`` query parameter (which libpq and redis-py take) alike."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        parts = parts._replace(netloc=user + host)
    if parts.query:
        pairs = [pair.partition("=") for pair in parts.query.split("&")]
        query = "&".join(
            f"{name}={'***' if name.lower() in _SECRET_PARAMETERS else value}" if sep else name
            for name, sep, value in pairs
        )
        parts = parts._replace(query=query)
    shown = urlunsplit(parts)
    # urlunsplit drops the empty host of ``postgresql:///db?host=/run/pg`` (one slash left,
    # another URL): the three slashes given are kept
    slashes = f"{parts.scheme}://"
    if parts.scheme and url.startswith(slashes) and not shown.startswith(slashes):
        shown = slashes + shown[len(parts.scheme) + 1 :]
    return shown


def check_url(url: object, option: str) -> str:
    """A Redis URL, or ConfigurationError naming ``option`` (and never the password)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{option} must be a redis:// URL, got {url!r}")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigurationError(f"{option} is not a valid URL: {redacted(url)!r}") from exc
    if parts.scheme not in SCHEMES or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigurationError(
            f"{option} must be a redis://host[:port][/db] URL (or rediss://, unix://), "
            f"got {redacted(url)!r}"
        )
    return url


class SharedRateLimiter:
    """KIE's limits (:class:`~kiekit.ratelimit.RateLimits`) kept in the Redis at ``url`` for
    every client of a key, in every process and thread that uses it.

    ``Client(rate_limits="redis://…")`` makes one; pass one object to several clients of a
    process to share its connections. ``prefix`` keeps the keys of several deployments apart
    on one Redis. ``place_lease``: how long a request's place in flight outlives its process
    (:data:`PLACE_LEASE`).
    """

    def __init__(
        self,
        url: str,
        limits: RateLimits | None = None,
        *,
        prefix: str = "kiekit:limits",
        option: str = "rate_limits",
        place_lease: float = PLACE_LEASE,
    ) -> None:
        self.url = check_url(url, option)
        _redis_installed(option)
        self.limits = limits or RateLimits()
        self.prefix = prefix
        lease = finite(place_lease)
        if lease is None or not lease > 0:
            raise ConfigurationError(
                f"place_lease must be a number of seconds > 0, got {shown(place_lease)}"
            )
        self._places = _Places(self.url, lease)
        self._lock = threading.Lock()
        self._sync: Any = None  # the scripts on a blocking client, made on first use
        self._async: dict[int, tuple[Any, Any, Any]] = {}  # id(loop) -> (loop, client, script)
        # paces this process's status polls while Redis cannot be reached (see _failed)
        self._fallback = RateLimiter(self.limits)
        self._unreachable = False  # said once per outage
        self._answered_once = False  # a later failure is an outage, not a wrong URL

    def __repr__(self) -> str:
        return f"SharedRateLimiter({redacted(self.url)!r}, {self.limits!r})"

    # -- what a reservation sends -----------------------------------------------------------

    def _call(self, op: Reserve) -> tuple[int, list[str], list[Any]] | None:
        """Which script, its keys and its arguments; None when no limit applies."""
        if op.action in ("book", "release"):
            windows = self._windows(op)
            if not windows:
                return None
            keys = [key for key, _ in windows]
            if op.action == "release":
                return 3, keys, [op.member]
            return 0, keys, self._arguments(op, windows)
        # a create's admission (task_id None) or a status poll's, each against its own window
        rate = self.limits.creates if op.task_id is None else self.limits.status
        if rate is None:
            return None
        base = f"{self.prefix}:{{{op.account}}}"
        kind = "" if op.task_id is None else "status-"
        keys = [f"{base}:{kind}answered", f"{base}:{kind}in-flight"]
        per = round(rate.per * _MICRO)
        if op.action == "admit":
            lease = max(round(min(op.timeout, self._places.lease) * _MICRO), 1)
            return 1, keys, [op.member, rate.count, per, lease]
        return 2, keys, [op.member, per]

    def _windows(self, op: Reserve) -> list[tuple[str, Rate]]:
        # {account}: a Redis Cluster hash tag, so every key of one script lives on one node
        base = f"{self.prefix}:{{{op.account}}}"
        if op.task_id is None:
            creates = self.limits.creates
            return [] if creates is None else [(f"{base}:creates", creates)]
        found = []
        if self.limits.status is not None:
            found.append((f"{base}:status", self.limits.status))
        if op.per_task is not None:
            rate = op.per_task
            found.append((f"{base}:task:{op.task_id}:{rate.count}/{rate.per:g}", rate))
        return found

    def _arguments(self, op: Reserve, windows: list[tuple[str, Rate]]) -> list[Any]:
        within = -1 if op.within is None else max(0, math.floor(op.within * _MICRO))
        margin = round(self.limits.margin * _MICRO)
        arguments: list[Any] = [op.member or secrets.token_hex(8), within, margin]
        for _key, rate in windows:
            arguments += [rate.count, round(rate.per * _MICRO)]
        return arguments

    @staticmethod
    def _wait(answer: Any) -> float | None:
        waiting = int(answer)
        return None if waiting < 0 else waiting / _MICRO

    # -- the blocking client ----------------------------------------------------------------

    def reserve(self, op: Reserve) -> float | None:
        """Perform ``op`` (see :class:`~kiekit._engine.ops.Reserve`): the seconds to wait, or
        None when a booking would come later than ``op.within``. Blocking (``Client``'s
        driver)."""
        call = self._call(op)
        if call is None:
            return 0.0
        script, keys, arguments = call
        redis = _redis()
        self._places.leaving(op)
        try:
            scripts = self._sync_scripts(redis)
            answer = scripts[script](keys=keys, args=arguments)
        except redis.RedisError as exc:
            return self._failed(op, exc)
        self._places.admitted(op, keys, arguments, answer)
        return self._answered(answer)

    def _sync_scripts(self, redis: Any) -> Any:
        with self._lock:
            if self._sync is None:
                client = redis.Redis.from_url(self.url)
                self._sync = [client.register_script(text) for text in _SCRIPTS]
            return self._sync

    # -- the asyncio client -----------------------------------------------------------------

    async def reserve_async(self, op: Reserve) -> float | None:
        """:meth:`reserve` on the running event loop (``AsyncClient``'s driver), never
        blocking it."""
        call = self._call(op)
        if call is None:
            return 0.0
        script, keys, arguments = call
        redis = _redis()
        self._places.leaving(op)
        try:
            scripts = self._async_scripts()
            answer = await scripts[script](keys=keys, args=arguments)
        except redis.RedisError as exc:
            return self._failed(op, exc)
        self._places.admitted(op, keys, arguments, answer)
        return self._answered(answer)

    def _async_scripts(self) -> Any:
        """One connection pool per event loop: redis.asyncio's connections belong to the loop
        that opened them (a process may run several loops, one after another)."""
        import asyncio

        from redis import asyncio as aioredis

        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._async.get(id(loop))
            if held is None or held[0] is not loop:
                for key in [k for k, (old, _, _) in self._async.items() if old.is_closed()]:
                    del self._async[key]
                client = aioredis.Redis.from_url(self.url)
                scripts = [client.register_script(text) for text in _SCRIPTS]
                held = self._async[id(loop)] = (loop, client, scripts)
            return held[2]

    def close(self) -> None:
        """Close the blocking client's connections and stop renewing places; a later
        reservation opens new ones (so a limiter shared by several clients survives one of
        them closing: a place it no longer renews lapses a lease on, counted as an arrival)."""
        self._places.stop()
        with self._lock:
            held, self._sync = self._sync, None
        if held is not None:
            held[0].registered_client.close()

    async def aclose(self) -> None:
        """Close the running event loop's connections (as :meth:`close`)."""
        import asyncio

        self._places.stop()
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._async.pop(id(loop), None)
        if held is not None and held[0] is loop:
            await held[1].aclose()

    def _answered(self, answer: Any) -> float | None:
        self._answered_once = True
        if self._unreachable:
            self._unreachable = False
            log.warning("shared rate limits at %s: reachable again", redacted(self.url))
        return self._wait(answer)

    def _failed(self, op: Reserve, exc: Exception) -> float | None:
        """A create that Redis cannot book or admit is stopped (nothing is sent unpaced; the
        engine asks again for about a minute when Redis had answered before, an outage). A
        status poll of a task that exists goes on, paced by this process alone until Redis
        answers again: the task is paid for, and dropping its wait over a Redis restart would
        only leave it for ``kie resume`` (a poll makes nothing; one refused with 429 is asked
        again). A lost "answered" report only keeps the create counted in flight until its
        timeout, so it is logged, not raised over the request's own outcome."""
        if op.action in ("answered", "release"):  # its slot or place lapses by itself
            log.warning("shared rate limits at %s: %s", redacted(self.url), exc)
            return 0.0
        if op.action == "admit" and op.task_id is not None:
            return 0.0  # a poll whose slot this process booked (alone, in an outage): it goes
        if op.action == "book" and op.task_id is not None:
            if not self._unreachable:
                self._unreachable = True
                log.warning(
                    "shared rate limits at %s cannot be used (%s): status polls are paced by "
                    "this process alone until it answers; creates wait for it",
                    redacted(self.url),
                    exc,
                )
            now = time.monotonic()
            latest = None if op.within is None else now + op.within
            return self._fallback.reserve_status(now, op.task_id, op.per_task, latest=latest)
        raise RateLimitStoreError(
            f"the shared rate limits at {redacted(self.url)} cannot be used: {exc}",
            url=redacted(self.url),
            outage=self._answered_once,
        ) from exc


class _Places:
    """The places in flight this process holds (its requests on their way), kept in Redis by
    one thread of its own: every third of the lease it renews them all, one script call per
    window; a place whose attempt is over is let lapse. The thread ends when no place is held
    (the next admission starts another) and belongs to its process: a forked child starts
    its own, holding none of its parent's places. Requests answered within a third of the
    lease, the common case, cost no renewal at all. Closing the limiter stops the thread at once
    (its places lapse a lease on); a Redis lost meanwhile is said once, not at every turn."""

    def __init__(self, url: str, lease: float) -> None:
        self.url = url
        self.lease = lease
        # member -> its in-flight key, its window (µs) and its attempt's end (monotonic)
        self._held: dict[str, tuple[str, int, float]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()  # the running thread's: set, it ends at once
        self._pid = os.getpid()
        self._lost = False  # a renewal failed and was said; said again only once it answers

    def admitted(self, op: Reserve, keys: list[str], arguments: list[Any], answer: Any) -> None:
        """Hold the place ``op`` was just given, if it was (an "admit" answered 0)."""
        if op.action != "admit" or int(answer) != 0:
            return
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's places and thread are not ours
                self._held.clear()
                self._thread, self._pid = None, os.getpid()
            self._held[op.member] = (keys[1], arguments[2], time.monotonic() + op.timeout)
            if self._thread is None:
                self._stopping = threading.Event()  # its own: a stopped one's stays set
                self._thread = threading.Thread(
                    target=self._renew,
                    args=(self._stopping,),
                    name="kiekit-limits-places",
                    daemon=True,
                )
                self._thread.start()

    def stop(self) -> None:
        """Renew nothing more (the limiter is closed): the thread ends now, not once the last
        attempt it holds a place for is over; the places lapse a lease on. A later admission
        starts again."""
        with self._lock:
            self._held.clear()
            self._thread = None
            self._stopping.set()

    def leaving(self, op: Reserve) -> None:
        """``op`` reports its request answered: its place is no longer renewed (gone from
        Redis with the report, or a lease later if the report is lost)."""
        if op.action == "answered":
            with self._lock:
                self._held.pop(op.member, None)

    def _due(self, stopping: threading.Event) -> dict[str, list[Any]] | None:
        """Each window's renewal arguments (members and µs left), or None when nothing is
        held or the thread was stopped: then this thread is done."""
        with self._lock:
            if stopping.is_set():  # stopped: a later admission's places are its thread's
                return None
            now = time.monotonic()
            for member in [m for m, (_, _, end) in self._held.items() if end <= now]:
                del self._held[member]  # its attempt is over: its place ends with it
            if not self._held:
                self._thread = None  # under the lock: the next admission starts another
                return None
            due: dict[str, list[Any]] = {}
            for member, (key, per, end) in self._held.items():
                due.setdefault(key, [round(self.lease * _MICRO), per]).extend(
                    [member, round((end - now) * _MICRO)]
                )
            return due

    def _renew(self, stopping: threading.Event) -> None:
        redis = _redis()
        client = redis.Redis.from_url(self.url)
        try:
            renew = client.register_script(_RENEW)
            while not stopping.wait(self.lease / 3):
                due = self._due(stopping)
                if due is None:
                    return
                for key, arguments in due.items():
                    try:
                        renew(keys=[key], args=arguments)
                    except redis.RedisError as exc:  # they lapse a lease on: the requests go on
                        if stopping.is_set():  # closed meanwhile (and Redis perhaps stopped)
                            return
                        self._said_lost(exc)
                    else:
                        self._said_back()
        finally:
            client.close()

    def _said_lost(self, exc: Exception) -> None:
        """A failed renewal, said once per outage: every turn of every window said it again."""
        if not self._lost:
            self._lost = True
            log.warning(
                "shared rate limits at %s: cannot renew the places of the requests in flight "
                "(%s): they lapse a lease on, and count as arrivals (said once until it answers)",
                redacted(self.url),
                exc,
            )

    def _said_back(self) -> None:
        if self._lost:
            self._lost = False
            log.warning("shared rate limits at %s: renewing places again", redacted(self.url))


def _redis_installed(option: str) -> None:
    """Refuse a shared limiter where it is made when the redis extra is missing: found at the
    first reservation, a batch failed (and journalled) every job on it. Looked for, not
    imported: a limiter made costs no import of redis before its first reservation."""
    import importlib.util

    if importlib.util.find_spec("redis") is None:
        raise ConfigurationError(
            f"{option}: shared rate limits need the redis extra: pip install 'kiekit[redis]'"
        )


def _redis() -> Any:
    """The redis package, imported on first use (an extra: ``kiekit[redis]``)."""
    try:
        import redis
    except ImportError as exc:
        raise ConfigurationError(
            "shared rate limits need the redis package: pip install 'kiekit[redis]'"
        ) from exc
    return redis
