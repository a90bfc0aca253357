"""``kie credits``: the account's credit balance."""

from __future__ import annotations

import argparse
import contextlib

from kiekit._numbers import plain
from kiekit.cli._common import (
    Commands,
    add_connection_options,
    add_json_option,
    emit,
    open_client,
)


def register(commands: Commands) -> None:
    credits = commands.add_parser("credits", help="print the account's credit balance")
    add_connection_options(credits)
    add_json_option(credits)
    credits.set_defaults(handler=_credits)


def _credits(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        balance = open_client(args, stack).credits()
    if emit(args, "credits", {"credits": balance}):
        return 0
    # KIE counts in fractions of a credit (5916.25, kie-api.md §4): every digit, as sent
    print(plain(balance))
    return 0
