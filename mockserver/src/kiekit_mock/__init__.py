"""kiekit-mock: an offline emulator of the KIE AI API, written from KIE's documentation.

It answers as KIE does (HTTP 200 with a body code, JSON-in-a-string fields, per-family status
vocabularies), serves real little result files, records callbacks and calls only loopback ones.
It imports nothing from kiekit: it emulates the API, not our adapters.
"""

from typing import TYPE_CHECKING

from .app import create_app, runtime_of
from .callbacks import CallbackChanges, CallbackRecord, CallbackSettings
from .clock import MockClock
from .config import AccountSettings, MarketOutput, MockConfig
from .controlwire import ControlError
from .faults import FaultRule, Faults
from .limits import Limits, LimitSettings
from .requestlog import CheckResult, Journal, JournalPage, RequestRecord, SentAnswer
from .rules import FAIL_MARKER, Lifecycle, Outcome, Rule, RuleView
from .runtime import Runtime
from .scenario import Scenario
from .server import MockServer, serve
from .state import AccountSnapshot, TaskSnapshot, account_id
from .uploads import StoredFile
from .uploads_http import build_upload_app

__all__ = [
    "FAIL_MARKER",
    "AccountSettings",
    "AccountSnapshot",
    "CallbackChanges",
    "CallbackRecord",
    "CallbackSettings",
    "CheckResult",
    "ControlError",
    "FaultRule",
    "Faults",
    "Journal",
    "JournalPage",
    "Lifecycle",
    "LimitSettings",
    "Limits",
    "MarketOutput",
    "MockClock",
    "MockConfig",
    "MockServer",
    "Outcome",
    "RequestRecord",
    "Rule",
    "RuleView",
    "Runtime",
    "Scenario",
    "SentAnswer",
    "StoredFile",
    "TaskSnapshot",
    "account_id",
    "build_upload_app",
    "create_app",
    "runtime_of",
    "serve",
]


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:

    def __getattr__(name: str) -> str:
        """``__version__``, read from the installed distribution's metadata when first asked
        for: importing the mock reads nothing."""
        if name == "__version__":
            from importlib.metadata import version

            return version("kiekit-mock")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
