"""A status outage, said once per client, not once per wait (outside tester "observe", finding
6: a 4-second outage under 200 waits gave 400 warnings).

A wait whose polls fail twice in a row joins the outage; the first to join says it (WARNING),
naming the cause. Each wait that hears an answer again, or ends, leaves it; when the last one
leaves, the end is said once (WARNING when a poll answered again, with how long it lasted and
how many waits it held up). One client may be used from many threads: a lock keeps the count."""

from __future__ import annotations

import logging
import threading

from kiekit._engine import request_log
from kiekit.errors import KieError

log = logging.getLogger("kiekit")


class Outage:
    """The waits of one client whose status polls keep failing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waits: set[object] = set()  # each wait's own token: one task may have two waits
        self._held = 0  # the waits it held up, since it began
        self._began = 0.0

    @property
    def under_way(self) -> bool:
        """Whether an outage is said already (a wait's own failures then stay at DEBUG)."""
        return bool(self._waits)

    def failing(self, wait: object, task_id: str, error: KieError, now: float) -> None:
        """``wait`` (its polls, for task ``task_id``) failed twice in a row, ``error`` last."""
        with self._lock:
            if wait in self._waits:
                return
            first = not self._waits
            self._waits.add(wait)
            if first:
                self._held, self._began = 0, now
            self._held += 1
        if first:
            log.warning(
                "status polls keep failing (task %s first; other waits of this client are "
                "counted, not said), still trying until each wait's deadline: %s",
                task_id,
                error,
                extra=request_log.fields(task_id=task_id, outage="began"),
            )

    def left(self, wait: object, now: float | None, *, answered: bool) -> None:
        """``wait`` polled through (``answered``), or ended: it is out of the outage."""
        with self._lock:
            if wait not in self._waits:
                return
            self._waits.discard(wait)
            if self._waits:
                return
            held, lasted = self._held, (now or self._began) - self._began
        if answered:
            log.warning(
                "status polls answer again, after %.1f s of failures that held up %d wait%s",
                lasted,
                held,
                "" if held == 1 else "s",
                extra=request_log.fields(outage="ended", waits=held, seconds=round(lasted, 3)),
            )
        else:
            log.info(  # ended without a poll answered: how long it lasted is not known
                "no wait polls through the status outage any more (it held up %d wait%s)",
                held,
                "" if held == 1 else "s",
                extra=request_log.fields(outage="left", waits=held),
            )
