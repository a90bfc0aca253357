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

import math
import secrets
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from kiekit.errors import ConfigurationError, RateLimitStoreError
from kiekit.ratelimit import Rate, RateLimits

if TYPE_CHECKING:
    from kiekit._engine.ops import Reserve

__all__ = ["LIMITS_URL_ENV", "SharedRateLimiter", "redacted"]

LIMITS_URL_ENV = "KIEKIT_LIMITS_URL"
SCHEMES = ("redis", "rediss", "unix")

# Books one slot in every window named in KEYS, at the first moment all of them allow (as
# kiekit.ratelimit._Window.earliest: after the last slot handed out, and a window plus the
# margin after the count-th last one). Times in microseconds of the server's clock.
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
  redis.call('ZREMRANGEBYRANK', key, 0, -(count + 1))
  redis.call('PEXPIRE', key, math.ceil((slot - now + per + margin) / 1000) + 1000)
end
return slot - now
"""

_MICRO = 1_000_000


def redacted(url: str) -> str:
    """``url`` without its password, fit for an error message or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


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
    on one Redis.
    """

    def __init__(
        self,
        url: str,
        limits: RateLimits | None = None,
        *,
        prefix: str = "kiekit:limits",
        option: str = "rate_limits",
    ) -> None:
        self.url = check_url(url, option)
        self.limits = limits or RateLimits()
        self.prefix = prefix
        self._lock = threading.Lock()
        self._sync: Any = None  # (client, script), made on first use
        self._async: dict[int, tuple[Any, Any, Any]] = {}  # id(loop) -> (loop, client, script)

    def __repr__(self) -> str:
        return f"SharedRateLimiter({redacted(self.url)!r}, {self.limits!r})"

    # -- what a reservation sends -----------------------------------------------------------

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
        arguments: list[Any] = [secrets.token_hex(8), within, margin]
        for _key, rate in windows:
            arguments += [rate.count, round(rate.per * _MICRO)]
        return arguments

    @staticmethod
    def _wait(answer: Any) -> float | None:
        waiting = int(answer)
        return None if waiting < 0 else waiting / _MICRO

    # -- the blocking client ----------------------------------------------------------------

    def reserve(self, op: Reserve) -> float | None:
        """Book the slot ``op`` asks for: the seconds to wait, or None when it would come
        later than ``op.within``. Blocking (``Client``'s driver)."""
        windows = self._windows(op)
        if not windows:
            return 0.0
        redis = _redis()
        try:
            script = self._sync_script(redis)
            answer = script(keys=[key for key, _ in windows], args=self._arguments(op, windows))
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return self._wait(answer)

    def _sync_script(self, redis: Any) -> Any:
        with self._lock:
            if self._sync is None:
                client = redis.Redis.from_url(self.url)
                self._sync = client.register_script(_RESERVE)
            return self._sync

    # -- the asyncio client -----------------------------------------------------------------

    async def reserve_async(self, op: Reserve) -> float | None:
        """:meth:`reserve` on the running event loop (``AsyncClient``'s driver), never
        blocking it."""
        windows = self._windows(op)
        if not windows:
            return 0.0
        redis = _redis()
        try:
            script = self._async_script()
            answer = await script(
                keys=[key for key, _ in windows], args=self._arguments(op, windows)
            )
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return self._wait(answer)

    def _async_script(self) -> Any:
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
                held = self._async[id(loop)] = (loop, client, client.register_script(_RESERVE))
            return held[2]

    def close(self) -> None:
        """Close the blocking client's connections; a later reservation opens new ones (so a
        limiter shared by several clients survives one of them closing)."""
        with self._lock:
            held, self._sync = self._sync, None
        if held is not None:
            held.registered_client.close()

    async def aclose(self) -> None:
        """Close the running event loop's connections (as :meth:`close`)."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._async.pop(id(loop), None)
        if held is not None and held[0] is loop:
            await held[1].aclose()

    def _unavailable(self, exc: Exception) -> RateLimitStoreError:
        return RateLimitStoreError(
            f"the shared rate limits at {redacted(self.url)} cannot be used: {exc}",
            url=redacted(self.url),
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
