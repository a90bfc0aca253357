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
"""

from __future__ import annotations

import signal

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


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(netguard.Plugin(), "netguard")
