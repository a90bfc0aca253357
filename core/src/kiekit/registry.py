"""Finding providers: entry-point metadata to list them, pluggy to load them on first use.

Each plugin distribution names its module in the ``kiekit.providers`` entry-point group once per
model id it offers (``"flux-kontext-pro" = "kiekit_flux_kontext"``). Listing models therefore
reads package metadata only; a plugin module is imported the first time one of its models is
asked for, and then registered with pluggy, whose ``kiekit_register_providers`` hook hands over
the provider objects.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from fnmatch import fnmatchcase
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from attrs import frozen

from kiekit import hookspecs
from kiekit.errors import PluginError, UnknownModelError
from kiekit.provider import Provider

__all__ = ["Listing", "Registry", "default_registry", "installed"]


@frozen
class Listing:
    """One model id as its distribution declares it, read without importing the plugin."""

    model: str
    module: str
    distribution: str
    version: str


def _entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=hookspecs.ENTRY_POINT_GROUP)


def installed() -> list[Listing]:
    """Every model id the installed plugins declare, from package metadata alone."""
    listings = []
    for ep in _entry_points():
        dist = ep.dist
        listings.append(
            Listing(
                model=ep.name,
                module=ep.value,
                distribution=dist.name if dist else "?",
                version=dist.version if dist else "?",
            )
        )
    return sorted(listings, key=lambda item: (item.distribution, item.model))


class Registry:
    """Model id → provider, filled lazily from installed plugins and explicitly added ones."""

    def __init__(self, *, discover: bool = True) -> None:
        self._discover = discover
        self._manager = pluggy.PluginManager(hookspecs.PROJECT)
        self._manager.add_hookspecs(hookspecs)
        self._providers: dict[str, Provider] = {}
        self._origin: dict[str, str] = {}
        self._lock = threading.RLock()

    def add(self, plugin: Any, *, name: str | None = None) -> None:
        """Register a plugin object or module that implements ``kiekit_register_providers``.

        All or nothing: if any provider it registers breaks the contract, none is kept and
        the plugin is unregistered again, so a fixed plugin can be added later.
        """
        with self._lock:
            if self._manager.is_registered(plugin):
                return
            label = name or getattr(plugin, "__name__", None) or type(plugin).__name__
            try:
                # Without an explicit name pluggy names objects by id, so two instances of
                # one plugin class can both be added.
                self._manager.register(plugin, name=name)
            except ValueError as exc:
                raise PluginError(f"plugin {label} cannot be registered: {exc}") from exc
            offered: list[Any] = []
            caller = self._manager.subset_hook_caller(
                "kiekit_register_providers",
                remove_plugins=[p for p in self._manager.get_plugins() if p is not plugin],
            )
            try:
                caller(register=offered.append)
                claims = self._check(offered, label)
            except Exception:
                self._manager.unregister(plugin)
                raise
            for model_id, provider in claims.items():
                self._providers[model_id] = provider
                self._origin[model_id] = label

    def add_provider(self, provider: Provider) -> None:
        """Register one provider object directly (handy in tests and applications)."""
        with self._lock:
            origin = type(provider).__module__
            for model_id, checked in self._check([provider], origin).items():
                self._providers[model_id] = checked
                self._origin[model_id] = origin

    def _check(self, offered: list[Any], origin: str) -> dict[str, Provider]:
        """Model id → provider for everything ``origin`` offers, or PluginError."""
        claims: dict[str, Provider] = {}
        for provider in offered:
            if not isinstance(provider, Provider):
                raise PluginError(
                    f"plugin {origin} registered {provider!r}, which is not a Provider"
                )
            if not provider.models:
                raise PluginError(f"plugin {origin} registered {provider.name!r} with no models")
            for model in provider.models:
                owner = claims.get(model.id) or self._providers.get(model.id)
                if owner is not None and owner is not provider:
                    first = self._origin.get(model.id, origin)
                    raise PluginError(f"model {model.id!r} is claimed by both {first} and {origin}")
                claims[model.id] = provider
        return claims

    def provider(self, model: str) -> Provider:
        """The provider of ``model``, importing its plugin on first use.

        An exact model id always wins; otherwise the most specific pattern (an entry point or
        model id holding ``*``, like the generic market plugin's) that matches serves it.
        """
        with self._lock:
            found = self._providers.get(model)
            if found is not None:
                return found
            points = list(_entry_points()) if self._discover else []
            declared = [ep for ep in points if ep.name == model]
            for ep in declared:
                self._load(ep)
            found = self._providers.get(model)
            if found is not None:
                return found
            if declared:
                dist = declared[0].dist.name if declared[0].dist else declared[0].value
                raise PluginError(
                    f"{dist} declares model {model!r} but registers no provider for it"
                )
            for ep in points:
                if "*" in ep.name and fnmatchcase(model, ep.name):
                    self._load(ep)
            patterns = [p for p in self._providers if "*" in p and fnmatchcase(model, p)]
            if patterns:
                return self._providers[max(patterns, key=_specificity)]
            raise UnknownModelError(model, self.models())

    def _load(self, ep: EntryPoint) -> None:
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not look like a missing one
            dist = ep.dist.name if ep.dist else ep.value
            raise PluginError(f"plugin {dist} ({ep.value}) failed to import: {exc!r}") from exc
        self.add(module, name=ep.value)

    def models(self) -> list[str]:
        """Every model id known: declared by installed plugins or added explicitly."""
        names = set(self._providers)
        if self._discover:
            names.update(ep.name for ep in _entry_points())
        return sorted(names)


def _specificity(pattern: str) -> int:
    return len(pattern.replace("*", ""))


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry of installed plugins that clients use unless given another."""
    return Registry()
