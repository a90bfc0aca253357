"""Where the Celery app finds its broker, result backend and queue: the environment.

Read the same way by the workers and by ``kie batch --celery``, so both sides agree on the
queue without passing anything but the broker URL. Bad values raise ConfigurationError naming
the variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from attrs import frozen

from kiekit.errors import ConfigurationError

BROKER_URL_ENV = "KIEKIT_BROKER_URL"
RESULT_BACKEND_ENV = "KIEKIT_RESULT_BACKEND"
QUEUE_ENV = "KIEKIT_CELERY_QUEUE"
VISIBILITY_TIMEOUT_ENV = "KIEKIT_CELERY_VISIBILITY_TIMEOUT"

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "kiekit"
# Redis hands an unacknowledged job to another worker after this long. It must exceed the
# longest job (create, wait, download): a job still running when it elapses is started again
# elsewhere (harmless for a job settled in the journal, wasted waiting otherwise).
DEFAULT_VISIBILITY_TIMEOUT = 3600.0


@frozen
class CelerySettings:
    broker_url: str
    result_backend: str
    queue: str
    visibility_timeout: float

    @property
    def restore_interval(self) -> int:
        """Seconds between a worker's sweeps for jobs whose worker vanished: a tenth of the
        visibility timeout (1 to 10 s), so a lost job comes back soon after it times out."""
        return int(min(10.0, max(1.0, self.visibility_timeout / 10)))

    @classmethod
    def from_env(
        cls, broker_url: str | None = None, *, environ: Mapping[str, str] | None = None
    ) -> CelerySettings:
        """``broker_url`` (e.g. from ``kie batch --celery URL``) first, then the environment."""
        env = os.environ if environ is None else environ
        broker = broker_url or env.get(BROKER_URL_ENV, "").strip() or DEFAULT_BROKER_URL
        _check_url(BROKER_URL_ENV if not broker_url else "--celery", broker)
        backend = env.get(RESULT_BACKEND_ENV, "").strip() or broker
        _check_url(RESULT_BACKEND_ENV, backend)
        queue = env.get(QUEUE_ENV, "").strip() or DEFAULT_QUEUE
        timeout_text = env.get(VISIBILITY_TIMEOUT_ENV, "").strip()
        timeout = DEFAULT_VISIBILITY_TIMEOUT
        if timeout_text:
            try:
                timeout = float(timeout_text)
            except ValueError:
                timeout = math.nan
            if not (math.isfinite(timeout) and timeout > 0):
                raise ConfigurationError(
                    f"{VISIBILITY_TIMEOUT_ENV} must be a positive number of seconds, "
                    f"got {timeout_text!r}"
                )
        return cls(broker, backend, queue, timeout)


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if not parts.scheme or not (parts.netloc or parts.path):
        # the URL itself is not repeated: it may carry the broker's password
        raise ConfigurationError(f"{name} must be a URL such as redis://127.0.0.1:6379/0")
