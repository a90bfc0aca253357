"""The mock's clock: wall time, sped up by a scale factor and movable by tests.

Everything in the mock that depends on time — lifecycles "after S seconds", rate-limit windows,
link lifetimes, timestamps in answers — reads this one clock, so a test can compress KIE's
minutes into milliseconds (``time_scale``) or jump ahead (``advance``) and see every part agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class MockClock:
    """Seconds since the epoch, as the mock sees them. Thread-safe.

    now() = the moment it was made + (wall seconds since then) × scale + every advance().
    """

    def __init__(self, scale: float = 1.0, *, wall: Callable[[], float] = time.time) -> None:
        if not scale > 0:
            raise ValueError("time_scale must be > 0")
        self._wall = wall
        self._lock = threading.Lock()
        self._origin = wall()
        self._scale = scale
        self._offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        # no lock: only _offset ever changes, and reading one attribute is atomic; the lock
        # keeps concurrent advance() calls from losing one another's seconds
        return self._origin + (self._wall() - self._origin) * self._scale + self._offset

    def advance(self, seconds: float) -> float:
        """Jump ahead (never back: KIE's time does not run backwards); returns the new now()."""
        if seconds < 0:
            raise ValueError("the mock clock only moves forward")
        with self._lock:
            self._offset += seconds
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
        return self.now()

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (on the advancing thread) after each advance(); returns the call
        that stops it. The settler (settler.py) wakes this way to end tasks the jump made due."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def wall_seconds(self, mock_seconds: float) -> float:
        """How long ``mock_seconds`` of mock time take in real time (for sleeps and waits)."""
        return mock_seconds / self._scale
