"""Model id → provider: plugins found from metadata (:mod:`kiekit.discovery`), imported on first
use, registered through pluggy's ``kiekit_register_providers`` hook.

Chat providers (:class:`~kiekit.chat.ChatProvider`, kie-api.md §5) register through the same hook
and live in the same table, so one model id has one owner whatever its kind; :meth:`provider`
and :meth:`chat_provider` each say clearly when a model is of the other kind.

One broken plugin must not take the others down (simonw/llm#1280): an installed plugin that is
built for another kiekit, fails to import, registers something that is not a provider, or claims
a model id another plugin owns is *quarantined* — skipped with a :class:`PluginWarning` naming
it — and every other provider keeps working. ``KIEKIT_PREFER`` settles a contested model id.
"""

from __future__ import annotations

import difflib
import functools
import threading
import warnings
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from importlib.metadata import EntryPoint
from typing import Any, NamedTuple

import pluggy

from kiekit import discovery, hookspecs
from kiekit._caller import caller_stacklevel
from kiekit.chat.provider import ChatProvider
from kiekit.discovery import (
    ALLOW_ENV,
    BLOCK_ENV,
    Listing,
    Policy,
    canonical,
    distribution_of,
    incompatibility,
    installed,
)
from kiekit.errors import PluginError, UnknownModelError, ValidationError, did_you_mean
from kiekit.provider import Provider

__all__ = [
    "BLOCK_ENV",
    "Listing",
    "PluginWarning",
    "Registry",
    "UnlistedModelWarning",
    "Unserved",
    "default_registry",
    "installed",
]


AnyProvider = Provider | ChatProvider


class Unserved(NamedTuple):
    """A model id installed plugins declare that none of them serves (``kie models``):
    ``status`` "contested" (several declare it) or "unavailable" (its plugin is quarantined
    or registers no provider for it), the ``distributions`` that declare it, and why."""

    status: str
    distributions: tuple[str, ...]
    detail: str


class PluginWarning(UserWarning):
    """An installed plugin was quarantined; the message names it and says why."""


class UnlistedModelWarning(UserWarning):
    """A model id no plugin lists by name, served by a pattern, looks like a known one: the
    message says which. Given on every create of such an id (it is sent as is: KIE adds
    models every week, and a new one is often a near neighbour of a known id, as
    ``gpt-image-2-6-…`` is of ``gpt-image-2-5-…``), and on its first use without a create
    (``adopt``, a wait of a task made elsewhere); never for an id passed to
    :meth:`Registry.send_as_is`. Not given for an id the pattern's provider refuses
    (kiekit-suno's ``suno/*``): its refusal carries the suggestion."""


