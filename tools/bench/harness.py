"""What every benchmark shares: the result row, medians with their spread, and the servers.

The machines are shared and noisy, so a figure that matters is a ratio between two things
measured in the same run, as the median of interleaved rounds, printed with its spread.
Servers run in their own processes (one process per side, as a user's would), bound to loopback.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# kiekit journals every task (on by default, as users run it); the bench's thousands of mock
# tasks go to a folder of their own, never into the user's real journal.
os.environ["KIEKIT_DATA_DIR"] = tempfile.mkdtemp(prefix="kiekit-bench-")


@dataclass(frozen=True)
class Row:
    """One line of the report: a target, what was measured, and whether it was met."""

    target: str
    measured: str
    ratio: str
    goal: str
    met: bool | None  # None: not measured (the reason is in `measured`), or no goal


def median_spread(values: Sequence[float], fmt: str = "{:.0f}") -> tuple[float, str]:
    """The median and "min–max" of the rounds."""
    middle = statistics.median(values)
    spread = f"{fmt.format(min(values))}–{fmt.format(max(values))}"
    return middle, spread


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used (Linux /proc; None elsewhere)."""
    return _stat_cpu(Path(f"/proc/{pid}/stat"))


def thread_cpu_seconds(native_id: int) -> float | None:
    """The same for one thread of this process (``Thread.native_id``)."""
    return _stat_cpu(Path(f"/proc/self/task/{native_id}/stat"))


def _stat_cpu(stat: Path) -> float | None:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def serve(script: str, *args: str) -> Iterator[Server]:
    """Run a server script in its own process; it prints its base URL as its first line."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [PYTHON, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # access logs would cost the server time and flood the report
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)  # `kie mock serve` says more
        if url is None:
            raise RuntimeError(f"server did not start: {line!r}")
        yield Server(process, url.group(0))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


MOCK = """
    import json, sys
    from kiekit_mock import MockConfig
    from kiekit_mock.server import MockServer
    import threading
    config = MockConfig(**json.loads(sys.argv[1]))
    with MockServer(config) as mock:
        print(mock.base_url, flush=True)
        threading.Event().wait()
"""


# `kie mock serve` as teams run it for code in any language: the mock's own command line
MOCK_CLI = """
    import sys
    from kiekit_mock.__main__ import main
    sys.exit(main(["--port", "0", *sys.argv[1:]]))
"""


@contextmanager
def mock_server(**config: object) -> Iterator[Server]:
    """kiekit-mock in its own process, configured with MockConfig(**config)."""
    with serve(MOCK, json.dumps(config)) as server:
        yield server


BARE_AIOHTTP = """
    import sys
    from aiohttp import web
    BODY = sys.argv[1].encode()
    async def handler(request):
        return web.Response(body=BODY, content_type="application/json")
    async def main():
        app = web.Application()
        app.router.add_get("/api/v1/jobs/recordInfo", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        import asyncio
        await asyncio.Event().wait()
    import asyncio
    asyncio.run(main())
"""

PYTEST_HTTPSERVER = """
    import sys, threading
    from pytest_httpserver import HTTPServer
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request("/api/v1/jobs/recordInfo").respond_with_data(
        sys.argv[1], content_type="application/json"
    )
    server.start()
    print(f"http://127.0.0.1:{server.port}", flush=True)
    threading.Event().wait()
"""


def format_table(rows: Sequence[Row]) -> str:
    """A plain table: it reads the same in a terminal, a CI log and a pasted note."""
    header = ("target", "measured (median, min–max)", "ratio", "goal", "")
    lines = [(r.target, r.measured, r.ratio, r.goal, _mark(r)) for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    out = []
    for index, line in enumerate([header, *lines]):
        out.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        )
        if index == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(text.rstrip() for text in out)


def _mark(row: Row) -> str:
    if row.met is None:
        return "not measured" if row.goal else "for reference"
    return "pass" if row.met else "falls short"
