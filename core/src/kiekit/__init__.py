"""kiekit: a Python framework for the KIE AI API.

The package root stays light: the clients (and with them urllib3 and aiohttp) are imported on
first use, so ``import kiekit`` and ``kie providers`` start fast however many plugins are installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiekit._version import __version__
from kiekit.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DownloadError,
    FeatureDisabledError,
    FileReadError,
    FileWriteError,
    GenerationFailedError,
    InputFetchError,
    InsufficientCreditsError,
    KeyQuotaExceededError,
    KieError,
    MaintenanceError,
    NotFoundError,
    OutcomeUnknownError,
    ParentNotFinishedError,
    ParentTaskError,
    PluginError,
    PluginHookError,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    RateLimitStoreError,
    ResourceLimitError,
    ResultsExpiredError,
    ServerError,
    StreamClosedError,
    TaskFailedError,
    TaskNotFoundError,
    TaskTakenOverError,
    TransportError,
    UnknownModelError,
    UnprocessableError,
    ValidationError,
    WaitTimeoutError,
)
from kiekit.fields import Input
from kiekit.hookspecs import hookimpl
from kiekit.models import (
    Asset,
    AssetRole,
    MediaKind,
    Model,
    Request,
    Results,
    State,
    Task,
    TaskStatus,
)
from kiekit.polling import PollPolicy
from kiekit.provider import Provider
from kiekit.ratelimit import Rate, RateLimiter, RateLimits
from kiekit.retry import DownloadPolicy, RetryPolicy
from kiekit.settings import PlainHttpWarning, UnknownVariableWarning
from kiekit.uploads import UploadedFile

if TYPE_CHECKING:
    from kiekit.client import AsyncClient, Client
    from kiekit.journal import JournalError, TakenOver
    from kiekit.registry import Registry, UnlistedModelWarning
    from kiekit.shared_limits import SharedRateLimiter
    from kiekit.webhooks import CallbackError, SignatureError

__all__ = [
    "ApiError",
    "Asset",
    "AssetRole",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "CallbackError",
    "Client",
    "ConfigurationError",
    "DownloadError",
    "DownloadPolicy",
    "FeatureDisabledError",
    "FileReadError",
    "FileWriteError",
    "GenerationFailedError",
    "Input",
    "InputFetchError",
    "InsufficientCreditsError",
    "JournalError",
    "KeyQuotaExceededError",
    "KieError",
    "MaintenanceError",
    "MediaKind",
    "Model",
    "NotFoundError",
    "OutcomeUnknownError",
    "ParentNotFinishedError",
    "ParentTaskError",
    "PlainHttpWarning",
    "PluginError",
    "PluginHookError",
    "PollPolicy",
    "ProtocolError",
    "Provider",
    "QueueFullError",
    "Rate",
    "RateLimitStoreError",
    "RateLimitedError",
    "RateLimiter",
    "RateLimits",
    "Registry",
    "Request",
    "ResourceLimitError",
    "Results",
    "ResultsExpiredError",
    "RetryPolicy",
    "ServerError",
    "SharedRateLimiter",
    "SignatureError",
    "State",
    "StreamClosedError",
    "TakenOver",
    "Task",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskStatus",
    "TaskTakenOverError",
    "TransportError",
    "UnknownModelError",
    "UnknownVariableWarning",
    "UnlistedModelWarning",
    "UnprocessableError",
    "UploadedFile",
    "ValidationError",
    "WaitTimeoutError",
    "__version__",
    "hookimpl",
]

# Imported on first use: the HTTP stacks (clients) and package metadata (registry) are the
# costly parts of start-up, and a plugin module needs neither to declare its providers.
_LAZY = {
    "Client": "kiekit.client",
    "AsyncClient": "kiekit.client",
    "Registry": "kiekit.registry",
    "UnlistedModelWarning": "kiekit.registry",
    "SharedRateLimiter": "kiekit.shared_limits",
    # the errors of the tree (kiekit.errors) that live with the parts that raise them
    "JournalError": "kiekit.journal",
    "TakenOver": "kiekit.journal",
    "CallbackError": "kiekit.webhooks",
    "SignatureError": "kiekit.webhooks",
}


# Hidden from type checkers: they would take a module ``__getattr__`` for "any name exists",
# and a misspelled import would be Any instead of an error (the names are imported above).
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _LAZY:
            import importlib

            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module 'kiekit' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))  # the lazy names too (tab completion)
