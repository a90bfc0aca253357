"""Finding providers: entry-point metadata to list them, pluggy to load them on first use.

Each plugin distribution names its module in the ``kiekit.providers`` entry-point group once per
model id it offers (``"flux-kontext-pro" = "kiekit_flux_kontext"``). Listing models therefore
reads package metadata only; a plugin module is imported the first time one of its models is
asked for, and then registered with pluggy, whose ``kiekit_register_providers`` hook hands over
the provider objects.

``KIEKIT_BLOCK_PLUGINS`` (comma-separated distribution names, as pytest's and llm's switches)
hides installed plugins from discovery, e.g. to keep the generic ``kiekit-market`` plugin from
serving model ids no typed plugin owns.
"""

from __future__ import annotations

import functools
import os
import re
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

__all__ = ["BLOCK_ENV", "Listing", "Registry", "default_registry", "installed"]

BLOCK_ENV = "KIEKIT_BLOCK_PLUGINS"


@frozen
class Listing:
    """One model id as its distribution declares it, read without importing the plugin."""

    model: str
    module: str
    distribution: str
    version: str
    blocked: bool = False


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).strip().lower()


def blocked_by_env() -> frozenset[str]:
    """The distributions ``KIEKIT_BLOCK_PLUGINS`` names, canonicalised."""
    raw = os.environ.get(BLOCK_ENV, "")
    return frozenset(_canonical(name) for name in raw.split(",") if name.strip())


def _distribution(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist else ep.value


def _entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=hookspecs.ENTRY_POINT_GROUP)


def installed(blocked: Iterable[str] | None = None) -> list[Listing]:
    """Every model id the installed plugins declare, from package metadata alone; those of
    blocked distributions (default: ``KIEKIT_BLOCK_PLUGINS``) are marked."""
    hidden = blocked_by_env() if blocked is None else frozenset(map(_canonical, blocked))
    listings = []
    for ep in _entry_points():
        dist = ep.dist
        listings.append(
            Listing(
                model=ep.name,
                module=ep.value,
                distribution=dist.name if dist else "?",
                version=dist.version if dist else "?",
                blocked=_canonical(_distribution(ep)) in hidden,
            )
        )
    return sorted(listings, key=lambda item: (item.distribution, item.model))


class Registry:
    """Model id → provider, filled lazily from installed plugins and explicitly added ones."""

    def __init__(self, *, discover: bool = True, blocked: Iterable[str] | None = None) -> None:
        """``discover``: find installed plugins through their entry points. ``blocked``:
        distributions to ignore (default: ``KIEKIT_BLOCK_PLUGINS``, read now)."""
        self._discover = discover
        self._blocked = blocked_by_env() if blocked is None else frozenset(map(_canonical, blocked))
        self._manager = pluggy.PluginManager(hookspecs.PROJECT)
        self._manager.add_hookspecs(hookspecs)
        self._providers: dict[str, Provider] = {}
        self._origin: dict[str, str] = {}
        self._by_pattern: dict[str, Provider] = {}  # ids a pattern serves, once resolved
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
            self._by_pattern.clear()  # a new pattern may now be the more specific one

    def add_provider(self, provider: Provider) -> None:
        """Register one provider object directly (handy in tests and applications)."""
        with self._lock:
            origin = type(provider).__module__
            for model_id, checked in self._check([provider], origin).items():
                self._providers[model_id] = checked
                self._origin[model_id] = origin
            self._by_pattern.clear()

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
            found = self._providers.get(model) or self._by_pattern.get(model)
            if found is not None:
                return found
            points = self._points()
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
                # Entry points do not change within a process: remember the answer, so polls
                # of a pattern-served model do not read package metadata each time.
                chosen = self._providers[max(patterns, key=_specificity)]
                self._by_pattern[model] = chosen
                return chosen
            raise UnknownModelError(model, self.models())

    def _load(self, ep: EntryPoint) -> None:
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not look like a missing one
            dist = ep.dist.name if ep.dist else ep.value
            raise PluginError(f"plugin {dist} ({ep.value}) failed to import: {exc!r}") from exc
        self.add(module, name=ep.value)

    def _points(self) -> list[EntryPoint]:
        if not self._discover:
            return []
        return [ep for ep in _entry_points() if _canonical(_distribution(ep)) not in self._blocked]

    def models(self) -> list[str]:
        """Every model id known: declared by installed plugins or added explicitly."""
        names = set(self._providers)
        names.update(ep.name for ep in self._points())
        return sorted(names)


def _specificity(pattern: str) -> int:
    return len(pattern.replace("*", ""))


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry of installed plugins that clients use unless given another."""
    return Registry()
