"""Target 3: start-up cost — `import kiekit` against `import openai`, and what users write
(`from kiekit import Client` against `from openai import OpenAI`), `kie providers`, what
installing every plugin of this repo adds, and the fixed cost of a whole `kie run --mock
--mock-seconds 0` (start-up, embedded mock, create, poll, download: issue 17, "fast enough").

Plugins are found from package metadata and imported only when one of their models is used, so
installing them all should add only a few milliseconds. Import costs are "above the interpreter":
each command's time minus `python -c pass` from the same round. Rounds are interleaved, so load
on the machine hits every command alike; medians with the spread.

It runs the workspace environment (``.venv``, every plugin installed) and one it makes once under
``.bench/no-plugins`` with the same packages but no plugin.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import ROOT, Row, median_spread

CORE_ONLY = ROOT / ".bench" / "no-plugins"
DEV_GROUP = ["pytest>=8.3", "hypothesis>=6.100", "ruff>=0.8", "mypy>=1.13"]
PROVIDERS_LIMIT_MS = 300
MOCK_RUN_LIMIT_MS = 1000
MOCK_RUN = ["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--mock-seconds", "0"]
MOCK_RUN += ["--out", str(ROOT / ".bench" / "mock-run")]
PLUGINS_LIMIT_MS = 10
OPENAI_SHARE = 0.30


def core_only_env() -> Path:
    """A venv with core, mock and contract kit (and the dev tools) but no plugin; made once."""
    python = CORE_ONLY / "bin" / "python"
    if not python.exists():
        uv = [uv_binary()]
        subprocess.run([*uv, "venv", "-q", str(CORE_ONLY)], check=True)  # noqa: S603
        members = [arg for part in ("core", "mockserver", "contract_tests") for arg in ("-e", part)]
        subprocess.run(  # noqa: S603
            [*uv, "pip", "install", "-q", "--python", str(python), *members, *DEV_GROUP],
            check=True,
            cwd=ROOT,
        )
    return CORE_ONLY


def uv_binary() -> str:
    """The uv running this bench (``uv run`` names itself in ``UV``), else one on PATH: the
    workspace venv has no uv module of its own, so ``sys.executable -m uv`` fails there."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise SystemExit("tools/bench: uv not found; run the bench with `python3 -m uv run ...`")
    return found


# As users run it: Python writes and reuses bytecode. A PYTHONDONTWRITEBYTECODE set around the
# bench (some sandboxes and CI images set it) would make every start compile every module
# again: 2 s of a 3 s `kie run --mock` on this machine, none of it kiekit's.
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed_ms(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(  # noqa: S603
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=USER_ENV
    )
    return (time.perf_counter() - started) * 1000


def measure(rounds: int = 15) -> list[Row]:
    here = Path(sys.executable).parent  # the environment the bench runs in: every plugin
    bare = core_only_env() / "bin"
    commands: dict[str, Callable[[], list[str]]] = {
        "pass": lambda: [str(here / "python"), "-c", "pass"],
        "kiekit": lambda: [str(here / "python"), "-c", "import kiekit"],
        "providers": lambda: [str(here / "kie"), "providers"],
        "mock run": lambda: [str(here / "kie"), *MOCK_RUN],
        "pass, no plugins": lambda: [str(bare / "python"), "-c", "pass"],
        "kiekit, no plugins": lambda: [str(bare / "python"), "-c", "import kiekit"],
    }
    has_openai = importlib.util.find_spec("openai") is not None
    if has_openai:
        commands["openai"] = lambda: [str(here / "python"), "-c", "import openai"]
        commands["Client"] = lambda: [str(here / "python"), "-c", "from kiekit import Client"]
        commands["OpenAI"] = lambda: [str(here / "python"), "-c", "from openai import OpenAI"]
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # a first start writes the bytecode every later one reads
        _timed_ms(argv())
    for _ in range(rounds):
        for name, argv in commands.items():
            samples[name].append(_timed_ms(argv()))

    def above(name: str, base: str) -> list[float]:
        return [max(t - b, 0.01) for t, b in zip(samples[name], samples[base], strict=True)]

    kiekit, kiekit_spread = median_spread(above("kiekit", "pass"))
    bare_kiekit = statistics.median(above("kiekit, no plugins", "pass, no plugins"))
    providers, providers_spread = median_spread(samples["providers"])
    rows = []
    if has_openai:
        openai, openai_spread = median_spread(above("openai", "pass"))
        rows.append(
            Row(
                "3a import kiekit vs import openai",
                f"{kiekit:.0f} ({kiekit_spread}) vs {openai:.0f} ({openai_spread}) ms above "
                "the interpreter",
                f"{kiekit / openai:.2f}",
                f"≤ {OPENAI_SHARE:.2f}",
                kiekit / openai <= OPENAI_SHARE,
            )
        )
        client, client_spread = median_spread(above("Client", "pass"))
        openai_client, openai_client_spread = median_spread(above("OpenAI", "pass"))
        rows.append(
            Row(
                "3e from kiekit import Client vs from openai import OpenAI",
                f"{client:.0f} ({client_spread}) vs {openai_client:.0f} "
                f"({openai_client_spread}) ms above the interpreter",
                f"{client / openai_client:.2f}",
                f"≤ {OPENAI_SHARE:.2f}",
                client / openai_client <= OPENAI_SHARE,
            )
        )
    else:
        for target in (
            "3a import kiekit vs import openai",
            "3e from kiekit import Client vs from openai import OpenAI",
        ):
            missing = "openai is not installed (uv sync --group bench)"
            rows.append(Row(target, missing, "", f"≤ {OPENAI_SHARE:.2f}", None))
    rows.append(
        Row(
            "3b kie providers, every plugin installed",
            f"{providers:.0f} ({providers_spread}) ms wall",
            f"{providers / PROVIDERS_LIMIT_MS:.2f}",
            f"≤ {PROVIDERS_LIMIT_MS} ms",
            providers <= PROVIDERS_LIMIT_MS,
        )
    )
    mock_run, mock_run_spread = median_spread(samples["mock run"])
    rows.append(
        Row(
            "3d kie run --mock --mock-seconds 0, whole",
            f"{mock_run:.0f} ({mock_run_spread}) ms wall, two files downloaded",
            f"{mock_run / MOCK_RUN_LIMIT_MS:.2f}",
            f"≤ {MOCK_RUN_LIMIT_MS} ms",
            mock_run <= MOCK_RUN_LIMIT_MS,
        )
    )
    added = kiekit - bare_kiekit
    rows.append(
        Row(
            "3c what every plugin adds to import kiekit",
            f"{added:+.1f} ms ({kiekit:.0f} vs {bare_kiekit:.0f} ms without plugins)",
            f"{kiekit / bare_kiekit:.2f}",
            f"≤ +{PLUGINS_LIMIT_MS} ms",
            added <= PLUGINS_LIMIT_MS,
        )
    )
    return rows


if __name__ == "__main__":
    from harness import format_table

    print(format_table(measure()))
