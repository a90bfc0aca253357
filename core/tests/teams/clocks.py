"""The clock the journal tests move by hand (``clock.now += lease + 1``): a lease runs out
without a sleep. conftest's ``clock`` fixture gives one; a module marked ``fake_clock`` runs
its memory and SQLite stores on it (PostgreSQL reads its server's own clock)."""

from __future__ import annotations


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now
