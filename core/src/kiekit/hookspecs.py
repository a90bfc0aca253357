"""The pluggy hook a plugin implements to hand its providers to kiekit.

Registration is the only hook: once registered, a :class:`~kiekit.provider.Provider` object does
the per-call work (build request, parse status, extract results) and is called directly, as
simonw/llm does with ``register_models``. A plugin module looks like::

    from kiekit import hookimpl

    @hookimpl
    def kiekit_register_providers(register):
        register(MyProvider())

and is named in its distribution's ``kiekit.providers`` entry-point group, one entry per model id,
so that kiekit can list models from metadata and import the module only when a model is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

from kiekit._lazy import LazyModule
from kiekit.provider import Provider

if TYPE_CHECKING:
    from kiekit import chat as kiekit_chat
else:  # chat's HTTP parts load when typing.get_type_hints reads kiekit_chat.ChatProvider
    kiekit_chat = LazyModule("kiekit.chat")

__all__ = ["ENTRY_POINT_GROUP", "PROJECT", "hookimpl", "hookspec", "kiekit_register_providers"]

PROJECT = "kiekit"
ENTRY_POINT_GROUP = "kiekit.providers"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def kiekit_register_providers(
    register: Callable[[Provider | kiekit_chat.ChatProvider], None],
) -> None:
    """Call ``register(provider)`` once for each provider this plugin offers: task
    :class:`~kiekit.provider.Provider` s and chat :class:`~kiekit.chat.ChatProvider` s alike."""
