"""``kie providers``: the installed plugins, their models and capability tags, from metadata."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kiekit.cli._common import Commands
from kiekit.cli._streams import json_text

if TYPE_CHECKING:
    from kiekit.discovery import Listing, Policy
    from kiekit.registry import Registry


def register(commands: Commands) -> None:
    providers = commands.add_parser("providers", help="list installed providers and their models")
    providers.add_argument("--json", action="store_true", help="print JSON instead of a table")
    providers.add_argument(
        "--check",
        action="store_true",
        help="also import each plugin; exit 1 if one is quarantined, incompatible or "
        "unimportable, registers no provider for a model id it declares, a model id is "
        "declared by two distributions, or KIEKIT_ALLOW_PLUGINS / KIEKIT_BLOCK_PLUGINS "
        "leave no installed plugin usable",
    )
    providers.set_defaults(handler=_providers)


def _providers(args: argparse.Namespace) -> int:
    # metadata only: no plugin module is imported
    from kiekit.discovery import Policy, installed, warn_unknown_names

    policy = Policy.from_env()  # read once: the listing and the check judge by the same rules
    quarantined: dict[str, str] = {}
    unregistered: dict[str, list[str]] = {}  # ids a plugin declares and registers no provider for
    registry = None
    if args.check:  # import every plugin, to find the ones that break on loading
        import warnings

        from kiekit.registry import PluginWarning, Registry

        registry = Registry()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)  # reported below, not twice
            quarantined = registry.load_all()
        unregistered = registry.unregistered()
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    # the capability manifest, per distribution: two may declare one id with other tags
    tags: dict[tuple[str, str], tuple[str | None, tuple[str, ...]]] = {}
    listing = installed(policy)
    warn_unknown_names(policy, (item.distribution for item in listing))  # a typo blocks nothing
    for item in listing:
        tags[item.distribution, item.model] = (item.output, item.capabilities)
        status = "ok"
        if item.blocked:
            status = "blocked (KIEKIT_BLOCK_PLUGINS / KIEKIT_ALLOW_PLUGINS)"
        elif item.incompatible:
            status = f"incompatible: {item.incompatible}"
        elif item.distribution in quarantined:
            status = f"quarantined: {quarantined[item.distribution]}"
        elif item.model in unregistered.get(item.distribution, ()):
            status = f"{UNREGISTERED}: its plugin registers no provider for it"
        elif registry is not None and (said := _declared_output(registry, item)) is not None:
            status = f"{MISTAGGED}: tagged [{item.output}], its Model.output says {said!r}"
        key = (item.distribution, item.version, item.module, status)
        groups.setdefault(key, []).append(item.model)
    problems = _problems(groups, policy) if args.check else []
    if args.json:
        rows = [
            {
                "distribution": dist,
                "version": version,
                "module": module,
                "models": models,
                "manifest": {
                    model: {
                        "output": tags[dist, model][0],
                        "capabilities": list(tags[dist, model][1]),
                    }
                    for model in models
                },
                "status": status,
            }
            for (dist, version, module, status), models in groups.items()
        ]
        # as every command's --json: "ok" and "command" first (ok is False only for --check's
        # problems)
        found: dict[str, object] = {"ok": not problems, "command": "providers", "providers": rows}
        if args.check:
            found["problems"] = problems
        print(json_text(found))  # one line, as every command's --json
        return 1 if problems else 0
    if not groups:
        from kiekit.discovery import install_hint

        print(f"no providers installed (try: {install_hint('kiekit-flux-kontext')})")
        return 0
    for (dist, version, module, status), models in groups.items():
        note = "" if status == "ok" else f"  [{status}]"
        print(f"{dist} {version}  ({module}){note}")
        for model in models:
            pattern = "  (pattern: model ids no other plugin serves)" if "*" in model else ""
            output, capabilities = tags[dist, model]
            shown = ", ".join([output or "?", *capabilities])
            print(f"  {model}  [{shown}]{pattern}")
    for problem in problems:
        owner = problem["distribution"]  # None: the install as a whole
        print(f"kie providers --check: {f'{owner}: ' if owner else ''}{problem['detail']}",
              file=sys.stderr)  # fmt: skip
    return 1 if problems else 0


UNREGISTERED = "unregistered"
MISTAGGED = "mistagged"


def _declared_output(registry: Registry, item: Listing) -> str | None:
    """What the model's provider declares it makes (``Model.output``; "any" for None) when the
    entry point's output tag says otherwise — ``kie providers`` and ``kie run --mock`` read the
    tag, the client the model —, else None. An untagged entry point, a pattern, or an id its
    plugin cannot serve here (reported as such) is not judged."""
    from kiekit.discovery import canonical
    from kiekit.errors import KieError

    if item.output is None or "*" in item.model:
        return None
    try:
        provider = registry.provider(item.model)
    except KieError:  # contested, quarantined…: --check reports that itself
        return None
    if canonical(registry.origin_of(provider, item.model)) != canonical(item.distribution):
        return None  # another distribution's provider serves the id (KIEKIT_PREFER)
    model = provider.model(item.model)
    declared = model.output.value if model.output is not None else "any"
    return None if declared == item.output else declared


def _problems(
    groups: dict[tuple[str, str, str, str], list[str]], policy: Policy
) -> list[dict[str, object]]:
    """What ``--check`` fails on: a plugin that cannot serve (quarantined, incompatible), model
    ids a plugin declares and registers no provider for (every use fails), and a model id two
    distributions declare (only one of them can have it) unless the user settled
    it. Blocked plugins are the user's own choice, not a problem: they are never loaded, so
    they own nothing; nor does an incompatible plugin (reported as such, never loaded); and
    ``KIEKIT_PREFER`` naming one of the owners settles the id, as the registry does when the
    model is used."""
    from kiekit.discovery import canonical

    found: list[dict[str, object]] = []
    owners: dict[str, list[str]] = {}
    for (dist, _version, _module, status), models in groups.items():
        if status.startswith("blocked"):
            continue
        for kind in ("quarantined", "incompatible"):
            if status.startswith(kind):
                detail = status.split(": ", 1)[-1]
                found.append({"distribution": dist, "kind": kind, "models": models,
                              "detail": f"{kind}: {detail}"})  # fmt: skip
        if status.startswith(MISTAGGED):
            ids = ", ".join(repr(model) for model in models)
            detail = (
                f"{ids}: {status.split(': ', 1)[1]}; write the tag the model declares in its "
                "entry point (as the contract's test_entry_points_declare_the_models asks)"
            )
            found.append({"distribution": dist, "kind": MISTAGGED, "models": models,
                          "detail": detail})  # fmt: skip
        if status.startswith(UNREGISTERED):
            ids = ", ".join(repr(model) for model in models)
            detail = (
                f"declares {ids} in its entry points, but its plugin registers no provider "
                "for them (its kiekit_register_providers hook)"
            )
            found.append(
                {"distribution": dist, "kind": UNREGISTERED, "models": models, "detail": detail}
            )
        if status.startswith("incompatible"):
            continue
        for model in models:
            owners.setdefault(model, []).append(dist)
    for model, dists in owners.items():
        if len(set(dists)) > 1 and policy.prefer.get(model) not in {canonical(d) for d in dists}:
            for dist in sorted(set(dists)):
                others = ", ".join(sorted(set(dists) - {dist}))
                found.append({"distribution": dist, "kind": "duplicate", "models": [model],
                              "detail": f"declares {model!r}, as {others} does"})  # fmt: skip
    if groups and all(status.startswith("blocked") for *_, status in groups):
        found.append(_nothing_admitted(groups, policy))
    return found


def _nothing_admitted(
    groups: dict[tuple[str, str, str, str], list[str]], policy: Policy
) -> dict[str, object]:
    """The problem of an install whose every plugin is blocked (``KIEKIT_ALLOW_PLUGINS`` with
    a typo, say): one blocked plugin is a choice, but then no model at all can run, and a
    container's healthcheck must not stay green for a container that can do nothing."""
    from kiekit.discovery import ALLOW_ENV, BLOCK_ENV

    by = [name for name, set_ in ((ALLOW_ENV, policy.allowed is not None),
                                  (BLOCK_ENV, bool(policy.blocked))) if set_]  # fmt: skip
    installed = ", ".join(sorted({dist for dist, *_ in groups}))
    detail = (
        f"{' and '.join(by)} {'leaves' if len(by) == 1 else 'leave'} no installed plugin "
        "usable, so no model can run "
        f"(installed: {installed})"
    )
    return {"distribution": None, "kind": "nothing_admitted", "models": [], "detail": detail}
