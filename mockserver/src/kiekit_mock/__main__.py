"""`python -m kiekit_mock` / `kiekit-mock`: serve the mock KIE API on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .config import MockConfig, parse_market_model
from .server import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiekit-mock", description="An offline emulator of the KIE AI API (loopback only)."
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        metavar="KEY",
        help="accept only this API key (repeatable); default: any non-empty key",
    )
    parser.add_argument("--polls", type=int, default=0, help="status polls before a task ends")
    parser.add_argument("--seconds", type=float, default=0.0, help="seconds before a task ends")
    parser.add_argument("--credits", type=float, default=1000.0, help="credits per account")
    parser.add_argument(
        "--market-model",
        action="append",
        default=[],
        dest="market_models",
        metavar="ID=KIND",
        help="accept a market model the mock does not know, KIND one of image, video, audio, "
        "text (repeatable), e.g. --market-model acme/banana-v1=image",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = MockConfig(
            api_keys=frozenset(args.keys) if args.keys else None,
            polls_to_complete=args.polls,
            seconds_to_complete=args.seconds,
            starting_credits=args.credits,
            extra_market_models=dict(map(parse_market_model, args.market_models)),
        )
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        serve(port=args.port, host=args.host, config=config)
    except ValueError as exc:
        print(f"kiekit-mock: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"kiekit-mock: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
