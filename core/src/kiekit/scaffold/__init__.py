"""``kie plugin new``: a complete plugin package, made from text templates.

Two kinds: models on KIE's market jobs API (the default), and with ``family=True`` a KIE API
family with its own endpoints, whose package also carries the mock KIE server's emulation of
that family (``mock_family.py``, found by kiekit-mock through its entry points), so that the
whole contract suite runs against it.

The templates in ``template/`` are package data, so the command works from an installed kiekit,
outside any repository. They are plain ``string.Template`` text (``$name`` placeholders) named
``*.tmpl``, so no tool mistakes them for code: pytest does not collect ``test_plugin.py.tmpl``
and ruff does not lint it. Everything is rendered and checked before the folder is made, and an
existing folder is never touched.

The generated code is written in its formatted form (ruff format, line length 100) for any name
and model id these checks allow: lines that hold them are split in advance, with trailing
commas so that the formatter keeps them split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template

from attrs import frozen

from kiekit import __version__
from kiekit.errors import ValidationError
from kiekit.models import MediaKind

__all__ = [
    "FROM_WHEELS",
    "OUTPUTS",
    "PluginPlan",
    "kiekit_requirement",
    "new_plugin",
    "plan",
]

OUTPUTS = ("image", "video", "audio", "text")
LINE_LENGTH = 100  # the generated pyproject.toml's ruff line-length
NAME_MAX = 32
MODEL_ID_MAX = 80

# The distributions kiekit ships (kiekit-NAME): a plugin of the same name would replace the
# official one when installed (one distribution name, one package). tools/tests/test_repo.py
# keeps the list in step with plugins/.
SHIPPED = frozenset(
    {
        "chat",
        "contract",
        "flux-kontext",
        "gpt4o-image",
        "grok-imagine",
        "kling",
        "luma",
        "market",
        "midjourney",
        "mock",
        "runway",
        "sora",
        "suno",
        "veo",
    }
)

_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
# KIE's ids: grok-imagine/text-to-image, kling-3.0/video, sora-2-characters, seedream/4.5-edit
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")

# output file → template file (``family/…`` for the family kind)
_MARKET_FILES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    ".gitignore": "gitignore.tmpl",
    "src/{package}/__init__.py": "__init__.py.tmpl",
    "src/{package}/provider.py": "provider.py.tmpl",
    "src/{package}/py.typed": None,  # empty: the package ships type hints (PEP 561)
    "tests/conftest.py": "conftest.py.tmpl",
    "tests/test_{module}.py": "test_plugin.py.tmpl",
}
_FAMILY_FILES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "family/README.md.tmpl",
    ".gitignore": "gitignore.tmpl",
    "src/{package}/__init__.py": "__init__.py.tmpl",
    "src/{package}/provider.py": "family/provider.py.tmpl",
    "src/{package}/mock_family.py": "family/mock_family.py.tmpl",
    "src/{package}/py.typed": None,
    "tests/test_{module}.py": "family/test_plugin.py.tmpl",
}
# a family's result files: their type on the mock, and how the generated test recognises them
_FAMILY_FILE_TYPES = {
    "image": ("png", '0, b"\\x89PNG"'),
    "video": ("mp4", '4, b"ftyp"'),
    "audio": ("mp3", '0, b"ID3"'),
}
# The distributions of kiekit a plugin depends on, each taken from the folder of kiekit's
# wheels by the generated [tool.uv.sources]: uv applies a source to a direct dependency only, so
# each is one of the plugin's (kiekit-mock in the dev group, although kiekit-contract brings it).
FROM_WHEELS = ("kiekit", "kiekit-contract", "kiekit-mock")
_WHEELS_INDEX = "kiekit-wheels"  # the name of the generated [[tool.uv.index]]
_DEVELOP = """\
In an environment that has kiekit and kiekit-contract (which brings kiekit-mock, pytest and
hypothesis):

```
pip install -e .         # or: uv pip install --no-deps -e .
pytest                   # the ProviderContract suite and the plugin's own tests, offline
```

