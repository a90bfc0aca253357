"""``kie plugin new NAME``: scaffold a plugin package of one's own."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiekit.cli._common import Commands, say
from kiekit.errors import ConfigurationError


def register(commands: Commands) -> None:
    plugin = commands.add_parser("plugin", help="write a kiekit plugin of your own")
    plugin_commands = plugin.add_subparsers(metavar="ACTION")
    new = plugin_commands.add_parser(
        "new", help="make a plugin package for KIE market models: provider, tests, README"
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
    new.add_argument("--dir", type=Path, default=Path(), help="where to make the NAME folder")
    new.set_defaults(handler=_plugin_new)


def _plugin_new(args: argparse.Namespace) -> int:
    from kiekit.scaffold import new_plugin  # the templates load only for this command

    try:
        folder = new_plugin(args.name, args.models, args.output, args.dir)
    except FileExistsError:
        raise ConfigurationError(
            f"{args.dir / args.name} already exists; kie plugin new never overwrites a folder"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot write {args.dir / args.name}: {exc}") from exc
    print(folder)
    say(f"made kiekit-{args.name}; next: cd {folder} && uv run pytest")
    return 0
