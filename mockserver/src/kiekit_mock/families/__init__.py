"""One module per KIE API family, moto-style: routes, validation and wire shapes together.

The built-in families are listed here; Luma (``luma.py``) and Midjourney (``midjourney.py``) are
loaded, like a family from another package, through the public extension API
(``kiekit_mock.extension``) and its entry point."""

from __future__ import annotations

from collections.abc import Callable

from ..runtime import CallbackPayload, Runtime
from ..state import Family, TaskSnapshot, Transition
from . import chat, common, flux_kontext, gpt4o_image, market, runway, suno, veo

ROUTE_TABLES = (
    common.ROUTES,
    market.ROUTES,
    flux_kontext.ROUTES,
    gpt4o_image.ROUTES,
    runway.ROUTES,
    veo.ROUTES,
    *suno.ROUTE_TABLES,
    *chat.ROUTE_TABLES,
)

# Extensions add theirs when a mock starts (extension.register)
CALLBACK_PAYLOADS: dict[Family, CallbackPayload] = {
    "market": market.callback_payload,
    "flux-kontext": flux_kontext.callback_payload,
    "gpt4o-image": gpt4o_image.callback_payload,
    "runway": runway.callback_payload,
    "aleph": runway.aleph_callback_payload,
    "veo": veo.callback_payload,
    "suno": suno.callback_payload,
}
# callbacks a family sends before its final one, as a task reaches each stage (Suno's text and
# first, kie-api.md §3.6): owed by the family's own poll, and by the settler for a task that
# ended unpolled
STAGED_CALLBACKS: dict[Family, Callable[[Runtime, TaskSnapshot], None]] = {
    "suno": suno.owe_stages,
}
# the families above, which no extension may take the name of (CALLBACK_PAYLOADS grows)
OWN_FAMILIES = frozenset(CALLBACK_PAYLOADS)


def task_families() -> tuple[str, ...]:
    """Every family a task of this mock can belong to: the built-ins and the installed
    extensions (kiekit-mock's own Luma and Midjourney among them)."""
    from ..extension import installed_families

    return tuple(sorted(OWN_FAMILIES | {family.name for family in installed_families()}))


def notify(rt: Runtime, transition: Transition) -> None:
    """Owe a finished task's callback, whatever its family (used by manual steps)."""
    rt.finish(transition, CALLBACK_PAYLOADS[transition.task.family])


def notify_unpolled(rt: Runtime, transition: Transition) -> None:
    """Owe the callbacks of a task that moved on time with nobody polling (settler.py): the
    staged ones it has reached and not had, in KIE's order, as a webhook-only client would get
    them, then, if it ended, the final one."""
    staged = STAGED_CALLBACKS.get(transition.task.family)
    if staged is not None:
        staged(rt, transition.task)
    if transition.finished_now:
        notify(rt, transition)


__all__ = ["CALLBACK_PAYLOADS", "ROUTE_TABLES", "notify", "notify_unpolled"]
