"""What the journal commands share: an AsyncClient on the command's connection, and the journal."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING

from kiekit.cli._common import connect
from kiekit.errors import ValidationError

if TYPE_CHECKING:
    from kiekit.client import AsyncClient
    from kiekit.journal import Journal
    from kiekit.polling import PollPolicy


def open_async_client(
    args: argparse.Namespace, stack: contextlib.AsyncExitStack, journal: Journal
) -> AsyncClient:
    """An AsyncClient that records into ``journal``: the embedded mock with --mock, else KIE
    (or --base-url) with KIE_API_KEY."""
    from kiekit.client import AsyncClient

    connection = connect(args, stack)
    options = dict(connection.options)
    poll = _poll_policy(getattr(args, "poll_interval", None)) or options.pop("poll", None)
    options.pop("poll", None)
    client = AsyncClient(connection.api_key, journal=journal, poll=poll, **options)
    stack.push_async_callback(client.close)
    return client


def _poll_policy(interval: float | None) -> PollPolicy | None:
    """``--poll-interval S``: polls every S seconds at first, growing as usual (None: default)."""
    from kiekit.polling import PollPolicy

    if interval is None:
        return None
    if not interval > 0:
        raise ValidationError("--poll-interval", "must be a positive number of seconds")
    return PollPolicy(initial=interval, maximum=max(interval, PollPolicy().maximum))
