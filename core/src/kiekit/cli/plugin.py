"""``kie plugin new NAME``: scaffold a plugin package of one's own."""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import shutil
import sys
from pathlib import Path

from kiekit.cli._common import Commands, path_option, say
from kiekit.errors import ConfigurationError


def register(commands: Commands) -> None:
    plugin = commands.add_parser("plugin", help="write a kiekit plugin of your own")
    plugin_commands = plugin.add_subparsers(metavar="ACTION")
    new = plugin_commands.add_parser(
        "new",
        help="make a plugin package: provider, tests, README "
        "(with --family, an API family of its own and its mock emulation)",
    )
    new.add_argument("name", metavar="NAME", help="e.g. acme-banana: distribution kiekit-NAME")
    new.add_argument(
        "--model",
        dest="models",
        action="extend",
        nargs="+",
        default=[],
        metavar="MODEL_ID",
        help="a KIE model id the plugin serves (repeatable; default: NAME)",
    )
    new.add_argument(
        "--output",
        choices=("image", "video", "audio", "text"),
        default="image",
        help="what the models produce (default: image)",
    )
    new.add_argument(
        "--family",
        action="store_true",
        help="a KIE API family with its own endpoints, not the market jobs API: the package "
        "also emulates it in the mock KIE server (kiekit_mock.families entry point)",
    )
    new.add_argument(
        "--dir", type=path_option, default=Path(), help="where to make the NAME folder"
    )
    new.set_defaults(handler=_plugin_new)


def _plugin_new(args: argparse.Namespace) -> int:
    from kiekit.scaffold import new_plugin  # the templates load only for this command

    try:
        folder = new_plugin(args.name, args.models, args.output, args.dir, family=args.family)
    except FileExistsError:
        raise ConfigurationError(
            f"{args.dir / args.name} already exists; kie plugin new never overwrites a folder"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot write {args.dir / args.name}: {exc}") from exc
    print(folder)
    say(f"made kiekit-{args.name}; next, in the environment this kie runs in:")
    for step in next_steps(folder):
        say(f"  {step}")
    return 0


def next_steps(folder: Path) -> list[str]:
    """The commands that install the new plugin beside the kiekit running now and run its
    tests. They work before kiekit is on any index, and ask none for kiekit's names (someone
    else's package could be found there): the plugin's one dependency is the kiekit running now,
    and kiekit-contract, if missing, comes from kiekit's wheels named as files."""
    python = shlex.quote(sys.executable)
    if importlib.util.find_spec("pip") is None and shutil.which("uv") is not None:
        install = f"uv pip install --python {python}"  # a uv-made environment has no pip
        # uv would ask the index for kiekit although it is installed (pip does not), or take it
        # from the folder the generated pyproject names: the plugin alone, beside this kiekit
        editable = f"{install} --no-deps -e ."
    else:
        install = f"{python} -m pip install"
        editable = f"{install} -e ."
    steps = [f"cd {shlex.quote(str(folder))}"]
    if importlib.util.find_spec("kiekit_contract") is None:
        # the folder of wheels the generated pyproject names (kiekit's guide for plugin authors)
        steps.append(f"{install} ../kiekit-wheels/*.whl  # kiekit-contract: its tests need it")
    return [*steps, editable, f"{python} -m pytest"]
