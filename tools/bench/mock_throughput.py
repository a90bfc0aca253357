"""Target 2: recordInfo on kiekit-mock against a bare aiohttp handler and pytest-httpserver.

All three serve the same recordInfo answer (the mock renders it; the others return the bytes the
mock rendered) to the same load generator, each server in its own process, rounds interleaved.
`kie mock serve`, the mock's command line that teams run for code in any language, is measured
beside them (2c), as it starts by default and with ``--access-log``.

On two cores the one-process load generator saturates before a fast server does, so raw
requests/s understate the fastest side. The ratio is therefore taken on *capacity*: requests per
CPU-second the server itself spent (read from /proc), i.e. what it would answer with a core of its
own; the raw requests/s are printed beside it.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request

from harness import (
    BARE_AIOHTTP,
    MOCK_CLI,
    PYTEST_HTTPSERVER,
    Row,
    cpu_seconds,
    median_spread,
    mock_server,
    serve,
)
from loadgen import requests_per_second

KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
SERVERS = ("kiekit-mock", "bare aiohttp", "pytest-httpserver")
CLI_SIDES = {"kie mock serve": (), "kie mock serve --access-log": ("--access-log",)}


def _call(url: str, body: dict[str, object] | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    headers = {**HEADERS, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data, headers)  # noqa: S310 - the loopback mock
    with urllib.request.urlopen(request) as answer:  # noqa: S310
        return answer.read()  # type: ignore[no-any-return]


def measure(rounds: int = 3, seconds: float = 2.0) -> list[Row]:
    names = [n for n in SERVERS if n != "pytest-httpserver" or _installed("pytest_httpserver")]
    names += CLI_SIDES
    rps: dict[str, list[float]] = {name: [] for name in names}
    capacity: dict[str, list[float]] = {name: [] for name in names}
    with mock_server() as mock:
        path = _finished_task(mock.base_url)
        body = _call(mock.base_url + path).decode()  # the same bytes for the other servers
        for _ in range(rounds):  # interleaved: the machine's noise hits every server alike
            for name in names:
                if name == "kiekit-mock":
                    _load(mock.base_url + path, mock.pid, seconds, rps[name], capacity[name])
                elif name in CLI_SIDES:
                    with serve(MOCK_CLI, *CLI_SIDES[name]) as cli:
                        url = cli.base_url + _finished_task(cli.base_url)
                        _load(url, cli.pid, seconds, rps[name], capacity[name])
                else:
                    script = BARE_AIOHTTP if name == "bare aiohttp" else PYTEST_HTTPSERVER
                    with serve(script, body) as other:
                        url = other.base_url + path
                        _load(url, other.pid, seconds, rps[name], capacity[name])
    mock_cap, mock_spread = median_spread(capacity["kiekit-mock"])
    bare_cap, bare_spread = median_spread(capacity["bare aiohttp"])
    rows = [
        Row(
            "2a mock recordInfo vs bare aiohttp",
            f"{mock_cap:,.0f} ({mock_spread}) vs {bare_cap:,.0f} ({bare_spread}) req per "
            f"server CPU-s; raw {_median(rps['kiekit-mock'])} vs {_median(rps['bare aiohttp'])}"
            " req/s",
            f"{mock_cap / bare_cap:.2f}",
            "≥ 0.70",
            mock_cap / bare_cap >= 0.70,
        )
    ]
    for name, goal in (("kie mock serve", "≥ 0.70"), ("kie mock serve --access-log", "")):
        cli_cap, cli_spread = median_spread(capacity[name])
        rows.append(
            Row(
                f"2c {name} vs bare aiohttp",
                f"{cli_cap:,.0f} ({cli_spread}) vs {bare_cap:,.0f} req per server CPU-s; raw "
                f"{_median(rps[name])} vs {_median(rps['bare aiohttp'])} req/s",
                f"{cli_cap / bare_cap:.2f}",
                goal,
                cli_cap / bare_cap >= 0.70 if goal else None,
            )
        )
    if "pytest-httpserver" in names:
        other_cap, other_spread = median_spread(capacity["pytest-httpserver"])
        rows.append(
            Row(
                "2b mock recordInfo vs pytest-httpserver",
                f"{mock_cap:,.0f} vs {other_cap:,.0f} ({other_spread}) req per server CPU-s; "
                f"raw {_median(rps['kiekit-mock'])} vs {_median(rps['pytest-httpserver'])} req/s",
                f"{mock_cap / other_cap:.1f}×",
                "≥ 5×",
                mock_cap / other_cap >= 5,
            )
        )
    else:
        rows.append(
            _missing("2b mock recordInfo vs pytest-httpserver", "pytest-httpserver", "≥ 5×")
        )
    return rows


def _finished_task(base_url: str) -> str:
    """The recordInfo path of a task created on the mock at ``base_url``."""
    created = json.loads(
        _call(
            f"{base_url}/api/v1/jobs/createTask",
            {"model": "grok-imagine/text-to-image", "input": {"prompt": "bench"}},
        )
    )
    return f"/api/v1/jobs/recordInfo?taskId={created['data']['taskId']}"


def _load(url: str, pid: int, seconds: float, rps: list[float], capacity: list[float]) -> None:
    before = cpu_seconds(pid)
    rate = requests_per_second(url, HEADERS, seconds=seconds)
    after = cpu_seconds(pid)
    rps.append(rate)
    busy = None if before is None or after is None else (after - before) / seconds
    capacity.append(rate / busy if busy else rate)


def _median(values: list[float]) -> str:
    return f"{median_spread(values)[0]:,.0f}"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _missing(target: str, package: str, goal: str) -> Row:
    return Row(target, f"{package} is not installed (uv sync --group bench)", "", goal, None)


if __name__ == "__main__":
    from harness import format_table

    print(format_table(measure()))
