"""Target 7: the README's test command (ruff, format check, mypy, pytest) in wall-clock time.

It runs the command `.ci/run` runs, minus the install steps (already done for the bench), from
the repository root, and reports the total.
"""

from __future__ import annotations

import subprocess
import sys
import time

from harness import ROOT, Row

LIMIT_S = 300
STEPS = (
    ["ruff", "check"],
    ["ruff", "format", "--check"],
    ["mypy"],
    ["pytest", "-q", "-p", "no:cacheprovider"],
)


def measure() -> list[Row]:
    started = time.perf_counter()
    failed = []
    for step in STEPS:
        done = subprocess.run(  # noqa: S603 - our interpreter, our tools
            [sys.executable, "-m", *step], cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode != 0:
            failed.append(" ".join(step))
    seconds = time.perf_counter() - started
    note = f"; failed: {', '.join(failed)}" if failed else ""
    return [
        Row(
            "7 the README test command",
            f"{seconds:.0f} s for ruff, format, mypy and pytest{note}",
            f"{seconds / LIMIT_S:.2f}",
            f"≤ {LIMIT_S} s",
            seconds <= LIMIT_S and not failed,
        )
    ]


if __name__ == "__main__":
    from harness import format_table

    print(format_table(measure()))
