"""kiekit-market: any KIE market model by its id, the day it appears (kie-api.md §2).

KIE lists about 120 market models (§2.4) and adds new ones often; every one of them is created
with ``POST /api/v1/jobs/createTask`` ``{"model", "input", "callBackUrl"?}`` and followed with
``GET /api/v1/jobs/recordInfo`` (§2.1–2.2). Everything but the input is therefore known already:
this plugin adds nothing to the shared :class:`~kiekit.families.market.MarketProvider` except a
pattern model id and a free-form input class.

One module on purpose: the provider is a declaration, and the package is imported only when a
model id no other plugin serves is used.
"""

from __future__ import annotations

from collections.abc import Callable

from kiekit import Model, Provider, hookimpl
from kiekit.families.market import MarketProvider
from kiekit.fields import OpenInput

__all__ = ["GenericMarketProvider", "kiekit_register_providers"]


class GenericMarketProvider(MarketProvider):
    """Every market model id no typed plugin claims, with its input sent as given.

    ``*`` is the least specific pattern there is, so the registry comes here only when no
    installed plugin declares the id exactly or by a narrower pattern. The input is an
    :class:`~kiekit.fields.OpenInput`: kiekit checks only that it is a JSON object, and KIE
    validates the fields (422 for an unknown model or a bad field, §2.4, §7). The output kind is
    not known in advance (None), so each result's kind comes from its file's media type.
    """

    name = "market"
    models = (Model("*", OpenInput, None),)


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(GenericMarketProvider())
