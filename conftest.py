"""Suite-wide test settings (every test directory sits under this root conftest).

Ctrl-C works in the processes the tests start, however the suite was started: a shell runs a
background job (``nohup pytest &``, a script's ``pytest &``) with SIGINT ignored, every child
inherits that, and Python then installs no KeyboardInterrupt for it: the tests that stop a
``kie`` command or a server with SIGINT waited for their deadline (120 s) and failed.

Hypothesis is made independent of the machine's speed and of earlier runs: no per-example
deadline and no "too slow" health check (both are wall-clock measurements that fail on a loaded
2-core machine), and a derandomized, database-free search, so that a run's examples are the same
every time and a failure reproduces from the test alone.

No test, tool or server of ours connects outside 127.0.0.0/8 and ::1, nor looks up a name a
resolver off the machine would be asked about: the network guard (tools/netguard.py) refuses
it in every test process and fails the test that tried, even when its code swallowed the error.

Python bytecode is cached even where the environment says PYTHONDONTWRITEBYTECODE (sandboxes and
CI images set it): there every process the suite starts — the xdist workers, each ``kie`` and
``kie-mock`` command, each pytester session — compiled kiekit, the mock, aiohttp and hypothesis
from source again (about 1 s of CPU per ``kie`` command, several per pytester session). The
cache goes to a folder of this user's own outside the tree (PYTHONPYCACHEPREFIX), so the tree
stays free of ``__pycache__`` as the setting asked.

The longest tests start first (``LONG``): xdist hands out tests in collection order, and one of
them started last (the mypy checks of tools/tests) ran alone for minutes after the others ended.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from pathlib import Path

import netguard  # tools/netguard.py (tools/ is on sys.path: pyproject's pythonpath)
import pytest
from hypothesis import HealthCheck, settings

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # children inherit an ignored signal
    signal.signal(signal.SIGINT, signal.default_int_handler)  # and not a handler: theirs again

settings.register_profile(
    "kiekit",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
settings.load_profile("kiekit")


# The tests that take longest (minutes on a loaded machine), as node id prefixes, longest first:
# started first, so none of them is still running alone when every other test has ended.
LONG = (
    "contract_tests/tests/test_contract_can_fail.py::test_each_bug_fails_exactly",
    "mockserver/tests/test_openapi_schemathesis.py",
    "contract_tests/tests/test_contract_family_extension.py",
    "tools/tests/test_scaffold.py::test_the_scaffold_passes_its_tests_outside_the_repo",
    "contract_tests/tests/test_chat_contract_can_fail.py",
    "tools/tests/test_typecheck.py",
    "tools/tests/test_docs_site.py",
    "contract_tests/tests/test_strategies.py::test_installed_models_get_inputs[sora-2-characters",
    "tools/tests/test_scaffold.py",
    "tools/tests/test_user_typing.py",
    "core/tests/test_batch_sigkill.py",
)


def _bytecode_cache() -> None:
    """PYTHONDONTWRITEBYTECODE without a PYTHONPYCACHEPREFIX: bytecode to a folder of ours
    under the temp folder, for the processes started from here on (the module docstring)."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    if not hasattr(os, "getuid"):  # no owner to check (Windows): leave the setting alone
        return
    folder = Path(tempfile.gettempdir()) / f"kiekit-tests-pycache-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        held = folder.lstat()
    except OSError:
        return
    # another user's folder, or one others may write to, could hold bytecode they planted
    if held.st_uid != os.getuid() or not stat.S_ISDIR(held.st_mode) or held.st_mode & 0o077:
        return
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)
    del os.environ["PYTHONDONTWRITEBYTECODE"]


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(netguard.Plugin(), "netguard")
    _bytecode_cache()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``LONG`` tests first, longest first; the others keep their order."""

    def rank(item: pytest.Item) -> int:
        found = (i for i, prefix in enumerate(LONG) if item.nodeid.startswith(prefix))
        return next(found, len(LONG))

    items.sort(key=rank)
