"""kiekit-mock: an offline emulator of the KIE AI API, written from KIE's documentation.

It answers as KIE does (HTTP 200 with a body code, JSON-in-a-string fields, per-family status
vocabularies), serves real little result files, records callbacks and calls only loopback ones.
It imports nothing from kiekit: it emulates the API, not our adapters.
"""

from .app import create_app, runtime_of
from .callbacks import CallbackRecord
from .config import MarketOutput, MockConfig
from .journal import RequestRecord
from .runtime import Runtime
from .server import MockServer, serve
from .state import FAIL_MARKER, TaskSnapshot, account_id

__all__ = [
    "FAIL_MARKER",
    "CallbackRecord",
    "MarketOutput",
    "MockConfig",
    "MockServer",
    "RequestRecord",
    "Runtime",
    "TaskSnapshot",
    "account_id",
    "create_app",
    "runtime_of",
    "serve",
]
