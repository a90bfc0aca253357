"""The system services the test suite uses, installed from Debian's packages when missing.

    python3 tools/services.py install   # the README's test command and .ci/run run this
    python3 tools/services.py check     # only say what is missing (exit status 1 if anything)

Tests use the real thing where users would (BRIEF: a browser, Redis, PostgreSQL), and a fresh
machine has none of them. Each service is one row of SERVICES: what it is for, the files that
show it is installed, and the Debian packages that bring it. ``install`` is idempotent and
says nothing when all are present; otherwise it runs ``apt-get install -y
--no-install-recommends`` for the missing packages (if that fails, as on a fresh machine whose
apt knows no package yet, ``apt-get update`` and once more), and says clearly what to do when
it cannot: not root, or no apt-get.
Standard library only: it runs before the workspace is installed.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PROG = "tools/services.py"


@dataclass(frozen=True)
class Service:
    name: str
    needed_by: str
    present: tuple[str, ...]  # paths (globs allowed) that all exist once it is installed
    packages: tuple[str, ...]  # the Debian packages that install it

    def installed(self) -> bool:
        return all(glob.glob(pattern) for pattern in self.present)


SERVICES: tuple[Service, ...] = (
    Service(
        "chromium",
        "the mock inspector's browser tests (mockserver/tests/inspector/)",
        ("/usr/bin/chromium",),
        ("chromium",),
    ),
    Service(
        "redis",
        "shared rate limits and the Celery broker (docs/teams.md)",
        ("/usr/bin/redis-server",),
        ("redis-server",),
    ),
    Service(
        "postgresql",
        "the shared task journal (docs/teams.md)",
        ("/usr/lib/postgresql/*/bin/postgres", "/usr/lib/postgresql/*/bin/initdb"),
        ("postgresql",),
    ),
)

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def missing(services: Sequence[Service]) -> list[Service]:
    return [service for service in services if not service.installed()]


def _apt(args: list[str], run: Runner) -> subprocess.CompletedProcess[str]:
    # no questions asked; wait for another apt (another checkout's run) instead of failing
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600", *args]
    return run(command, env=env, capture_output=True, text=True, check=False)


def install(
    services: Sequence[Service] = SERVICES,
    *,
    run: Runner = subprocess.run,
    euid: Callable[[], int] = os.geteuid,
    which: Callable[[str], str | None] = shutil.which,
    say: Callable[[str], None] = print,
) -> int:
    """Install what is missing; 0 when everything is there afterwards."""
    wanted = missing(services)
    if not wanted:
        return 0
    names = ", ".join(service.name for service in wanted)
    packages = [package for service in wanted for package in service.packages]
    by_hand = f"apt-get install -y --no-install-recommends {' '.join(packages)}"
    for service in wanted:
        say(f"{PROG}: {service.name} is missing; {service.needed_by} use it")
    if which("apt-get") is None:
        say(f"{PROG}: no apt-get here: install {names} with this system's package manager")
        return 1
    if euid() != 0:
        say(f"{PROG}: installing {names} needs root: sudo {by_hand}")
        return 1
    say(f"{PROG}: installing {' '.join(packages)} from Debian…")
    started = time.monotonic()
    command = ["install", "-y", "--no-install-recommends", *packages]
    result = _apt(command, run)
    if result.returncode != 0:  # a fresh machine's apt may know no package yet
        update = _apt(["update"], run)
        result = _apt(command, run) if update.returncode == 0 else update
    if result.returncode != 0:
        say(result.stdout + result.stderr)
        say(f"{PROG}: apt-get failed (exit status {result.returncode}); try: {by_hand}")
        return 1
    still = missing(wanted)
    if still:
        say(f"{PROG}: apt-get ran, but {', '.join(s.name for s in still)} is still not there")
        return 1
    say(f"{PROG}: installed {names} in {time.monotonic() - started:.0f} s")
    return 0


def check(services: Sequence[Service] = SERVICES, say: Callable[[str], None] = print) -> int:
    wanted = missing(services)
    for service in services:
        state = "missing" if service in wanted else "installed"
        say(f"{service.name}: {state}; for {service.needed_by}")
    return 1 if wanted else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("install", "check"))
    args = parser.parse_args(argv)
    return install() if args.command == "install" else check()


if __name__ == "__main__":
    sys.exit(main())
