"""The mock's clock: wall time, sped up by a scale factor and movable by tests.

Everything in the mock that depends on time — lifecycles "after S seconds", rate-limit windows,
link lifetimes, timestamps in answers — reads this one clock, so a test can compress KIE's
minutes into milliseconds (``time_scale``, also changed while it runs: ``set_scale``) or jump
ahead (``advance``) and see every part agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# The scales a running mock takes (PUT /_mock/clock, --time-scale): from a thousandth of real
# time to a thousand times it (a 10-minute task in 0.6 s). Faster, a result link's 14 days pass
# in a test's minutes and KIE's "records within 14 days" refusals start (kie-api.md §3.3).
MIN_SCALE = 0.001
MAX_SCALE = 1000.0
SCALE_RULE = f"must be a number from {MIN_SCALE:g} to {MAX_SCALE:g} (mock seconds per second)"


def scale_ok(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return MIN_SCALE <= value <= MAX_SCALE  # NaN compares False


class MockClock:
    """Seconds since the epoch, as the mock sees them. Thread-safe.

    now() = the mock time at the last change of scale (or at the start) + the wall seconds
    since then × scale + every advance() since. A change of scale never moves now().
    """

    def __init__(self, scale: float = 1.0, *, wall: Callable[[], float] = time.time) -> None:
        if not scale > 0:
            raise ValueError("time_scale must be > 0")
        self._wall = wall
        self._lock = threading.Lock()
        start = wall()
        # (wall time, mock time then, scale): one tuple, swapped whole, so now() reads it
        # without the lock and never mixes an old scale with a new base
        self._base = (start, start, float(scale))
        self._start_scale = float(scale)  # what a reset brings back (restore_scale)
        self._listeners: list[Callable[[], None]] = []

    @property
    def scale(self) -> float:
        """How many mock seconds pass per wall-clock second."""
        return self._base[2]

    def now(self) -> float:
        """The mock's time, in seconds."""
        wall, mock, scale = self._base
        return mock + (self._wall() - wall) * scale

    def advance(self, seconds: float) -> float:
        """Jump ahead (never back: KIE's time does not run backwards); returns the new now()."""
        if seconds < 0:
            raise ValueError("the mock clock only moves forward")
        with self._lock:
            wall, mock, scale = self._base
            self._base = (wall, mock + seconds, scale)
        self._tell()
        return self.now()

    def set_scale(self, scale: float) -> float:
        """Run at ``scale`` mock seconds per wall second from now on (MIN_SCALE to MAX_SCALE);
        the time already passed stays as it was. Returns now()."""
        if not scale_ok(scale):
            raise ValueError(f"time_scale {SCALE_RULE}, not {scale!r}")
        return self._rescale(scale)

    def restore_scale(self) -> float:
        """Back to the scale it was made with (``time_scale``, ``--time-scale``), as a reset
        brings every setting back to the config; the time passed stays. Returns now()."""
        return self._rescale(self._start_scale)

    def _rescale(self, scale: float) -> float:
        with self._lock:
            wall = self._wall()
            before, mock, old = self._base
            self._base = (wall, mock + (wall - before) * old, float(scale))
        self._tell()  # the settler's sleep until the next due task was at the old scale
        return self.now()

    def _tell(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (on the changing thread) after each advance() or set_scale();
        returns the call that stops it. The settler (settler.py) wakes this way to end tasks
        the jump made due, or to sleep anew at the new scale."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def wall_seconds(self, mock_seconds: float) -> float:
        """How long ``mock_seconds`` of mock time take in real time (for sleeps and waits)."""
        return mock_seconds / self.scale
