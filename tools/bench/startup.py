"""Start-up cost of kiekit with every plugin of this repo installed, against none installed.

Plugins are found from package metadata and imported only when one of their models is used, so
installing them all should add only a few milliseconds to ``import kiekit`` and ``kie
providers``. This prints the figures side by side from one run (the machines are shared and
noisy: medians of interleaved rounds, with the spread), never a pass/fail.

    python3 tools/bench/startup.py [--rounds 15]

It runs the workspace environment (``.venv``, every plugin installed: ``uv sync --all-packages``)
and one it makes once under ``.bench/no-plugins`` with the same packages but no plugin.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALL = ROOT / ".venv"
CORE_ONLY = ROOT / ".bench" / "no-plugins"


DEV_GROUP = ["pytest>=8.3", "hypothesis>=6.100", "ruff>=0.8", "mypy>=1.13"]


def core_only_env() -> Path:
    python = CORE_ONLY / "bin" / "python"
    if not python.exists():
        uv = [sys.executable, "-m", "uv"]
        subprocess.run([*uv, "venv", "-q", str(CORE_ONLY)], check=True)  # noqa: S603
        # Everything the workspace environment has except the plugins (the same distributions
        # to scan), so the difference is the plugins' own cost.
        members = [arg for part in ("core", "mockserver", "contract_tests") for arg in ("-e", part)]
        subprocess.run(  # noqa: S603
            [*uv, "pip", "install", "-q", "--python", str(python), *members, *DEV_GROUP],
            check=True,
            cwd=ROOT,
        )
    return CORE_ONLY


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    if not (ALL / "bin" / "kie").exists():
        print("run `python3 -m uv sync --all-packages` first", file=sys.stderr)
        return 2
    envs = {"all plugins": ALL, "no plugins": core_only_env()}
    commands = {
        "python -c pass": lambda env: [str(env / "bin/python"), "-c", "pass"],
        "import kiekit": lambda env: [str(env / "bin/python"), "-c", "import kiekit"],
        "kie providers": lambda env: [str(env / "bin/kie"), "providers"],
    }
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):  # interleaved, so load on the machine hits both sides alike
        for name, make in commands.items():
            for label, env in envs.items():
                samples.setdefault((name, label), []).append(timed(make(env)))
    print(f"{'command':16} {'environment':12} {'median ms':>10} {'min–max ms':>14}")
    for (name, label), values in samples.items():
        spread = f"{min(values):.0f}–{max(values):.0f}"
        print(f"{name:16} {label:12} {statistics.median(values):10.1f} {spread:>14}")
    print()
    for name in commands:
        extra = statistics.median(samples[(name, "all plugins")]) - statistics.median(
            samples[(name, "no plugins")]
        )
        print(f"{name:16} all plugins add {extra:+.1f} ms (median difference)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
