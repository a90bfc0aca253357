"""What is installed, read from package metadata alone: no plugin module is imported here.

Each plugin distribution names its module in the ``kiekit.providers`` entry-point group once per
model id it offers, tagged with what the model produces and what it supports — its capability
manifest, readable without importing anything::

    "flux-kontext-pro" = "kiekit_flux_kontext [image, callbacks]"

The first tag that names an output (image, video, audio, text, ``other`` for files of no such
kind — 3D models, archives: ``MediaKind.OTHER`` — or ``any`` for a pattern whose files tell) is
the model's output; the rest are capabilities (``callbacks``: KIE can POST the
outcome to a callBackUrl; ``progress``: the status reports progress). A plugin states the core
it was built for in its ordinary requirement on ``kiekit`` (``kiekit>=0.1,<0.2``): the contract
version is kiekit's minor series. Users steer discovery with three environment variables, like
pytest's and llm's switches:

- ``KIEKIT_BLOCK_PLUGINS=dist-a,dist-b`` hides those distributions;
- ``KIEKIT_ALLOW_PLUGINS=dist-a,dist-b`` hides every other one;
- ``KIEKIT_PREFER=model-id=dist-a,…`` picks the winner when two plugins declare one model id.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from importlib.metadata import Distribution, EntryPoint, entry_points

from attrs import field, frozen

from kiekit import hookspecs
from kiekit._caller import caller_stacklevel
from kiekit._version import __version__

__all__ = [
    "ALLOW_ENV",
    "BLOCK_ENV",
    "OUTPUTS",
    "PREFER_ENV",
    "Listing",
    "Policy",
    "canonical",
    "distribution_of",
    "incompatibility",
    "install_hint",
    "installed",
    "tags_of",
    "warn_unknown_names",
]

BLOCK_ENV = "KIEKIT_BLOCK_PLUGINS"
ALLOW_ENV = "KIEKIT_ALLOW_PLUGINS"
PREFER_ENV = "KIEKIT_PREFER"


def canonical(name: str) -> str:
    """A distribution name as packaging compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).strip().lower()


def _names(raw: str) -> frozenset[str]:
    return frozenset(canonical(name) for name in raw.split(",") if name.strip())


@frozen
class Policy:
    """Which installed plugins may be used, and who wins a contested model id."""

    blocked: frozenset[str] = frozenset()
    allowed: frozenset[str] | None = None
    prefer: Mapping[str, str] = field(factory=dict)  # model id → canonical distribution

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Policy:
        env = os.environ if environ is None else environ
        # set but empty (`KIEKIT_ALLOW_PLUGINS=${ALLOW:-}` in a CI template) is unset, as for
        # every other variable: an empty allow-list would silently block every plugin
        allowed = env.get(ALLOW_ENV, "").strip() or None
        prefer = {}
        for pair in env.get(PREFER_ENV, "").split(","):
            model, sep, dist = pair.rpartition("=")
            if sep and model.strip() and dist.strip():
                prefer[model.strip()] = canonical(dist)
            elif pair.strip():  # a typo would silently leave the duplicate unsettled
                warnings.warn(
                    f"{PREFER_ENV}: {pair.strip()!r} is not MODEL=DISTRIBUTION; ignored",
                    UserWarning,
                    stacklevel=2,
                )
        return cls(
            blocked=_names(env.get(BLOCK_ENV, "")),
            allowed=None if allowed is None else _names(allowed),
            prefer=prefer,
        )

    def admits(self, distribution: str) -> bool:
        name = canonical(distribution)
        if name in self.blocked:
            return False
        return self.allowed is None or name in self.allowed


def warn_unknown_names(policy: Policy, distributions: Iterable[str]) -> None:
    """A warning for each name in ``KIEKIT_BLOCK_PLUGINS`` / ``KIEKIT_ALLOW_PLUGINS`` that no
    installed plugin (``distributions``) has, with the close ones that are: a typo there would
    block (or admit) nothing, silently. Said once a process per name."""
    present = tuple(sorted({canonical(name) for name in distributions}))
    for variable, names in ((BLOCK_ENV, policy.blocked), (ALLOW_ENV, policy.allowed or ())):
        for name in sorted(set(names) - set(present)):
            _warn_unknown(variable, name, present)