`ruff check`, `ruff format --check` and `mypy` read their settings from `pyproject.toml`; its
`dev` group names kiekit-contract, kiekit-mock, ruff and mypy. uv makes the environment by
itself: kiekit is not on PyPI yet, so `pyproject.toml` has uv take kiekit's distributions from
the folder of kiekit's wheels only, `../kiekit-wheels` (as kiekit's guide for plugin authors
builds it; change the `url` of `[[tool.uv.index]]` if yours is elsewhere), and never ask an
index for their names:

```
uv sync                  # the plugin and its dev group, in .venv
uv run pytest
```"""

# A successful recordInfo's resultJson, as the generated tests document it (kie-api.md §2.2).
_RESULT_JSON = {
    "image": '{"resultUrls": [f"https://tempfile.aiquickdraw.com/r/{TASK}-0.jpg"]}',
    "video": '{"resultUrls": [f"https://tempfile.aiquickdraw.com/r/{TASK}-0.mp4"]}',
    "audio": '{"resultUrls": [f"https://tempfile.aiquickdraw.com/r/{TASK}-0.mp3"]}',
    "text": '{"resultObject": {"text": "a lighthouse stands on the rocks"}}',
}


@frozen
class PluginPlan:
    """What ``kie plugin new`` makes: the names, and each file's text by its relative path."""

    name: str
    dist: str
    package: str
    models: tuple[str, ...]
    output: str
    family: bool
    files: Mapping[str, str]


def check_name(name: str) -> str:
    """The plugin name, or ValidationError: what follows ``kiekit-`` in the distribution name."""
    if name.startswith("kiekit-") or name == "kiekit":
        raise ValidationError("NAME", f"give the name without kiekit- ({name[7:] or 'acme'})")
    if not _NAME.fullmatch(name) or len(name) > NAME_MAX:
        raise ValidationError(
            "NAME",
            f"{name!r} is not a plugin name: lowercase letters, digits and single hyphens, "
            f"starting with a letter, at most {NAME_MAX} characters (e.g. acme-banana)",
        )
    if name in SHIPPED:
        raise ValidationError(
            "NAME",
            f"kiekit-{name} is a distribution kiekit ships (package kiekit_"
            f"{name.replace('-', '_')}): installing a plugin of that name would replace it; "
            f"choose a name of your own (e.g. acme-{name})",
        )
    return name


def check_model_id(model_id: str) -> str:
    """A KIE model id the scaffold can write into code and entry points, or ValidationError."""
    if "*" in model_id:
        raise ValidationError(
            "--model", f"{model_id!r} is a pattern; the scaffold makes typed models (exact ids)"
        )
    if not _MODEL_ID.fullmatch(model_id) or len(model_id) > MODEL_ID_MAX:
        raise ValidationError(
            "--model",
            f"{model_id!r} is not a KIE model id: letters, digits, '.', '_', '-' and '/' "
            f"between parts, at most {MODEL_ID_MAX} characters (e.g. acme/banana-v1)",
        )
    return model_id


