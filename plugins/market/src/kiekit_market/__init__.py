"""kiekit-market: any KIE market model by its id, the day it appears (kie-api.md §2).

KIE lists 165 market models in its catalogue (§2.4) and adds new ones often; every one is created
with ``POST /api/v1/jobs/createTask`` ``{"model", "input", "callBackUrl"?}`` and followed with
``GET /api/v1/jobs/recordInfo`` (§2.1–2.2). Everything but the input is therefore known already:
this plugin adds nothing to the shared :class:`~kiekit.families.market.MarketProvider` except a
pattern model id, a free-form input class, and the catalogue of the models KIE lists
(:mod:`kiekit_market.catalogue`), whose documented fields are checked before sending.

One module on purpose: the provider is a declaration, and the package is imported only when a
model id no other plugin serves is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kiekit.plugin import (
    Input,
    InputField,
    MarketProvider,
    Model,
    OpenInput,
    Provider,
    hookimpl,
    version_attribute,
)

from kiekit_market import catalogue

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

    def known_models(self) -> tuple[str, ...]:
        """The catalogue's ids (kiekit_market.catalogue), for "did you mean"."""
        return tuple(catalogue.entries())

    def input_fields(self, model_id: str) -> tuple[InputField, ...]:
        """The catalogue entry's documented fields (none for an id it does not list)."""
        return catalogue.fields(model_id)

    def make_input(
        self,
        model_id: str,
        values: Input | Mapping[str, Any] | None = None,
        *,
        from_text: bool = False,
        **fields: Any,
    ) -> Input:
        """Free-form input, checked against the model's catalogue entry when it has one
        (ValidationError naming the field, before anything is sent). A field given None is
        not given, as for a typed plugin: left out, not sent as null (an enum KIE may refuse,
        kie-api.md §2.4)."""
        made = super().make_input(model_id, values, from_text=from_text, **fields)
        assert isinstance(made, OpenInput)
        if None in made.values.values():
            made = OpenInput(values={k: v for k, v in made.values.items() if v is not None})
        if from_text and isinstance(values, Mapping):
            # a field KIE documents as text keeps the text typed ("2" stays "2", not 2)
            text = catalogue.text_fields(model_id)
            kept: dict[str, Any] = {
                k: v for k, v in values.items() if k in text and isinstance(v, str)
            }
            # a URL list given as text that is no JSON list: comma-separated URLs, as the
            # typed plugins read one (--input image_input=https://…/a.png is a list of one)
            lists = catalogue.list_fields(model_id)
            kept |= {
                k: [part.strip() for part in made.values[k].split(",") if part.strip()]
                for k in values.keys() & lists
                if isinstance(made.values.get(k), str)
            }
            if kept:
                made = OpenInput(values={**made.values, **kept})
        numbers = catalogue.numerals(model_id, made.values)  # 10 for "10", as typed plugins
        if numbers:
            made = OpenInput(values={**made.values, **numbers})
        catalogue.check(model_id, made.values)
        return made


@hookimpl
def kiekit_register_providers(register: Callable[[Provider], None]) -> None:
    register(GenericMarketProvider())


if TYPE_CHECKING:
    __version__: str  # the installed distribution's version
else:
    __getattr__ = version_attribute(__name__, "kiekit-market")