@functools.cache
def _warn_unknown(variable: str, name: str, present: tuple[str, ...]) -> None:
    import difflib

    close = difflib.get_close_matches(name, present, n=3, cutoff=0.85)  # all share kiekit-
    guess = "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""
    does = "blocks" if variable == BLOCK_ENV else "admits"
    warnings.warn(
        f"{variable}: no installed plugin is named {name!r}{guess} (it {does} nothing; "
        "installed: " + (", ".join(present) or "none") + ")",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


def distribution_of(ep: EntryPoint) -> str:
    """The name of the distribution that declares ``ep`` (its module when unknown)."""
    dist = ep.dist
    if dist is None:
        return ep.module
    where = getattr(dist, "_path", None)  # one folder per installed distribution
    if where is None:
        return dist.name
    # ``dist.name`` parses the METADATA file each time (~2 ms); a registry asks for it per entry
    # point, so it was most of the time `kie run` spent before sending anything.
    name = _DIST_NAMES.get(where)
    if name is None:
        name = _DIST_NAMES[where] = dist.name
    return name


_DIST_NAMES: dict[object, str] = {}


def _headers(dist: Distribution) -> tuple[str, str, list[str]]:
    """Name, version and Requires-Dist lines from the METADATA headers, read as plain lines:
    ``dist.metadata`` would import the email parser, ~15 ms of every ``kie providers``."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = "?"
    requires = []
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "name":
            name = value
        elif key == "version":
            version = value
        elif key == "requires-dist":
            requires.append(value)
    return name, version, requires


def incompatibility(dist: Distribution | None) -> str | None:
    """Why ``dist`` cannot work with this kiekit, from its requirement on ``kiekit``; None when
    it can (or states nothing). Read from metadata: the plugin is not imported."""
    if dist is None:
        return None
    return _incompatible(dist.requires or ())


def _incompatible(requires: Iterable[str]) -> str | None:
    for line in requires:
        found = _KIEKIT_REQUIREMENT.match(line)
        if found is None or found["marker"]:  # not kiekit, or only under a condition
            continue
        clauses = [c.strip() for c in found["spec"].split(",") if c.strip()]
        if not all(_satisfies(__version__, clause) for clause in clauses):
            return f"built for kiekit{','.join(clauses)}, this is kiekit {__version__}"
    return None


# `kiekit>=0.1,<0.2`, `kiekit[mock] (>=0.1)`, `kiekit ; extra == "x"` (PEP 508). Read by hand:
# packaging's parser costs ~50 ms of start-up, more than all of kie providers' own work. The name
# ends where a name character cannot follow: `kiekit-suno`, `kiekit_suno`, `kiekit.suno` are
# other distributions (PEP 503), with versions of their own.
_KIEKIT_REQUIREMENT = re.compile(
    r"^\s*kiekit(?![\w.-])\s*(?:\[[^\]]*\])?\s*\(?(?P<spec>[^;)]*)\)?\s*(?:;(?P<marker>.*))?$",
    re.I,
)
_CLAUSE = re.compile(r"^(?P<op>~=|===|==|!=|<=|>=|<|>)\s*(?P<version>[\w.*+!-]+)$")


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version (``0.1.0rc1`` → (0, 1, 0)); enough for kiekit's."""
    numbers = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(n) for n in numbers[0].split(".")) if numbers else (0,)


def _satisfies(version: str, clause: str) -> bool:
    found = _CLAUSE.match(clause)
    if found is None:
        return True  # a clause we cannot read does not block a plugin
    op, wanted = found["op"], found["version"]
    have = _release(version)
    if wanted.endswith(".*"):  # ==0.1.* / !=0.1.*
        prefix = _release(wanted[:-2])
        same = have[: len(prefix)] == prefix
        return same if op == "==" else not same
    want = _release(wanted)
    width = max(len(have), len(want))
    a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
    if op == "~=":  # compatible release: >= want, same prefix but for the last part
        return a >= b and a[: len(want) - 1] == want[:-1]
    return {
        "==": a == b,
        "===": a == b,
        "!=": a != b,
        "<=": a <= b,
        ">=": a >= b,
        "<": a < b,
        ">": a > b,
    }[op]


