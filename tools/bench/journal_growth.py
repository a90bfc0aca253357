"""Target 11: the task journal as it grows to 10^4, 10^5 and 10^6 rows.

A SQLite journal is filled (through SqliteStore, one transaction) with a user's history: one task
every three minutes going back in time (so 10^4 rows span three weeks and 10^6 five years), nearly
all succeeded and downloaded, some failed or rejected, nothing owed. At each size, in fresh child
processes, interleaved over rounds:

- one more submit's journal writes (intend, created, finished, downloaded, through Journal): µs
  per write, wall and CPU;
- ``kie tasks`` (every row, printed to /dev/null), ``kie tasks --limit 20``, ``kie tasks --state
  unfinished`` and ``kie resume`` (nothing owed): wall, CPU and peak RSS of the whole command.

Then ``kie resume`` with every row owed (2,000 to 16,000 unfinished tasks of another API key,
sorted and left alone without a request), whose start-up must grow no faster than the rows: it
once compared rows in lists, n² comparisons (16,000 owed rows took a minute to start).

A figure growing faster than the rows is a defect; ``kie tasks --limit 20``, ``--state
unfinished`` and ``kie resume`` with nothing owed should not grow at all (they need not read
the finished history), nor should a submit's writes. The write cost of the indexes the reads use
(``entries_created_at``, the partial ``entries_open``) is measured by dropping them in a child.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import PYTHON, Row, median_spread

SIZES = (10_000, 100_000, 1_000_000)
EVERY = 180.0  # seconds between two tasks of the history
SUBMITS = 200  # submits per child: 4 writes each
NOISE = 1.5  # "flat": the largest journal's figure within this factor of the smallest's …
NOISE_MS = 30.0  # … or within this many ms of it (process start-up jitter)
NOISE_MB = 8.0  # … and peak RSS within this many MiB
MODEL = "grok-imagine/text-to-image"
COMMANDS = {
    "kie tasks": ["tasks"],
    "kie tasks --limit 20": ["tasks", "--limit", "20"],
    "kie tasks --state unfinished": ["tasks", "--state", "unfinished"],
    "kie resume (nothing owed)": ["resume", "--base-url", "http://127.0.0.1:9"],
}
OWED_SIZES = (2_000, 8_000, 16_000)
OWED = "kie resume (every row owed)"
OWED_ARGV = ["resume", "--base-url", "http://127.0.0.1:9"]
FLAT = ("kie tasks --limit 20", "kie tasks --state unfinished", "kie resume (nothing owed)")


def fill(path: Path, rows: int, result_file: Path) -> None:
    """A journal of ``rows`` finished tasks, the newest created now."""
    from kiekit.journal import Entry, EntryState, SqliteStore
    from kiekit.models import Asset, MediaKind

    store = SqliteStore(path)
    now = time.time()
    with store.batch():
        for n in range(rows):
            created = now - (rows - n) * EVERY
            state = EntryState.SUCCEEDED
            if n % 50 == 7:
                state = EntryState.FAILED
            elif n % 97 == 3:
                state = EntryState.REJECTED
            done = state is EntryState.SUCCEEDED
            url = f"https://tempfile.example/{n:08x}/image.png"
            error = None if done else {"type": "TaskFailedError", "code": 500, "message": "busy"}
            store.insert(
                Entry(
                    key=f"{n:032x}",
                    model=MODEL,
                    request={"model": MODEL, "input": {"prompt": f"a red fox, number {n}"}},
                    state=state,
                    created_at=created,
                    updated_at=created + 40,
                    task_id=None if state is EntryState.REJECTED else f"task{n:012x}",
                    base_url="https://api.kie.ai",
                    out_dir=str(result_file.parent),
                    assets=(Asset(url, MediaKind.IMAGE, "image/png"),) if done else (),
                    files=(str(result_file),) if done else (),
                    error=error,
                )
            )
    store.close()


def fill_owed(path: Path, rows: int) -> None:
    """A journal of ``rows`` tasks created with another API key and never seen finished: all
    owed, each left alone by ``kie resume`` (KIE shows a task only to its own key)."""
    from kiekit.journal import Entry, EntryState, SqliteStore

    store = SqliteStore(path)
    now = time.time()
    with store.batch():
        for n in range(rows):
            created = now - (rows - n)
            store.insert(
                Entry(
                    key=f"{n:032x}",
                    model=MODEL,
                    request={"model": MODEL, "input": {"prompt": f"a red fox, number {n}"}},
                    state=EntryState.CREATED,
                    created_at=created,
                    updated_at=created,
                    task_id=f"task{n:012x}",
                    base_url=OWED_ARGV[-1],
                    account="another-api-key",
                )
            )
    store.close()


def measure_owed(rounds: int = 3, sizes: tuple[int, ...] = OWED_SIZES) -> list[Row]:
    """``kie resume`` on journals whose every row is owed: CPU no faster than the rows."""
    folder = Path(tempfile.mkdtemp(prefix="kiekit-resume-owed-"))
    paths = {size: folder / f"owed-{size}.sqlite3" for size in sizes}
    for size, path in paths.items():
        fill_owed(path, size)
    commands: dict[tuple[int, str], list[dict[str, float]]] = {}
    for _ in range(rounds):
        for size, path in paths.items():
            run = _command(path, OWED_ARGV, exits=(1,))  # 1: still owed, to the other key
            commands.setdefault((size, OWED), []).append(run)
    for path in paths.values():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return [_command_row(OWED, commands, sizes, memory=False)]


def _submits(path: str, drop: str) -> dict[str, float]:
    """One child: SUBMITS submits' journal writes on the journal at ``path``."""
    from kiekit.journal import Journal, SqliteStore
    from kiekit.models import Asset, MediaKind, Results, Task

    store = SqliteStore(path)
    journal = Journal(store)
    connection = store._connection()  # the bench alone drops indexes
    for index in filter(None, drop.split(",")):
        connection.execute(f"DROP INDEX IF EXISTS {index}")
    result = Path(path).with_suffix(".png")
    cpu, started = _cpu(), time.perf_counter()
    for n in range(SUBMITS):
        intent = journal.intend(MODEL, {"model": MODEL, "input": {"prompt": f"bench {n}"}})
        assert intent is not None
        task = Task(f"bench-{os.getpid()}-{n}", MODEL)
        journal.created(intent, task)
        asset = Asset(f"https://tempfile.example/bench/{n}.png", MediaKind.IMAGE)
        journal.finished(task, Results(task.id, (asset,)))
        journal.downloaded(task.id, [result], result.parent)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    store.close()
    if drop:  # the indexes back (opening a store makes them), untimed, before anything reads
        again = SqliteStore(path)
        again.get("-")
        again.close()
    writes = 4 * SUBMITS
    return {"us": 1e6 * seconds / writes, "cpu_us": 1e6 * cpu / writes}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _command(path: Path, argv: list[str], exits: tuple[int, ...] = (0,)) -> dict[str, float]:
    """One ``kie`` command in its own process: wall seconds, CPU seconds, peak RSS (MiB)."""
    env = {**os.environ, "KIEKIT_JOURNAL_URL": f"sqlite://{path}", "KIE_API_KEY": "bench-key"}
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        child = subprocess.Popen(  # noqa: S603 - our interpreter, kiekit's CLI
            [PYTHON, "-c", "import sys; from kiekit.cli import main; sys.exit(main())", *argv],
            stdout=sink,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in exits:
        raise RuntimeError(f"kie {' '.join(argv)} exited {child.returncode}")
    return {"s": wall, "cpu": usage.ru_utime + usage.ru_stime, "mb": usage.ru_maxrss / 1024}


def measure(rounds: int = 3, sizes: tuple[int, ...] = SIZES) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="kiekit-journal-growth-"))
    result_file = folder / "result.png"
    result_file.write_bytes(b"\x89PNG\r\n\x1a\n")
    paths = {}
    for size in sizes:
        paths[size] = folder / f"journal-{size}.sqlite3"
        started = time.perf_counter()
        fill(paths[size], size, result_file)
        seconds, megabytes = time.perf_counter() - started, paths[size].stat().st_size / 2**20
        print(
            f"  filled {size:,} rows in {seconds:.0f} s ({megabytes:.0f} MiB)",
            file=sys.stderr,
            flush=True,
        )
    submit: dict[tuple[int, str], list[dict[str, float]]] = {}
    commands: dict[tuple[int, str], list[dict[str, float]]] = {}
    top = sizes[-1]
    variants = {"": "all indexes", "entries_open": "without entries_open",
                "entries_open,entries_created_at": "without either"}  # fmt: skip
    for _ in range(rounds):
        for size in sizes:
            for drop in variants if size == top else [""]:
                child = subprocess.run(  # noqa: S603 - our interpreter, this file
                    [PYTHON, __file__, "--submits", str(paths[size]), drop],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                submit.setdefault((size, drop), []).append(json.loads(child.stdout))
            for name, argv in COMMANDS.items():
                commands.setdefault((size, name), []).append(_command(paths[size], argv))
    rows = [_submit_row(submit, sizes, variants)]
    rows += [_command_row(name, commands, sizes) for name in COMMANDS]
    for path in paths.values():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return rows


def _submit_row(
    submit: dict[tuple[int, str], list[dict[str, float]]],
    sizes: tuple[int, ...],
    variants: dict[str, str],
) -> Row:
    def figure(size: int, drop: str) -> tuple[float, str]:
        """CPU per write (what the mark is judged on: the machine is shared), and the text."""
        wall, spread = median_spread([r["us"] for r in submit[size, drop]])
        cpu = median_spread([r["cpu_us"] for r in submit[size, drop]])[0]
        return cpu, f"{wall:.0f} ({spread}) µs, CPU {cpu:.0f} µs"

    bottom, top = sizes[0], sizes[-1]
    by_size = "; ".join(f"{size:,} rows: {figure(size, '')[1]}" for size in sizes)
    indexes = "; ".join(f"{label}: {figure(top, drop)[1]}" for drop, label in variants.items())
    growth = figure(top, "")[0] / figure(bottom, "")[0]
    return Row(
        f"11 journal write per submit step, {bottom:,} to {top:,} rows",
        f"µs per journal write (4 a submit), by rows: {by_size}. At {top:,}, {indexes}",
        f"{growth:.2f}",
        f"CPU at {top:,} ≤ {NOISE:g}x at {bottom:,}",
        growth <= NOISE,
    )


def _command_row(
    name: str,
    commands: dict[tuple[int, str], list[dict[str, float]]],
    sizes: tuple[int, ...],
    *,
    memory: bool = True,  # False: the rows are all held in memory (owed ones): not judged flat
) -> Row:
    bottom, top = sizes[0], sizes[-1]
    cells = []
    walls, cpus, rss = {}, {}, {}
    for size in sizes:
        runs = commands[size, name]
        walls[size], spread = median_spread([1000 * r["s"] for r in runs])
        cpus[size] = median_spread([1000 * r["cpu"] for r in runs])[0]
        rss[size] = median_spread([r["mb"] for r in runs])[0]
        cells.append(
            f"{size:,}: {walls[size]:.0f} ({spread}) ms, CPU {cpus[size]:.0f} ms, "
            f"{rss[size]:.0f} MiB"
        )
    # judged on CPU: the machine is shared, and another's load stretches wall time alone
    growth = cpus[top] / cpus[bottom]
    rows_growth = top / bottom
    memory_flat = rss[top] - rss[bottom] <= NOISE_MB or not memory
    if name in FLAT:
        met = (growth <= NOISE or cpus[top] - cpus[bottom] <= NOISE_MS) and memory_flat
        goal = f"flat: CPU ≤ {NOISE:g}x (or +{NOISE_MS:g} ms), RSS +{NOISE_MB:g} MiB"
    else:
        met = growth <= rows_growth and memory_flat
        goal = f"CPU ≤ linear ({rows_growth:g}x)" + (
            f", RSS flat (+{NOISE_MB:g} MiB)" if memory else ""
        )
    return Row(
        f"11 {name}, {bottom:,} to {top:,} rows",
        f"wall, CPU, peak RSS of the command, by rows: {'; '.join(cells)}",
        f"{growth:.2f}",
        goal,
        met,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--submits"]:
        print(json.dumps(_submits(sys.argv[2], sys.argv[3] if sys.argv[3:] else "")))
    else:
        from harness import format_table

        quick = "--quick" in sys.argv
        rounds = 2 if quick else 3
        rows = measure(rounds=rounds, sizes=SIZES[:2] if quick else SIZES)
        print(format_table([*rows, *measure_owed(rounds)]))
