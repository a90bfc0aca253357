"""Suite-wide test settings (every test directory sits under this root conftest).

Hypothesis is made independent of the machine's speed and of earlier runs: no per-example
deadline and no "too slow" health check (both are wall-clock measurements that fail on a loaded
2-core machine), and a derandomized, database-free search, so that a run's examples are the same
every time and a failure reproduces from the test alone.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "kiekit",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
settings.load_profile("kiekit")