class Registry:
    """Model id → provider, filled lazily from installed plugins and explicitly added ones."""

    def __init__(
        self,
        *,
        discover: bool = True,
        blocked: Iterable[str] | None = None,
        policy: Policy | None = None,
    ) -> None:
        """``discover``: find installed plugins through their entry points. ``policy``: which
        may be used (default: the environment, read now); ``blocked`` adds distributions to
        hide."""
        rules = Policy.from_env() if policy is None else policy
        # the environment's names are checked against what is installed when first read
        self._unchecked_names = rules if policy is None else None
        self._blocked_here = frozenset(canonical(name) for name in blocked or ())
        self._policy_given = policy is not None  # else the environment's (_left_out_by)
        if blocked is not None:
            rules = Policy(
                blocked=rules.blocked | {canonical(name) for name in blocked},
                allowed=rules.allowed,
                prefer=rules.prefer,
            )
        self._discover = discover
        self._policy = rules
        self._manager = pluggy.PluginManager(hookspecs.PROJECT)
        self._manager.add_hookspecs(hookspecs)
        self._providers: dict[str, AnyProvider] = {}
        self._origin: dict[str, str] = {}  # model id → the plugin (distribution) that owns it
        self._by_pattern: dict[str, AnyProvider] = {}  # ids a pattern serves, once resolved
        self._unlisted: dict[str, list[str]] = {}  # such ids close to listed ones: the close ones
        # such ids the pattern's provider refuses: its refusal (field, words), with a suggestion
        self._refused: dict[str, tuple[str, str]] = {}
        self._as_is: set[str] = set()  # such close ids the user chose to create: send_as_is
        # What provider() answered, read without the lock: a client asks for every call it
        # makes. Emptied whenever a provider is registered (_claim), under the lock.
        self._task_providers: dict[str, Provider] = {}
        self._quarantined: dict[str, str] = {}  # distribution → why
        self._claimants: dict[str, set[str]] | None = None  # model id → declaring distributions
        self._lock = threading.RLock()

    @property
    def quarantined(self) -> dict[str, str]:
        """Distributions skipped so far, and why."""
        with self._lock:
            return dict(self._quarantined)

    # -- registering --------------------------------------------------------------------------

    def add(self, plugin: Any, *, name: str | None = None) -> None:
        """Register a plugin object or module that implements ``kiekit_register_providers``.

        All or nothing: if any provider it registers breaks the contract, none is kept, the
        plugin is unregistered again and PluginError says why.
        """
        self._add(plugin, name=name, declared=None)

    def _add(self, plugin: Any, *, name: str | None, declared: frozenset[str] | None) -> None:
        """``add``; ``declared``: the model ids an installed distribution's entry points
        declare (None for a plugin added by the application)."""
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
                claims = self._check(offered, label, declared)
            except Exception:
                self._manager.unregister(plugin)
                raise
            self._claim(claims, label)

    def add_provider(self, provider: AnyProvider) -> None:
        """Register one provider object directly (handy in tests and applications)."""
        with self._lock:
            origin = type(provider).__module__
            self._claim(self._check([provider], origin), origin)

    def _claim(self, claims: dict[str, AnyProvider], origin: str) -> None:
        for model_id, provider in claims.items():
            self._providers[model_id] = provider
            self._origin[model_id] = origin
        self._by_pattern.clear()  # a new pattern may now be the more specific one
        self._unlisted.clear()
        self._refused.clear()
        self._task_providers.clear()  # and a new exact id the owner of a model served so far

    def _check(
        self, offered: list[Any], origin: str, declared: frozenset[str] | None = None
    ) -> dict[str, AnyProvider]:
        """Model id → provider for what ``origin`` offers and may have, or PluginError."""
        claims: dict[str, AnyProvider] = {}
        for provider in offered:
            if not isinstance(provider, (Provider, ChatProvider)):
                raise PluginError(
                    f"plugin {origin} registered {provider!r}, which is not a Provider "
                    "or a ChatProvider"
                )
            if not provider.models:
                raise PluginError(f"plugin {origin} registered {provider.name!r} with no models")
            for model in provider.models:
                if declared is not None and model.id not in declared:
                    self._refuse_undeclared(model.id, origin)
                if not self._may_claim(model.id, origin):
                    continue  # contested in the metadata, and the user picked another (or none)
                owner = claims.get(model.id) or self._providers.get(model.id)
                if owner is None or owner is provider:
                    claims[model.id] = provider
                    continue
                if model.id in claims:
                    # one plugin's own slip (its hook registered the id twice), not two
                    # plugins contesting an id: KIEKIT_PREFER cannot settle it
                    raise PluginError(f"{origin} lists {model.id} twice")
                preferred = self._policy.prefer.get(model.id)
                if preferred == canonical(origin):
                    claims[model.id] = provider  # the user's pick takes the id over
                elif preferred is None:
                    first = self._origin.get(model.id, origin)
                    raise PluginError(
                        f"model {model.id!r} is claimed by both {first} and {origin} "
                        f"(choose one with KIEKIT_PREFER={model.id}=<distribution>)"
                    )
                # else: the user preferred another plugin; this claim is simply not taken
        return claims

    def _refuse_undeclared(self, model_id: str, origin: str) -> None:
        """A plugin may register an id its entry points do not declare only while no other
        distribution declares it: otherwise it would serve another plugin's model whenever it
        happens to load first (and be refused when it loads second)."""
        owners = self._declarers().get(model_id, set()) - {canonical(origin)}
        if owners:
            raise PluginError(
                f"plugin {origin} registers model {model_id!r}, which its entry points "
                f"(group 'kiekit.providers') do not declare; {', '.join(sorted(owners))} "
                "declares it. A plugin must declare every model id it registers"
            )

    def _declarers(self) -> dict[str, set[str]]:
        """Model id → the admitted distributions that declare it and can load, from metadata.
        A plugin built for another kiekit is never loaded, so it owns nothing (as a blocked
        one)."""
        if self._claimants is None:
            claimants: dict[str, set[str]] = {}
            fits: dict[str, bool] = {}  # one METADATA read per distribution
            for ep in self._points():
                dist = canonical(distribution_of(ep))
                if dist not in fits:
                    fits[dist] = incompatibility(ep.dist) is None
                if fits[dist]:
                    claimants.setdefault(ep.name, set()).add(dist)
            self._claimants = claimants
        return self._claimants

    def _contested(self) -> dict[str, set[str]]:
        """Model ids that several admitted, compatible distributions declare, from metadata."""
        return {model: dists for model, dists in self._declarers().items() if len(dists) > 1}

    def _may_claim(self, model_id: str, origin: str) -> bool:
        dists = self._contested().get(model_id)
        if dists is None or canonical(origin) not in dists:
            return True
        return self._policy.prefer.get(model_id) == canonical(origin)

    def origin_of(self, provider: AnyProvider, model: str) -> str:
        """The plugin (distribution, or an added provider's module) that registered
        ``provider``, which serves ``model``: named in a PluginHookError."""
        with self._lock:
            if self._providers.get(model) is provider:
                return self._origin[model]
            for model_id, registered in self._providers.items():
                if registered is provider:
                    return self._origin[model_id]
        return type(provider).__module__

    # -- finding ------------------------------------------------------------------------------

    def provider(self, model: str, *, creating: bool = False) -> Provider:
        """The provider of ``model``, importing its plugin on first use.

        An exact model id always wins; otherwise the most specific pattern (an entry point or
        model id holding ``*``, like the generic market plugin's) that matches serves it, but
        not an id of one of kiekit's typed plugins that is not installed (UnknownModelError
        naming the plugin to install; README, Install).
        A chat model raises ValidationError: it is not a task (use ``Client.chat``).

        An id no plugin lists that is close to one that is (a typo, or a model KIE added this
        week) is sent as is, with an UnlistedModelWarning at the caller's line: on its first
        use, and on every create (``creating``), so that a notebook cell run again does not
        send its typo unsaid (``kie run`` and ``run_batch``, where nobody reads a warning
        before paying, refuse it unless told ``--any-model``). :meth:`send_as_is` silences it
        for ids meant. Unless the pattern's provider refuses the id (its ``model`` raises
        ValidationError, as kiekit-suno's ``suno/*`` does for an id it does not serve): that
        refusal is raised here, with the close ids named.
        """
        refused = self._refused.get(model)
        if refused is not None:  # a new error each time: one raised again grows its traceback
            raise ValidationError(*refused)
        found = self._task_providers.get(model)
        first = found is None
        if found is None:
            with self._lock:  # the lookup and its memo as one step: no registration in between
                resolved = self._resolve(model)
                if isinstance(resolved, ChatProvider):
                    raise ValidationError(
                        "model",
                        f"{model!r} is a chat model, not a task: use Client.chat or kie chat",
                    )
                refused = self._refused.get(model)
                if refused is not None:  # found a refusal while resolving
                    raise ValidationError(*refused)
                self._task_providers[model] = found = resolved
        close = self._unlisted.get(model)
        if close and model not in self._as_is and (first or creating):
            said = "is sent as is" if creating else "is served by a pattern"
            warnings.warn(
                f"model {model!r} is not listed by any plugin and {said}{did_you_mean(close)} "
                f"(send_as_is({model!r}) on the client's Registry, "
                "kiekit.registry.default_registry() unless it was given one, says it is meant)",
                UnlistedModelWarning,
                stacklevel=caller_stacklevel(),
            )
        return found

    def send_as_is(self, *models: str) -> None:
        """Say ``models`` are meant, though each looks like a typo of a listed id (KIE adds
        models often: one may be new): no UnlistedModelWarning for them, as ``kie run
        --any-model`` and ``run_batch(..., any_model=True)`` let them through. Kept for the
        registry's life."""
        with self._lock:
            self._as_is.update(models)

    def chat_provider(self, model: str) -> ChatProvider:
        """The chat provider of ``model``, importing its plugin on first use; ValidationError
        for a task model (use ``Client.submit``)."""
        try:
            found = self._resolve(model)  # a pattern-served id is refused below, not "as is"
        except UnknownModelError:  # named among the chat models, not the task ones
            chats = self.chat_models()
            raise UnknownModelError(
                model, chats, suggestions=near_misses(model, chats), served_by=self.served_by(model)
            ) from None
        if not isinstance(found, ChatProvider):
            if model not in self._providers:  # only a pattern (the generic market) serves it
                chats = self.chat_models()
                close = near_misses(model, chats)
                raise UnknownModelError(
                    model, chats, suggestions=close, served_by=self.served_by(model)
                )
            raise ValidationError(
                "model", f"{model!r} is a task model, not a chat model: use submit or kie run"
            )
        return found

    def chat_models(self) -> list[str]:
        """The chat model ids known: registered, or tagged ``chat`` by installed plugins."""
        names = {m for m, p in self._providers.items() if isinstance(p, ChatProvider)}
        names.update(
            ep.name
            for ep in self._points()
            if "chat" in discovery.tags_of(ep)[1] and distribution_of(ep) not in self._quarantined
        )
        return sorted(names)

    def _resolve(self, model: str) -> AnyProvider:
        with self._lock:
            found = self._providers.get(model) or self._by_pattern.get(model)
            if found is not None:
                return found
            points = self._points()
            contested = self._contested().get(model)
            if contested and self._policy.prefer.get(model) not in contested:
                names = ", ".join(sorted(contested))
                raise PluginError(
                    f"model {model!r} is declared by several plugins ({names}); pick one with "
                    f"KIEKIT_PREFER={model}=<distribution>"
                )
            declared = self._preferred_first(model, [ep for ep in points if ep.name == model])
            for ep in declared:
                if self._load(ep) and model in self._providers:
                    return self._providers[model]
            if declared:
                raise PluginError(self._unavailable(model, declared))
            for ep in points:
                if "*" in ep.name and fnmatchcase(model, ep.name):
                    self._load(ep)
            patterns = [p for p in self._providers if "*" in p and fnmatchcase(model, p)]
            if patterns:
                # Entry points do not change within a process: remember the answer, so polls
                # of a pattern-served model do not read package metadata each time.
                chosen = self._providers[max(patterns, key=_specificity)]
                if hint := self._owner_missing(model, chosen):
                    raise UnknownModelError(model, self._task_models(), served_by=hint)
                self._by_pattern[model] = chosen
                if close := self.suggestions(model):
                    refused = _refusal(chosen, model, close)
                    if refused is None:
                        self._unlisted[model] = close  # warned of by provider()
                    else:
                        self._refused[model] = refused  # raised by provider()
                return chosen
            close = self.suggestions(model)
            served_by = self.served_by(model)
            if close and discovery.distribution_for(model) == "kiekit-market":
                # kiekit-market is only the guess for an id of no known product line: with an
                # installed plugin's id close to it, a typo is likelier, and the market would
                # send it to KIE as an open market job (a paid 422, or another model's task)
                served_by = None
            raise UnknownModelError(
                model, self._task_models(), suggestions=close, served_by=served_by
            )

    def _owner_missing(self, model: str, pattern: AnyProvider) -> str | None:
        """How to install the typed plugin of ``model`` (the README's table) when it is not in
        use here and ``pattern`` (kiekit-market's ``*``) does not list the id by name: a pattern
        would send 4o Image, Veo or Runway as a market job, to the wrong path (kie-api.md §3:
        each legacy product has its own). None when the pattern may serve it, and in a
        registry of explicitly added providers (``discover=False``): they serve what they match."""
        if not self._discover:
            return None
        if isinstance(pattern, Provider) and model in pattern.known_models():
            return None  # a market model of the catalogue (Kling, Sora…): the right path
        if hidden := self._hidden_declarers(model):  # a third party's, blocked: its own path
            return f"{', '.join(hidden)} serves it, but {self._left_out_by(hidden)}"
        if discovery.distribution_for(model) == "kiekit-market":
            return None  # any other word is the market's: KIE adds market models weekly
        return self.served_by(model)

    def left_out(self, model: str) -> str | None:
        """``"no installed plugin serves MODEL …"`` when ``model`` is declared only by an
        installed distribution that KIEKIT_BLOCK_PLUGINS / KIEKIT_ALLOW_PLUGINS leave out (its
        plugin is not used here; a pattern such as kiekit-market's ``*`` must not serve its
        ids, to the wrong path); None otherwise. ``kie run`` and ``kie resume`` say it alike."""
        if model in self._providers or not self._discover:
            return None  # registered by name (an application's own provider too)
        hidden = self._hidden_declarers(model)
        if not hidden:
            return None
        try:
            self._resolve(model)
        except UnknownModelError:
            pass  # no pattern may serve it (_owner_missing)
        except PluginError:
            return None  # said as such when the model is asked for
        else:
            return None  # a pattern's catalogue lists it: market jobs, such as Kling's
        return (
            f"no installed plugin serves {model}: {', '.join(hidden)} declares it, but "
            f"{self._left_out_by(hidden)}"
        )

    def _hidden_declarers(self, model: str) -> list[str]:
        """The installed distributions that declare ``model`` by name but are left out here
        (KIEKIT_BLOCK_PLUGINS / KIEKIT_ALLOW_PLUGINS); none when an admitted one declares it."""
        if any(ep.name == model for ep in self._points()):
            return []
        return sorted(
            {
                distribution_of(ep)
                for ep in discovery.entry_points_of_group()
                if ep.name == model and not self._policy.admits(distribution_of(ep))
            }
        )

    def unserved_task(self, model: str, request: Mapping[str, Any] | None) -> str | None:
        """Why a journaled task of ``model``, created with ``request`` (its body as the
        journal recorded it), is served by no plugin here; None when one serves it. A task
        whose plugin is blocked or uninstalled is never handed to a pattern (kiekit-market's
        ``*``) that did not make it: polled at the market's path it reads as "Task not found"
        and looks abandonable, though KIE made it and was paid (kie-api.md §3: each family has
        its own paths). ``kie resume`` leaves such a row owed, as it is."""
        if (why := self.left_out(model)) is not None:
            return why
        try:
            provider = self._resolve(model)
        except (PluginError, UnknownModelError):
            return None  # said as such when the task is asked for (naming its plugin)
        with self._lock:
            if model in self._providers or not isinstance(provider, Provider):
                return None  # listed by name: its own plugin
        if request is None or provider.made_request(model, request):
            return None  # adopted (no body), or a create the pattern's family makes
        return f"no installed plugin serves {model} (its plugin is not installed here)"

    def served_by(self, model: str) -> str | None:
        """Which of kiekit's distributions serves ``model`` and how to install it, when it is
        not in use here (None when it is: then ``model`` is not one it serves)."""
        wanted = discovery.distribution_for(model)
        if any(canonical(distribution_of(ep)) == canonical(wanted) for ep in self._points()):
            return None  # it is here: the id is not one it serves
        every = discovery.entry_points_of_group() if self._discover else []
        if any(canonical(distribution_of(ep)) == canonical(wanted) for ep in every):
            return f"{wanted} serves it, but {self._left_out_by([wanted])}"
        return f"{wanted} serves it: {discovery.install_hint(wanted)}"

    def _preferred_first(self, model: str, points: list[EntryPoint]) -> list[EntryPoint]:
        preferred = self._policy.prefer.get(model)
        return sorted(points, key=lambda ep: canonical(distribution_of(ep)) != preferred)

    def _unavailable(self, model: str, declared: list[EntryPoint]) -> str:
        reasons = []
        for ep in declared:
            dist = distribution_of(ep)
            why = self._quarantined.get(dist, "it registers no provider for this model")
            reasons.append(f"{dist}: {why}")
        return f"model {model!r} is unavailable: " + "; ".join(reasons)

    def load_all(self) -> dict[str, str]:
        """Import every admitted plugin now (``kie providers --check``); the quarantine after."""
        with self._lock:
            for ep in self._points():
                self._load(ep)
            return dict(self._quarantined)

    def _load(self, ep: EntryPoint) -> bool:
        """Import and register ``ep``'s plugin; False when it is (now) quarantined."""
        dist = distribution_of(ep)
        if dist in self._quarantined:
            return False
        why = incompatibility(ep.dist)
        if why is not None:  # reported and skipped without importing it
            self._quarantine(dist, why)
            return False
        declared = frozenset(
            point.name for point in self._points() if distribution_of(point) == dist
        )
        # a broken plugin must not take the host down: its import, or its hook, failing
        try:
            plugin = ep.load()
        except Exception as exc:
            self._quarantine(dist, f"failed to import: {type(exc).__name__}: {exc}")
            return False
        try:
            self._add(plugin, name=dist, declared=declared)
        except PluginError as exc:
            self._quarantine(dist, exc.message)
            return False
        except Exception as exc:  # the module imported: its hook raised
            hook = "kiekit_register_providers"
            self._quarantine(dist, f"its {hook} hook raised {type(exc).__name__}: {exc}")
            return False
        return True

    def unregistered(self) -> dict[str, list[str]]:
        """Distribution → the model ids its entry points declare that its plugin, imported,
        registers no provider for (``kie providers --check``, after :meth:`load_all`): every
        use of them fails. An id several distributions declare is KIEKIT_PREFER's to settle
        (only the preferred one registers it), and a quarantined plugin is reported as such."""
        with self._lock:
            contested = self._contested()
            missing: dict[str, list[str]] = {}
            for ep in self._points():
                dist = distribution_of(ep)
                loaded = self._manager.has_plugin(dist) and dist not in self._quarantined
                if loaded and ep.name not in contested and self._origin.get(ep.name) != dist:
                    missing.setdefault(dist, []).append(ep.name)
            return missing

    def _quarantine(self, dist: str, why: str) -> None:
        self._quarantined[dist] = why
        warnings.warn(
            f"kiekit plugin {dist} is quarantined ({why}); other providers keep working",
            PluginWarning,
            stacklevel=caller_stacklevel(),
        )

    def _points(self) -> list[EntryPoint]:
        if not self._discover:
            return []
        every = discovery.entry_points_of_group()
        if self._unchecked_names is not None:
            every = list(every)
            named, self._unchecked_names = self._unchecked_names, None
            discovery.warn_unknown_names(named, (distribution_of(ep) for ep in every))
        return [ep for ep in every if self._policy.admits(distribution_of(ep))]

    def suggestions(self, model: str) -> list[str]:
        """The known model ids closest to ``model`` (at most three), or none when ``model`` is
        itself known by name: a plugin's exact id or in a provider's
        :meth:`~kiekit.provider.Provider.known_models` catalogue."""
        with self._lock:
            catalogues = {
                known
                for provider in set(self._providers.values())
                if isinstance(provider, Provider)
                for known in provider.known_models()
            }
            names = set(self._named_models()) | catalogues
        if model in names:
            return []
        return near_misses(model, names)

    def listed_provider(
        self, model: str, *, any_model: bool = False, opt_out: str = "--any-model"
    ) -> Provider:
        """The provider of ``model`` as ``kie run`` and ``kie batch`` judge it before anything
        is sent: ValidationError naming the field for an id of a quarantined or blocked plugin
        (worded as ``kie resume`` says it), and for an id no plugin lists but close to one that
        does (a typo costs a paid 422, or a task of the wrong model: the closest ids named)
        unless ``any_model``; ``opt_out`` is how the caller's user sends such an id as is."""
        left_out = self.left_out(model)
        if left_out is not None:
            raise ValidationError("model", left_out)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnlistedModelWarning)  # refused below instead
            provider = self.provider(model)
        if any_model:
            self.send_as_is(model)  # the create that follows sends it
        close = [] if any_model else self.suggestions(model)
        if close:
            raise ValidationError(
                "model",
                f"{model!r} is not a model id any plugin lists{did_you_mean(close)} "
                f"({opt_out} sends it as is)",
            )
        return provider

    def providers(self) -> list[Provider]:
        """Every task provider this registry serves, each once: those added to it and the
        installed plugins it admits, imported now (:meth:`load_all`). For what only a family
        knows that no model id leads to, such as where its callbacks carry the task id
        (:meth:`~kiekit.provider.Provider.callback_task_id`, read by the webhook receiver)."""
        with self._lock:
            self.load_all()
            found = {id(p): p for p in self._providers.values() if isinstance(p, Provider)}
            return list(found.values())

    def served_models(self) -> dict[str, str]:
        """Every model id known by name, sorted, each with the plugin (distribution) that
        serves it: the ids installed plugins declare, and those their pattern providers know
        by name (kiekit-market's catalogue, :meth:`~kiekit.provider.Provider.known_models`),
        for which the pattern plugins are imported. An id a plugin declares is its own, as
        :meth:`provider` decides; a catalogue id goes to the most specific pattern."""
        with self._lock:
            for ep in self._points():
                if "*" in ep.name:
                    self._load(ep)
            patterns = sorted(
                (p for p in self._providers if "*" in p), key=_specificity, reverse=True
            )
            served: dict[str, str] = {}
            for pattern in patterns:
                provider = self._providers[pattern]
                if isinstance(provider, Provider):
                    for known in provider.known_models():
                        if "*" not in known and fnmatchcase(known, pattern):
                            served.setdefault(known, self._origin[pattern])
            for ep in self._points():
                dist = distribution_of(ep)
                if "*" not in ep.name and dist not in self._quarantined and self._owns(ep):
                    served[ep.name] = dist
            served.update({m: o for m, o in self._origin.items() if "*" not in m})
            return dict(sorted(served.items()))

    def _owns(self, ep: EntryPoint) -> bool:
        """Whether ``ep``'s distribution is the one to serve its model id: the only one that
        declares it, or the one ``KIEKIT_PREFER`` picks among several (otherwise none is,
        as :meth:`provider` refuses the id)."""
        dists = self._contested().get(ep.name)
        return dists is None or self._policy.prefer.get(ep.name) == canonical(distribution_of(ep))

    def unserved_models(self) -> dict[str, Unserved]:
        """The model ids installed plugins declare that none of them serves here, each with
        why, as :meth:`provider` refuses them: declared by several distributions and not
        settled by ``KIEKIT_PREFER``, or declared by a plugin that is quarantined or registers
        no provider for it. Imports every plugin (:meth:`load_all`), as
        ``kie providers --check`` does, since a plugin's quarantine shows only then."""
        with self._lock:
            self.load_all()
            served = self.served_models()
            unregistered = self.unregistered()
            found: dict[str, Unserved] = {}
            for model, dists in self._contested().items():
                if "*" not in model and self._policy.prefer.get(model) not in dists:
                    names = " and ".join(sorted(dists))
                    why = f"declared by {names}; pick one with KIEKIT_PREFER={model}=<distribution>"
                    found[model] = Unserved("contested", tuple(sorted(dists)), why)
            for ep in self._points():
                dist, model = distribution_of(ep), ep.name
                if "*" in model or model in served or model in found or not self._owns(ep):
                    continue
                if dist in self._quarantined:
                    why = f"{dist} is quarantined: {self._quarantined[dist]}"
                elif model in unregistered.get(dist, ()):
                    why = f"{dist} registers no provider for it"
                else:
                    continue
                found[model] = Unserved("unavailable", (dist,), why)
            return dict(sorted(found.items()))

    def _named_models(self) -> list[str]:
        return [name for name in self.models() if "*" not in name]

    def _task_models(self) -> list[str]:
        """The ids ``submit`` takes, named in its UnknownModelError (not the chat models)."""
        chats = set(self.chat_models())
        return [name for name in self._named_models() if name not in chats]

    def _left_out_by(self, distributions: Iterable[str]) -> str:
        """What leaves ``distributions`` out, as the user said it: ``Registry(blocked=…)``,
        the policy given, or the variables that are set (not both names when one is)."""
        names = {canonical(name) for name in distributions}
        if names & self._blocked_here:
            return "Registry(blocked=…) leaves it out"
        if self._policy_given:
            return "the registry's policy leaves it out"
        causes = [BLOCK_ENV] if names & self._policy.blocked else []
        if self._policy.allowed is not None and not names <= self._policy.allowed:
            causes.append(ALLOW_ENV)
        if len(causes) == 1:
            return f"{causes[0]} leaves it out"
        return f"{BLOCK_ENV} / {ALLOW_ENV} leave it out"

    def models(self) -> list[str]:
        """Every model id known: declared by usable installed plugins or added explicitly."""
        names = set(self._providers)
        names.update(
            ep.name for ep in self._points() if distribution_of(ep) not in self._quarantined
        )
        return sorted(names)


