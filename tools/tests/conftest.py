"""What the tools' tests share: mypy's caches, each made once per run of the suite; pytester
(the network guard's tests run sessions of their own)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

try:
    import fcntl
except ImportError:  # Windows: no file lock here, so each check makes a cache of its own
    fcntl = None  # type: ignore[assignment]

pytest_plugins = ["pytester"]

MakeCache = Callable[[Path], object]


@pytest.fixture(scope="session")
def warm_mypy_cache(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, MakeCache, Path], None]:
    """``warm(name, make, into)``: a copy, at ``into``, of the mypy cache that ``make(cache)``
    fills, made once per run of the suite.

    A cold mypy reads kiekit, the mock and the libraries under them again (15-40 s each time);
    from a warm copy each check analyses only what is its own. ``make`` must check with the
    options its users check with, so the cached modules are read as they will be. The xdist
    workers of one run share the cache: the first makes it, the others wait on a file lock
    (POSIX; without ``fcntl`` each check fills its own)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's own folder, above each worker's

    def warm(name: str, make: MakeCache, into: Path) -> None:
        if fcntl is None:
            make(into)  # cold, as every check was before the cache was shared
            return
        cache = shared / f"mypy-cache-{name}"
        with (shared / f"mypy-cache-{name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (cache / "made").exists():
                shutil.rmtree(cache, ignore_errors=True)  # an earlier attempt, cut short
                make(cache)  # its findings are its test's to report, not the cache's
                (cache / "made").touch()
        shutil.copytree(cache, into)

    return warm