# every MediaKind's value, and "any" for a model whose files tell (Model.output None)
OUTPUTS = frozenset({"image", "video", "audio", "text", "other", "any"})


def tags_of(ep: EntryPoint) -> tuple[str | None, tuple[str, ...]]:
    """(output, capabilities) from the entry point's bracketed tags."""
    tags = [tag.strip().lower() for tag in ep.extras if tag.strip()]
    output = next((tag for tag in tags if tag in OUTPUTS), None)
    return output, tuple(tag for tag in tags if tag != output)


def entry_points_of_group() -> Iterable[EntryPoint]:
    return entry_points(group=hookspecs.ENTRY_POINT_GROUP)


@frozen
class Listing:
    """One model id as its distribution declares it, read without importing the plugin.

    ``output`` and ``capabilities``: the entry point's tags; ``blocked``: hidden by the user's
    policy; ``incompatible``: why the plugin cannot load.
    """

    model: str
    module: str
    distribution: str
    version: str
    output: str | None = None
    capabilities: tuple[str, ...] = ()
    blocked: bool = False
    incompatible: str | None = None


def installed(policy: Policy | None = None) -> list[Listing]:
    """Every model id the installed plugins declare, marked by the policy (default: the
    environment) and by declared compatibility."""
    rules = Policy.from_env() if policy is None else policy
    facts: dict[int, tuple[str, str, str | None]] = {}  # one METADATA parse per distribution
    listings = []
    for ep in entry_points_of_group():
        dist = ep.dist
        if id(dist) not in facts:
            if dist is None:
                facts[id(dist)] = ("?", "?", None)
            else:
                name, version, requires = _headers(dist)
                facts[id(dist)] = (name, version, _incompatible(requires))
        name, version, why = facts[id(dist)]
        output, capabilities = tags_of(ep)
        listings.append(
            Listing(
                model=ep.name,
                module=ep.module,
                distribution=name,
                version=version,
                output=output,
                capabilities=capabilities,
                blocked=not rules.admits(name if dist else ep.module),
                incompatible=why,
            )
        )
    if policy is None:  # the user's own names, from the environment
        warn_unknown_names(rules, (listing.distribution for listing in listings))
    return sorted(listings, key=lambda item: (item.distribution, item.model))


# Which of kiekit's own distributions serves a model id (the README's providers table), for an
# error that can say what to install; the first pattern that matches wins. A plugin's own
# entry points are the truth once installed: this only names what is not.
_SERVED_BY = (
    ("gpt4o-image", "kiekit-gpt4o-image"),
    ("flux-kontext-*", "kiekit-flux-kontext"),
    ("grok-imagine/*", "kiekit-grok-imagine"),
    ("veo3*", "kiekit-veo"),
    ("runway/*", "kiekit-runway"),
    ("luma/*", "kiekit-luma"),
    ("kling-3.0/*", "kiekit-kling"),
    ("sora-*", "kiekit-sora"),
    ("suno/*", "kiekit-suno"),
    ("mj_*", "kiekit-midjourney"),
    ("gpt-5*", "kiekit-chat"),
    ("claude-*", "kiekit-chat"),
    ("gemini-*", "kiekit-chat"),
    ("grok-4*", "kiekit-chat"),
    ("*", "kiekit-market"),  # any other id: KIE's market, its generic plugin
)


def distribution_for(model: str) -> str:
    """The kiekit distribution that serves ``model`` (kiekit-market for any market id)."""
    from fnmatch import fnmatchcase

    return next(dist for pattern, dist in _SERVED_BY if fnmatchcase(model, pattern))


# Where each of kiekit's distributions lives in its repository, for an install hint
_FOLDERS = {"kiekit": "core", "kiekit-mock": "mockserver", "kiekit-contract": "contract_tests"}


def install_hint(distribution: str) -> str:
    """How to install one of kiekit's own distributions, in words that are true: they are not
    on PyPI (and a name there could one day be someone else's package), so from a clone of
    kiekit's repository, by folder (README, "Install")."""
    folder = _FOLDERS.get(distribution) or "plugins/" + distribution.removeprefix("kiekit-")
    return (
        f"install {distribution} (not on PyPI: from a clone of kiekit, "
        f"pip install ./{folder}; README, Install)"
    )