def near_misses(model: str, names: Iterable[str]) -> list[str]:
    """The ids of ``names`` that ``model`` is likely a slip of, closest first (at most three):
    compared without case, so an id in capitals (``FLUX-KONTEXT-PRO``, ``VEO3``) finds its
    own, which difflib, comparing case, put far below its cutoff."""
    by_folded: dict[str, str] = {}
    for name in sorted(names):
        by_folded.setdefault(name.casefold(), name)
    folded = model.casefold()
    if folded in by_folded and by_folded[folded] != model:
        return [by_folded[folded]]  # the same id in another case: no other is as close
    close = difflib.get_close_matches(folded, list(by_folded), n=3, cutoff=0.75)
    return [by_folded[found] for found in close]


def _refusal(provider: AnyProvider, model: str, close: list[str]) -> tuple[str, str] | None:
    """How ``provider``, a pattern's, refuses ``model`` (a ValidationError's field and words,
    naming the ``close`` ids unless it offers its own guess); None when it takes it. Asked of
    the provider itself, never of a plugin by name: the core knows no plugin (DESIGN.md)."""
    if not isinstance(provider, Provider):
        return None
    try:
        provider.model(model)
    except ValidationError as refusal:
        field = refusal.field
        words = refusal.message.removeprefix(f"{field}: ")
        if "did you mean" not in words:
            words += did_you_mean(close)
        return field, words
    return None


def _specificity(pattern: str) -> int:
    return len(pattern.replace("*", ""))


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry of installed plugins that clients use unless given another."""
    return Registry()
