"""One module per KIE API family, moto-style: routes, validation and wire shapes together.

The built-in families are listed here; Luma (``luma.py``) and Midjourney (``midjourney.py``) are
loaded, like a family from another package, through the public extension API
(``kiekit_mock.extension``) and its entry point."""

from __future__ import annotations

from ..runtime import CallbackPayload, Runtime
from ..state import Family, Transition
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


__all__ = ["CALLBACK_PAYLOADS", "ROUTE_TABLES", "notify"]
