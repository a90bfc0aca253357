"""kiekit-mock: an offline emulator of the KIE AI API, written from KIE's documentation.

It answers as KIE does (HTTP 200 with a body code, JSON-in-a-string fields, per-family status
vocabularies), serves real little result files, records callbacks and calls only loopback ones.
It imports nothing from kiekit: it emulates the API, not our adapters.
"""

from typing import TYPE_CHECKING

from .app import create_app, runtime_of
from .callbacks import CallbackRecord, CallbackSettings
from .config import AccountSettings, MarketOutput, MockConfig
from .faults import FaultRule
from .limits import LimitSettings
from .requestlog import CheckResult, Journal, JournalPage, RequestRecord, SentAnswer
from .rules import FAIL_MARKER, Lifecycle, Outcome, Rule
from .runtime import Runtime
from .server import MockServer, serve
from .state import AccountSnapshot, TaskSnapshot, account_id
from .uploads import StoredFile
from .uploads_http import build_upload_app

__all__ = [
    "FAIL_MARKER",
    "AccountSettings",
    "AccountSnapshot",
    "CallbackRecord",
    "CallbackSettings",
    "CheckResult",
    "FaultRule",
    "Journal",
    "JournalPage",
    "Lifecycle",
    "LimitSettings",
    "MarketOutput",
    "MockConfig",
    "MockServer",
    "Outcome",
    "RequestRecord",
    "Rule",
    "Runtime",
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