def kiekit_requirement(version: str) -> str:
    """The kiekit range a new plugin declares: this minor release line while kiekit is 0.x
    (``>=0.1,<0.2``), this major one after (``>=1.2,<2``)."""
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None:
        raise ValueError(f"cannot read kiekit's version {version!r}")
    major, minor = int(found[1]), int(found[2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={major}.{minor},<{upper}"


def plan(
    name: str, models: Iterable[str] = (), output: str = "image", *, family: bool = False
) -> PluginPlan:
    """Check the names and render every file, without touching the disk."""
    name = check_name(name)
    chosen = tuple(dict.fromkeys(check_model_id(m) for m in models)) or (name,)
    if output not in OUTPUTS:
        raise ValidationError("--output", f"must be one of {', '.join(OUTPUTS)}; got {output!r}")
    if family and output not in _FAMILY_FILE_TYPES:
        raise ValidationError(
            "--output", f"a family plugin makes files: one of {', '.join(_FAMILY_FILE_TYPES)}"
        )
    module = name.replace("-", "_")
    package = f"kiekit_{module}"
    cls = "".join(part[:1].upper() + part[1:] for part in name.split("-"))
    kind = MediaKind(output).name
    requirement = kiekit_requirement(__version__)
    values = {
        "name": name,
        "dist": f"kiekit-{name}",
        "package": package,
        "module": module,
        "cls": cls,
        "first_model": chosen[0],
        "model_words": _words(chosen),
        # a family plugin has its own endpoints: not "on the market jobs API" in its metadata
        "served_on": (
            ": a KIE API family with its own endpoints" if family else " on KIE's market jobs API"
        ),
        "plugin_for": "a KIE API family of its own" if family else "KIE market models",
        "kiekit_requirement": f"kiekit{requirement}",
        "contract_requirement": f"kiekit-contract{requirement}",
        "mock_requirement": f"kiekit-mock{requirement}",
        "wheels_index": _WHEELS_INDEX,
        "uv_sources": "\n".join(f'{d} = {{ index = "{_WHEELS_INDEX}" }}' for d in FROM_WHEELS),
        "entry_points": "\n".join(f'"{m}" = "{package} [{output}, callbacks]"' for m in chosen),
        "mock_section": _mock_section(name, package, requirement) if family else "",
        "kind": kind,
        "mock_models": _tuple_line("MODELS", chosen),
        "result_ext": _FAMILY_FILE_TYPES.get(output, ("", ""))[0],
        "magic": _FAMILY_FILE_TYPES.get(output, ("", ""))[1],
        "develop": _DEVELOP,
        "provider_models": "\n".join(
            f'        Model(\n            "{m}",\n            {cls}Input,\n'
            f"            MediaKind.{kind},\n        ),"
            for m in chosen
        ),
        "extra_models": "\n".join(f'    "{m}": "{output}",' for m in chosen),
        "result_json": _RESULT_JSON[output],
        "usage_result": (
            "    print(results.value)  # what the model answered: a value, no files"
            if output == "text"
            else '    files = kie.download(results, "out")  # out/<task id>-0.…'
        ),
        "model_rows": "\n".join(
            f"| `{m}` | {output} | **`prompt`**, `aspect_ratio`, `seed` |" for m in chosen
        ),
    }
    files = {
        path.format(package=package, module=module): _render(template, values)
        for path, template in (_FAMILY_FILES if family else _MARKET_FILES).items()
    }
    return PluginPlan(name, f"kiekit-{name}", package, chosen, output, family, files)


def new_plugin(
    name: str,
    models: Sequence[str] = (),
    output: str = "image",
    parent: Path | str = ".",
    *,
    family: bool = False,
) -> Path:
    """Write the plugin into ``parent/name`` and return that folder.

    Raises ValidationError for a bad name, model id or output (nothing is written), and
    FileExistsError if the folder exists: the scaffold never overwrites anything.
    """
    made = plan(name, models, output, family=family)
    folder = Path(parent) / made.name
    folder.mkdir(parents=True, exist_ok=False)  # refuses an existing folder, atomically
    for relative, content in made.files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return folder


def _tuple_line(name: str, items: Sequence[str]) -> str:
    """``NAME = ("a", "b")`` as ruff formats it: on one line if it fits, else one per line."""
    quoted = [f'"{item}"' for item in items]
    line = f"{name} = ({', '.join(quoted)}{',' if len(quoted) == 1 else ''})"
    if len(line) <= LINE_LENGTH:
        return line
    return f"{name} = (\n" + "".join(f"    {q},\n" for q in quoted) + ")"


def _mock_section(name: str, package: str, requirement: str) -> str:
    return (
        "\n# kiekit-mock finds the family's emulation here; it never imports the provider.\n"
        '[project.entry-points."kiekit_mock.families"]\n'
        f'{name} = "{package}.mock_family:EXTENSION"\n\n'
        "[project.optional-dependencies]\n"
        "# the mock's emulation of the family, for the tests of code that uses it\n"
        f'mock = ["kiekit-mock{requirement}"]\n'
    )


def _render(template: str | None, values: Mapping[str, str]) -> str:
    if template is None:
        return ""
    source = resources.files(__name__).joinpath("template", template)
    return Template(source.read_text(encoding="utf-8")).substitute(values)


def _words(models: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: for prose (README, description), never for code."""
    if len(models) == 1:
        return models[0]
    return ", ".join(models[:-1]) + " and " + models[-1]
