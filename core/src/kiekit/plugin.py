"""What a plugin may use of kiekit: the whole surface for plugin authors, in one module.

A plugin translates between typed values and one KIE API family's wire, and does no I/O
(docs/plugin-authors.md). Everything it needs is here, and only this is kept stable for it:

- the contract: :class:`Provider`, the pluggy marker :data:`hookimpl`, :class:`Model`, the
  values it builds and reads (:class:`Request`, :class:`TaskStatus`, :class:`State`,
  :class:`Results`, :class:`Asset` with its :class:`AssetRole`, :class:`MediaKind`) and the
  per-task poll limit (:class:`Rate`);
- inputs: :class:`Input`, :class:`OpenInput` and the field makers (``text``, ``texts``,
  ``choice``, ``flag``, ``integer``, ``number``, ``url``, ``urls``, ``items``);
  :class:`InputField`, a field as ``Provider.input_fields`` describes it;
- the family bases: :class:`MarketProvider` (the market jobs API) and
  :class:`SuccessFlagProvider` (KIE's per-product APIs), with :class:`SuccessFlagRecord`;
- result files: :func:`asset`, :func:`assets`, :func:`media_type_of`;
- KIE's wire: the :mod:`kiekit.wire` module (records, timestamps, JSON inside strings),
  :func:`read_envelope`, and the errors a provider raises (:class:`ValidationError` naming a
  field, :class:`ProtocolError` for an answer it cannot read, :func:`api_error` for KIE's body
  codes, :class:`ApiError`);
- chat models: :class:`ChatProvider` and the values of a chat call;
- the package's ``__version__``: :func:`version_attribute`.

Names elsewhere in kiekit may change between minor releases; these follow the version range
a plugin declares on kiekit.
"""

from __future__ import annotations

from collections.abc import Callable as _Callable

from kiekit import wire
from kiekit.chat import (
    ChatCall,
    ChatDelta,
    ChatFailure,
    ChatModel,
    ChatProvider,
    ChatReply,
    ImagePart,
    Message,
    SseEvent,
    TextPart,
    ThinkingBlock,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    json_object,
    json_objects,
)
from kiekit.errors import (
    ApiError,
    KieError,
    ParentNotFinishedError,
    ParentTaskError,
    ProtocolError,
    ResultsExpiredError,
    UnprocessableError,
    ValidationError,
    api_error,
)
from kiekit.families.assets import asset, assets, media_type_of
from kiekit.families.market import MarketProvider
from kiekit.families.success_flag import SuccessFlagProvider, SuccessFlagRecord
from kiekit.fields import (
    Input,
    InputField,
    OpenInput,
    choice,
    described,
    flag,
    integer,
    is_http_url,
    items,
    number,
    read_numeral,
    text,
    texts,
    url,
    urls,
    warn_input,
)
from kiekit.hookspecs import hookimpl
from kiekit.models import Asset, AssetRole, MediaKind, Model, Request, Results, State, TaskStatus
from kiekit.provider import Provider
from kiekit.ratelimit import Rate
from kiekit.wire import read_envelope

__all__ = [
    "ApiError",
    "Asset",
    "AssetRole",
    "ChatCall",
    "ChatDelta",
    "ChatFailure",
    "ChatModel",
    "ChatProvider",
    "ChatReply",
    "ImagePart",
    "Input",
    "InputField",
    "KieError",
    "MarketProvider",
    "MediaKind",
    "Message",
    "Model",
    "OpenInput",
    "ParentNotFinishedError",
    "ParentTaskError",
    "ProtocolError",
    "Provider",
    "Rate",
    "Request",
    "Results",
    "ResultsExpiredError",
    "SseEvent",
    "State",
    "SuccessFlagProvider",
    "SuccessFlagRecord",
    "TaskStatus",
    "TextPart",
    "ThinkingBlock",
    "ThinkingDelta",
    "ToolCall",
    "ToolCallDelta",
    "UnprocessableError",
    "Usage",
    "ValidationError",
    "api_error",
    "asset",
    "assets",
    "choice",
    "described",
    "flag",
    "hookimpl",
    "integer",
    "is_http_url",
    "items",
    "json_object",
    "json_objects",
    "media_type_of",
    "number",
    "read_envelope",
    "read_numeral",
    "text",
    "texts",
    "url",
    "urls",
    "version_attribute",
    "warn_input",
    "wire",
]


def version_attribute(module: str, distribution: str) -> _Callable[[str], str]:
    """A module ``__getattr__`` that gives ``__version__``, read from ``distribution``'s
    installed metadata when first asked for (importing the plugin reads nothing)::

        if TYPE_CHECKING:
            __version__: str
        else:
            __getattr__ = version_attribute(__name__, "kiekit-veo")
    """

    def __getattr__(name: str) -> str:
        if name == "__version__":
            from importlib.metadata import version

            return version(distribution)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
