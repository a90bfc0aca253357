"""Keeping the rows a worker holds held while it works on them (docs/teams.md): one renewal
for all of a process's jobs on one journal and event loop, every third of the lease. ``kie
batch`` (its claimed jobs) and ``kie resume`` (its taken rows) both use it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from kiekit.errors import KieError
from kiekit.journal._journal import Journal
from kiekit.journal._writer import WRITER

if TYPE_CHECKING:  # asyncio is imported where a loop runs: a sync Client never loads it
    import asyncio

log = logging.getLogger("kiekit.batch")  # where it was said before kie resume shared it

# The lease renewers running, per journal and event loop, with how many jobs use each.
_renewers: dict[tuple[int, int], tuple[asyncio.Task[None], int]] = {}


@contextlib.asynccontextmanager
async def leases_renewed(journal: Journal) -> AsyncIterator[None]:
    """Keep this process's rows of ``journal`` held (their leases renewed every third of the
    lease) while the block runs, from the running event loop. Blocks that overlap share one
    renewal, which ends with the last of them."""
    import asyncio

    slot = (id(journal), id(asyncio.get_running_loop()))
    task, users = _renewers.get(slot) or (asyncio.create_task(_renew_leases(journal)), 0)
    _renewers[slot] = (task, users + 1)
    try:
        yield
    finally:
        task, users = _renewers[slot]
        if users == 1:
            del _renewers[slot]
            task.cancel()
        else:
            _renewers[slot] = (task, users - 1)


async def _renew_leases(journal: Journal) -> None:
    import asyncio

    while True:
        await asyncio.sleep(journal.lease / 3)
        try:  # on the journal's writer thread: the event loop never waits on it
            await WRITER.submit(journal.renew, journal.store)
        except KieError as exc:  # the journal is down: the claims may lapse, nothing is lost
            log.warning("could not renew this worker's job leases: %s", exc)
