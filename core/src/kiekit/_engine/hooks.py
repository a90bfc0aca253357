"""A plugin's hooks, called at one boundary: whatever a hook raises that is not kiekit's own
(a ``KeyError`` on a payload it did not expect, an ``AttributeError``), and whatever it
returns of the wrong type (a dict for a ``Request``), becomes one
:class:`~kiekit.errors.PluginHookError` naming the plugin's distribution, the hook, the model
and the task, chained to the original. One plugin's bug is then that task's error — said
cleanly by ``kie run``, contained to its row by ``kie resume`` — and never a traceback that
takes the other tasks down with it. A hook's own KieError (ValidationError, ProtocolError) is
documented behaviour and passes as it is.
"""

from __future__ import annotations

from typing import Any, TypeVar

from kiekit.chat.provider import ChatProvider
from kiekit.chat.types import ChatDelta, ChatFailure, ChatReply
from kiekit.errors import KieError, PluginHookError
from kiekit.models import Request, Results, TaskStatus
from kiekit.provider import Provider
from kiekit.registry import Registry

T = TypeVar("T")

__all__ = ["call_hook"]

# What each hook returns (kiekit.provider.Provider); None allowed where the contract says so
RETURNS: dict[str, tuple[type[Any], ...]] = {
    "build_request": (Request,),
    "parent_task_id": (str, type(None)),
    "parse_created": (str,),
    "status_request": (Request,),
    "parse_status": (TaskStatus,),
    "extract_results": (Results,),
    "status_of_refusal": (TaskStatus, type(None)),
    "parent_status_model": (str, type(None)),
    "refused_by_parent": (KieError,),
    # a ChatProvider's (kiekit.chat.provider); its build_request returns a Request too
    "parse_reply": (ChatReply, ChatFailure),
    "parse_event": (ChatDelta, ChatFailure, type(None)),
}


def call_hook(
    registry: Registry,
    provider: Provider | ChatProvider,
    hook: str,
    *args: Any,
    model: str,
    task_id: str | None = None,
    **kwargs: Any,
) -> Any:
    """``provider.<hook>(*args, **kwargs)``, its result checked against :data:`RETURNS`."""
    try:
        result = getattr(provider, hook)(*args, **kwargs)
    except KieError:
        raise
    except Exception as exc:
        raise _fault(
            registry, provider, hook, model, task_id, f"raised {type(exc).__name__}: {exc}"
        ) from exc
    wanted = RETURNS[hook]
    if not isinstance(result, wanted):
        names = " or ".join("None" if kind is type(None) else kind.__name__ for kind in wanted)
        error = _fault(
            registry,
            provider,
            hook,
            model,
            task_id,
            f"returned {type(result).__name__}, not {names}",
        )
        error.payload = result
        raise error
    return result


def _fault(
    registry: Registry,
    provider: Provider | ChatProvider,
    hook: str,
    model: str,
    task_id: str | None,
    what: str,
) -> PluginHookError:
    dist = registry.origin_of(provider, model)
    name = type(provider).__name__
    return PluginHookError(
        f"plugin {dist} is broken: {name}.{hook} for model {model!r} {what}",
        distribution=dist,
        hook=hook,
        model=model,
        task_id=task_id,
    )
