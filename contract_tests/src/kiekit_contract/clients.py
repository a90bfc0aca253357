"""Clients wired for tests: a fake API key, the mock's base URL and a poll policy in milliseconds.

KIE asks clients to poll every 2–5 s (kie-api.md §2.2), which is right for the real API and far
too slow against an in-memory mock; :data:`FAST_POLL` keeps a deadline all the same, so a task
the mock never finishes fails the test within seconds instead of hanging it.
"""

from __future__ import annotations

from kiekit import AsyncClient, Client, PollPolicy, Registry, RetryPolicy
from kiekit.transport import SyncTransport

__all__ = ["FAST_POLL", "TEST_API_KEY", "async_client_for", "client_for"]

TEST_API_KEY = "test-key"  # the mock accepts any non-empty key; each key is its own account
FAST_POLL = PollPolicy(initial=0.005, growth=0.01, maximum=0.05, timeout=10.0)


def client_for(
    base_url: str,
    *,
    registry: Registry | None = None,
    api_key: str = TEST_API_KEY,
    transport: SyncTransport | None = None,
    upload_base_url: str | None = None,
    retry: RetryPolicy | None = None,
) -> Client:
    """A blocking client on ``base_url`` (the mock's), polling fast. Close it (``with``).
    ``retry``: its retry policy (``RetryPolicy.never()``: a test sees the first failure)."""
    return Client(
        api_key,
        base_url=base_url,
        registry=registry,
        transport=transport,
        upload_base_url=upload_base_url,
        retry=retry,
        poll=FAST_POLL,
        timeout=10.0,
        rate_limits=None,  # the mock need not be spared KIE's limits (kiekit.ratelimit)
    )


def async_client_for(
    base_url: str,
    *,
    registry: Registry | None = None,
    api_key: str = TEST_API_KEY,
    upload_base_url: str | None = None,
) -> AsyncClient:
    """An asyncio client on ``base_url``. Create and close it inside one event loop::

    async def main() -> None:
        async with async_client_for(mock.base_url) as kie:
            ...
    asyncio.run(main())
    """
    return AsyncClient(
        api_key,
        base_url=base_url,
        registry=registry,
        poll=FAST_POLL,
        timeout=10.0,
        upload_base_url=upload_base_url,
        rate_limits=None,  # the mock need not be spared KIE's limits (kiekit.ratelimit)
    )
