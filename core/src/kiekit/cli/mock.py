"""``kie mock serve``: the mock KIE server's own command line, passed through."""

from __future__ import annotations

import argparse

from kiekit._paths import native
from kiekit.cli._common import Commands
from kiekit.errors import ConfigurationError


def register(commands: Commands) -> None:
    mock = commands.add_parser("mock", help="the mock KIE server")
    mock_commands = mock.add_subparsers(metavar="ACTION")
    serve = mock_commands.add_parser(
        "serve",
        help="serve the mock KIE API on 127.0.0.1, with its inspector page at /_mock/ui "
        "(options: python -m kiekit_mock --help)",
        add_help=False,
    )
    # the rest goes to the mock, which says a misspelt KIEKIT_MOCK_* name itself: kie does
    # not say it too
    serve.set_defaults(handler=_mock_serve, passthrough=True, mock_says=True)


def _mock_serve(args: argparse.Namespace) -> int:
    """The mock's own command line, so its options are declared in one place."""
    try:
        from kiekit_mock.__main__ import main as mock_main
    except ImportError as exc:
        from kiekit.discovery import install_hint

        missing = f"the mock server is not installed: {install_hint('kiekit-mock')}"
        raise ConfigurationError(missing) from exc
    given = [native(option) for option in args.options]  # its file options' bytes, as given
    return mock_main(given, prog="kie mock serve")
