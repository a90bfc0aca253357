"""The ``kie`` command: one module per command, each adding its own sub-parser.

Results go to standard output (one file path a line, so the command composes in shell pipelines);
progress and errors go to standard error. Errors are one line, never a traceback, and always
name the task id once a task exists, so a paid task is never lost with the error.

A command module has ``register(commands)``, which adds its parser and sets ``handler``. Modules
import their heavy dependencies inside the handler, so ``kie --help`` and ``kie providers`` stay
fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kiekit._version import __version__
from kiekit.cli import batch, chat, credits, mock, plugin, providers, resume, run, tasks, upload
from kiekit.errors import KieError

COMMANDS = (providers, run, mock, plugin, credits, upload, tasks, resume, batch, chat)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.options = extra
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except KieError as exc:
        print(f"kie: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kie: interrupted", file=sys.stderr)
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kie", description="kiekit: the KIE AI API from Python.")
    parser.add_argument("--version", action="version", version=f"kiekit {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
