"""What bounds the mock's memory, in bytes as well as in counts (MockConfig.memory_limit).

The count limits (journal_limit, task_limit) alone do not bound a long-running shared mock: a
task holds its create body (up to 1 MB) as the request body and again as its record's
``param``, and each record of the journal its body and answer, so 100,000 tasks of 1 MB bodies
came to GBs. So the bytes each keeps are counted as it is kept — a body as its JSON text, an
answer as sent — and past its share of ``memory_limit`` the oldest go first, as past a count
limit:

- tasks: 3/8 (the oldest *finished* tasks are forgotten; a pending one is always kept);
- finished tasks' status answers, rendered once and sent again (envelope.Prerendered): 1/8,
  and one over PRERENDER_BYTES is not cached at all (rendered at each poll instead);
- journal records: 1/2 (a body kept up to requestlog.BODY_LIMIT, a preview past it; an
  answer's first TEXT_ANSWER_LIMIT bytes).

Each entry also counts a fixed OVERHEAD for what Python keeps around it, so the byte limit
bounds many tiny entries too. The counts are an accounting of what is kept, not of the
process's memory: Python's objects around those bytes come on top (about as much again).
"""

from __future__ import annotations

from dataclasses import dataclass

OVERHEAD = 512  # bytes counted for each task, answer or record besides what it holds
PRERENDER_BYTES = 64 * 1024  # a rendered answer larger than this is not cached


@dataclass(frozen=True)
class Shares:
    """Each store's byte limit (None: none), shared out of MockConfig.memory_limit."""

    tasks: int | None
    answers: int | None
    journal: int | None

    @classmethod
    def of(cls, total: int | None) -> Shares:
        """``total``: MockConfig.memory_limit."""
        if total is None:
            return cls(None, None, None)
        answers = max(total // 8, 1)
        journal = max(total // 2, 1)
        return cls(max(total - answers - journal, 1), answers, journal)


def under(limit: int) -> int:
    """What a store trims down to once past ``limit``: a tenth below it, so that the cost of
    letting go is spread over many additions (as the count limits do)."""
    return limit - limit // 10


__all__ = ["OVERHEAD", "PRERENDER_BYTES", "Shares", "under"]
