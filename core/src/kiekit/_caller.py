"""Where kiekit's warnings point: the caller's line, the first frame outside kiekit."""

from __future__ import annotations

import os
import sys

_KIEKIT = os.path.dirname(os.path.abspath(__file__)) + os.sep  # not kiekit_veo/, a plugin's


def caller_stacklevel() -> int:
    """The ``stacklevel`` for a warning said in the function that calls this one: the first
    frame outside kiekit, however deep the flow that got there (a sync or async client, the
    registry, a driver). Python's default filter shows a warning once per line it is
    attributed to: at kiekit's own line, a notebook saw it once, then never again while the
    re-run cell went on paying; each run of a cell is code of its own, so it is shown at each."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_KIEKIT):
        frame = frame.f_back
        level += 1
    return level
