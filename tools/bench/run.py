"""The benchmark suite: every performance target of kiekit, measured side by side in one run.

    python3 -m uv sync --all-packages --locked --group bench
    python3 -m uv run --no-sync python tools/bench/run.py [--quick] [--only 1,3] [--skip-suite]

Prints each target's rows as soon as they are measured (a crash later loses nothing), then one
table of them all: per target the measured figures (medians of interleaved rounds, with
min–max), the ratio the target is stated in, the goal, and "pass" or "falls short". It never fails a
build: shared machines are too noisy for that; the figures are for people to read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import client_overhead
import downloads
import growth
import journal_growth
import mock_growth
import mock_throughput
import polling_cost
import rate_limit
import scale
import startup
import suite
import teams
from harness import Row, format_table


def targets(quick: bool) -> dict[str, Callable[[], list[Row]]]:
    rounds = 2 if quick else 3
    return {
        "1": lambda: client_overhead.measure(rounds=rounds, tasks=300 if quick else 1000),
        "2": lambda: mock_throughput.measure(rounds=rounds, seconds=1.0 if quick else 2.0),
        "3": lambda: startup.measure(rounds=5 if quick else 15),
        "4": lambda: scale.measure(tasks=1000 if quick else 10_000),
        "5": lambda: rate_limit.measure(tasks=100 if quick else 500),
        "6": lambda: polling_cost.measure(),
        "7": suite.measure,
        "8": lambda: [
            *downloads.measure(rounds=rounds, size_mb=100 if quick else 300),
            *downloads.measure_many(rounds, (200, 2_000) if quick else downloads.MANY),
        ],
        "9": lambda: growth.measure(
            rounds=rounds, levels=growth.LEVELS[:4] if quick else growth.LEVELS
        ),
        "10": lambda: teams.measure(jobs=20 if quick else 40),
        "11": lambda: [
            *journal_growth.measure(
                rounds=rounds, sizes=journal_growth.SIZES[:2] if quick else journal_growth.SIZES
            ),
            *journal_growth.measure_owed(rounds),
            *(mock_growth.measure(mock_growth.QUICK, 10_000) if quick else mock_growth.measure()),
            *mock_growth.measure_soak(mock_growth.SOAK_QUICK if quick else mock_growth.SOAK),
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and tasks (a smoke)")
    parser.add_argument("--only", default="", help="comma-separated target numbers, e.g. 1,3")
    parser.add_argument("--skip-suite", action="store_true", help="leave out target 7")
    parser.add_argument(
        "--skip-teams", action="store_true", help="leave out target 10 (several minutes)"
    )
    args = parser.parse_args()
    chosen = targets(args.quick)
    if args.only:
        chosen = {key: run for key, run in chosen.items() if key in args.only.split(",")}
    if args.skip_suite:
        chosen.pop("7", None)
    if args.skip_teams:
        chosen.pop("10", None)
    rows: list[Row] = []
    for key, run in chosen.items():
        started = time.perf_counter()
        print(f"target {key}…", file=sys.stderr, flush=True)
        measured = run()
        rows += measured
        print(format_table(measured), flush=True)
        print(f"target {key}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if len(chosen) > 1:
        print("\nall targets:\n" + format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
