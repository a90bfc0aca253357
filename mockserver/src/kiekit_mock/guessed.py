"""The unknown market model ids the mock's log warns of (families/market_models/extra.py),
kept bounded: one line per id for the first ones, then a count."""

from __future__ import annotations

import logging

log = logging.getLogger("kiekit_mock")

# unknown ids said one by one in the log; past them, a count (a client trying a new id per
# task, 238 of them in a Node tester's run, filled a log nobody read and froze the mock)
LOGGED_GUESSES = 100


class GuessedModels:
    """The unknown market ids the log has warned of: each once, the first LOGGED_GUESSES of
    them; after that only how many creates named an id not among them, at 1, 10, 100… so the
    log (and this record) stays bounded however many ids a client invents."""

    def __init__(self, limit: int = LOGGED_GUESSES) -> None:
        self._limit = limit
        self._said: set[str] = set()
        self.unsaid = 0  # creates with an unknown id past the limit

    def say(self, name: str, warning: str) -> None:
        if name in self._said:
            return
        if len(self._said) < self._limit:
            self._said.add(name)
            log.warning("%s", warning)
            return
        self.unsaid += 1
        if self.unsaid == 1 or _power_of_ten(self.unsaid):
            log.warning(
                "kiekit-mock: %d create%s named a market model id the mock does not know past "
                "the first %d, which the log named (these are not named one by one; each "
                "answer still carries the warning in its X-Kiekit-Mock-Warning header)",
                self.unsaid,
                "" if self.unsaid == 1 else "s",
                self._limit,
            )


def _power_of_ten(count: int) -> bool:
    while count % 10 == 0:
        count //= 10
    return count == 1
