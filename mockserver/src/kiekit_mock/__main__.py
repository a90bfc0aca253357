"""`python -m kiekit_mock` / `kiekit-mock`: serve the mock KIE API on loopback until Ctrl-C.

    python -m kiekit_mock [serve] [--port N] [--har FILE] …   serve (the default command)
    python -m kiekit_mock openapi [--upload-host] [--out FILE]  the OpenAPI 3.1 document
    python -m kiekit_mock har FILE [--out FILE]                 a HAR file as a replay scenario

`kie mock serve OPTIONS` passes its options here, so serving needs no command word.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .clock import SCALE_RULE, scale_ok
from .config import (
    IDLE_TIMEOUT,
    MEMORY_LIMIT,
    READ_TIMEOUT,
    RECORD_DAYS,
    UPLOAD_LIMIT,
    MockConfig,
    account_id,
    parse_account,
    parse_chat_model,
    parse_market_model,
)
from .controlwire import ControlError
from .families import task_families
from .har import read_scenario
from .lifetime import exit_with_parent_from_env
from .logsink import logging_to
from .openapi import build_document, build_upload_document
from .rules import SECONDS_RULE, Rule, rules_from_json, seconds_ok
from .scenario import Scenario
from .server import SHUTDOWN_SECONDS, UploadPortError, serve
from .variables import EXIT_WITH_PARENT_ENV, said_unknown

COMMANDS = ("serve", "openapi", "har")


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="An offline emulator of the KIE AI API (loopback only); its inspector page "
        "is at /_mock/ui.",
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: a free one)")
    parser.add_argument(
        "--upload-port",
        type=int,
        default=None,
        help="TCP port of the upload host (default: --port + 1; 0: a free one)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        type=_key,
        metavar="KEY",
        help="accept only this API key (repeatable); default: any non-empty key",
    )
    parser.add_argument(
        "--polls",
        type=int,
        default=0,
        help="status polls a task answers before it ends (default 0: it ends at its first "
        "poll). Without --seconds a task ends only when polled, and only then calls back",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="seconds (mock clock) after which a task ends, polled or not, and calls back: "
        "what a client that only waits for callbacks needs (default 0: tasks end only when "
        "polled)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="mock seconds per real second, 0.001 to 1000 (default 1; 60: a 10-minute task or "
        'rate window takes 10 s); changed while it runs with PUT /_mock/clock {"scale": X}',
    )
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
    parser.add_argument(
        "--market-catalogue",
        metavar="FILE",
        help="a JSON file of market model entries in the form of the mock's own catalogue "
        '({"models": [{"id", "kind", "file", "source", "fields"}, ...]}): each model is then '
        "checked field by field, as the mock checks the models it knows (MockConfig."
        "market_catalogue)",
    )
    parser.add_argument(
        "--chat-model",
        action="append",
        default=[],
        dest="chat_models",
        metavar="ID=API",
        help="answer a chat model the mock does not know, API one of completions, messages, "
        "responses (repeatable), e.g. --chat-model acme-chat-1=completions",
    )
    parser.add_argument(
        "--strict-models",
        action="store_true",
        help="refuse market model ids the mock does not know with KIE's 422 'model not "
        "supported' (default: accept them, output kind from the id, with a warning; ids KIE "
        "is recorded refusing, such as kling-3.0, get the 422 either way)",
    )
    parser.add_argument(
        "--market-queuing",
        action="store_true",
        help="market records (and mock family extensions' tasks) show the middle pending state "
        "as 'queuing' (documented by KIE, never seen in its traffic; default: waiting -> "
        "generating -> success)",
    )
    parser.add_argument(
        "--market-unknown-null",
        action="store_true",
        help="market recordInfo answers an unknown task id with data: null, as KIE's Suno "
        "record-info was recorded doing (default: the docs' 404 'Task not found')",
    )
    parser.add_argument(
        "--upload-cdn-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="after an upload overwrites a file of the same name, its link serves the old "
        "bytes for S seconds (mock clock), as KIE's CDN cache does (default 0: the new at once)",
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        dest="accounts",
        metavar="KEY[=CREDITS]",
        help="an account with its own key and credits (repeatable); accounts, like --key, "
        "close the mock to other keys",
    )
    parser.add_argument(
        "--rules",
        metavar="FILE",
        type=_file,
        help="a JSON list of outcome/lifecycle rules for new tasks (see mockserver/README.md)",
    )
    parser.add_argument(
        "--documented-limits",
        action="store_true",
        help="enforce KIE's documented rate limits (20 creates/10 s per account, recordInfo "
        "10/s per key, 4o/Suno record-info 3/s per task)",
    )
    parser.add_argument(
        "--webhook-hmac-key", metavar="KEY", help="sign callbacks as KIE does (kie-api.md §6.3)"
    )
    parser.add_argument(
        "--callback-copies", type=int, default=1, metavar="N", help="send each callback N times"
    )
    parser.add_argument(
        "--journal-limit",
        type=_limit,
        default=100_000,
        metavar="N",
        help="request records kept; the oldest go past it (default 100000; 0: keep all)",
    )
    parser.add_argument(
        "--task-limit",
        type=_limit,
        default=100_000,
        metavar="N",
        help="tasks kept; the oldest finished go past it (default 100000; 0: keep all)",
    )
    parser.add_argument(
        "--callback-limit",
        type=_limit,
        default=100_000,
        metavar="N",
        help="callback records kept; the oldest go past it (default 100000; 0: keep all)",
    )
    parser.add_argument(
        "--record-days",
        type=_record_days,
        default=RECORD_DAYS,
        metavar="D",
        help="days a finished task's record is kept after it ended (mock clock); then its "
        "status query answers as for an unknown task (default 60: KIE's 'log records 2 "
        "months'; 0: keep all)",
    )
    parser.add_argument(
        "--memory-limit",
        type=_byte_limit,
        default=MEMORY_LIMIT,
        metavar="BYTES",
        help="bytes that tasks, their answers and the journal hold together, as 256M or 1G; "
        "past it the oldest go first, as past the count limits (default 256M; 0: no byte limit)",
    )
    parser.add_argument(
        "--upload-limit",
        type=_byte_limit,
        default=UPLOAD_LIMIT,
        metavar="BYTES",
        help="bytes of uploaded files kept, as 500M or 2G; the oldest go past it, and a single "
        "file larger than it is refused (default 1G; 0: keep all); files past KIE's 3 days go "
        "anyway",
    )
    parser.add_argument(
        "--upload-file-limit",
        type=_byte_limit,
        default=None,
        metavar="BYTES",
        help="the largest file the upload host takes, as 500K or 2M; a larger one gets code 400 "
        "(default 0: none beyond --upload-limit, as KIE documents none for stream and base64 "
        "uploads; URL uploads keep their ~100 MB)",
    )
    parser.add_argument(
        "--allow-callback-host",
        action="append",
        default=[],
        dest="callback_hosts",
        metavar="HOST",
        help="also POST callbacks to HOST (repeatable); by default only loopback is called",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every request on standard error (off by default: it costs the server about "
        "a third of its throughput; /_mock/journal and the inspector keep every request anyway)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=SHUTDOWN_SECONDS,
        metavar="S",
        help="at SIGTERM/SIGINT, seconds requests still in flight get to finish, then as long "
        f"again once cut off (default {SHUTDOWN_SECONDS:g}; 0: stop at once)",
    )
    parser.add_argument(
        "--read-timeout",
        type=_seconds,
        default=READ_TIMEOUT,
        metavar="S",
        help="seconds a request's head and body may take to arrive; a slower client's "
        f"connection is closed (default {READ_TIMEOUT:g})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=IDLE_TIMEOUT,
        metavar="S",
        help="seconds a connection may sit with no request (one that never sent a byte too) "
        f"before it is closed (default {IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--ready-json",
        action="store_true",
        help="once both hosts accept connections, print one JSON line on standard output "
        "(event, pid, base_url, upload_base_url, inspector_url, health_url, port, upload_port) "
        "and nothing else there: the start-up lines go to standard error instead",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        default=None,
        help="stop (as at SIGTERM) when the process that started the mock ends (its parent "
        f"pid changes; POSIX); also {EXIT_WITH_PARENT_ENV}=1 (default: keep serving, as a "
        "mock started in the background with & must)",
    )
    parser.add_argument(
        "--exit-on-stdin-close",
        action="store_true",
        help="stop (as at SIGTERM) when standard input reaches its end: keep a pipe to it "
        "open while the mock is wanted (any OS; /dev/null stops it at once)",
    )
    parser.add_argument(
        "--har",
        metavar="FILE",
        type=_file,
        help="replay the tasks recorded in a HAR file (or a scenario from the 'har' command)",
    )
    return parser


def _write(document: Any, out: str | None) -> None:
    """``document`` as JSON: into the file ``out`` in UTF-8, else on standard output, as
    readable as its encoding allows (JSON's own ``\\u`` escapes where an ASCII or latin-1 one,
    a ``LC_ALL=C`` shell's, lacks a character: ``§``, a recorded prompt's Cyrillic)."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is not None and out != "-":
        Path(out).write_text(text, encoding="utf-8")
        return
    try:  # asked, not tried: the stream may escape what it cannot encode, JSON or not
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(document, indent=2) + "\n"
    sys.stdout.write(text)


def _openapi(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="kiekit-mock openapi", description="Write the mock's OpenAPI 3.1 document."
    )
    parser.add_argument(
        "--out", metavar="FILE", type=_file, help="where to write it (default: stdout)"
    )
    parser.add_argument(
        "--upload-host", action="store_true", help="the upload host's document instead"
    )
    args = parser.parse_args(argv)
    document = build_upload_document() if args.upload_host else build_document()
    _write(document, args.out)
    return 0


def _har(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="kiekit-mock har",
        description="Turn a HAR recording into the scenario the mock would replay (no headers, "
        "so no API key, are kept).",
    )
    parser.add_argument("file", metavar="FILE", type=_file, help="a HAR file")
    parser.add_argument(
        "--out", metavar="FILE", type=_file, help="where to write it (default: stdout)"
    )
    args = parser.parse_args(argv)
    try:
        scenario = read_scenario(args.file)
    except (OSError, ValueError) as exc:
        print(f"kiekit-mock: {args.file}: {exc}", file=sys.stderr)
        return 2
    _warn(scenario, args.file)
    _write(scenario.to_json(), args.out)
    return 0


def _warn(scenario: Scenario, file: str) -> None:
    """What a user loading a recording must know: entries skipped, mixed hosts, nothing to
    replay (on standard error, so a scenario written to stdout stays clean)."""
    for line in scenario.warnings():
        print(f"kiekit-mock: warning: {file}: {line}", file=sys.stderr)


def _file(text: str) -> str:
    """A file option's value: an empty one is refused (``Path("")`` is ``.``, this folder)."""
    if not text:
        raise argparse.ArgumentTypeError("is empty: give a path")
    return text


def _key(text: str) -> str:
    """--key: a blank one (``--key "$MOCK_KEY"`` with the variable unset) is refused here, not
    left to MockConfig's TypeError, a traceback."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty (an unset variable?): give a key, or leave "
                                         "--key out to take any")  # fmt: skip
    return text


# MockConfig's checks name its fields; the command line says the option the user typed
_OPTION_OF = {
    "api_keys": "--key",
    "accounts": "--account",
    "extra_market_models": "--market-model",
    "market_catalogue": "--market-catalogue",
    "extra_chat_models": "--chat-model",
    "upload_cdn_seconds": "--upload-cdn-seconds",
    "webhook_hmac_key": "--webhook-hmac-key",
    "callback_copies": "--callback-copies",
    "allowed_callback_hosts": "--allow-callback-host",
}


def _as_option(message: str) -> str:
    """MockConfig's message, with the field it starts with said as its option."""
    field, _, rest = message.partition(" ")
    option = _OPTION_OF.get(field.rstrip(":"))
    return f"{option}: {rest}" if option else message


def _record_days(text: str) -> float | None:
    """--record-days: a number of days, 0 for "kept until --task-limit lets them go"."""
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not 0 <= days < math.inf:
        raise argparse.ArgumentTypeError("must be a finite number of days, 0 (keep all) or more")
    return days or None


def _seconds(text: str) -> float:
    """--read-timeout / --idle-timeout: a finite number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError("must be a finite number of seconds above 0")
    return seconds


def _limit(text: str) -> int | None:
    """--journal-limit / --task-limit / --callback-limit: a count, 0 for none."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError("must be 0 (keep all) or more")
    return count or None


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _byte_limit(text: str) -> int | None:
    """--upload-limit, --upload-file-limit, --memory-limit: bytes, with an optional K, M or G
    (powers of 1024); 0 for none."""
    number, unit = text[:-1], text[-1:].upper()
    if unit not in _UNITS:
        number, unit = text, ""
    try:
        count = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of bytes (or with K, M, G), got {text!r}"
        ) from None
    if count < 0:
        raise argparse.ArgumentTypeError("must be 0 (keep all) or more")
    return count * _UNITS[unit] or None


def main(argv: Sequence[str] | None = None, *, prog: str = "kiekit-mock") -> int:
    """The mock's command line; ``prog`` is the command as the user typed it (``kie mock
    serve`` passes its own name), for usage lines and messages."""
    for line in said_unknown():  # a misspelt KIEKIT_MOCK_* name would go nowhere, unsaid
        print(f"kiekit-mock: warning: {line}", file=sys.stderr)  # as its other lines begin
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else "serve"
    rest = argv[1:] if argv and argv[0] in COMMANDS else argv
    if command == "openapi":
        return _openapi(rest)
    if command == "har":
        return _har(rest)
    return _serve(rest, prog)


def _refuse(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """An option found wrong after parsing (a file's content, a value out of range): one line
    and exit 2, as argparse's own refusals exit. No usage banner: the options were written
    right, and twelve lines of usage would bury the one that says what is wrong."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


def _check_numbers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The lifecycle and credit options, named as typed (MockConfig names its fields): argparse
    reads "inf" and "nan" as floats, and a task that takes for ever is no lifecycle."""
    if args.polls < 0:
        _refuse(parser, f"--polls: must be 0 or more; got {args.polls}")
    if not seconds_ok(args.seconds):
        _refuse(parser, f"--seconds: {SECONDS_RULE}; got {args.seconds:g}")
    if not scale_ok(args.time_scale):
        _refuse(parser, f"--time-scale: {SCALE_RULE}; got {args.time_scale:g}")
    if not 0 <= args.credits < math.inf:
        _refuse(parser, f"--credits: must be a finite number >= 0; got {args.credits!r}")
    if not 0 <= args.shutdown_grace < math.inf:
        _refuse(
            parser, f"--shutdown-grace: must be a finite number >= 0; got {args.shutdown_grace:g}"
        )


def _serve(argv: Sequence[str], prog: str) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    for option, port in (("--port", args.port), ("--upload-port", args.upload_port)):
        if port is not None and not 0 <= port <= 65535:
            _refuse(parser, f"{option}: must be a TCP port, 0 to 65535 (0: a free one); got {port}")
    if args.upload_port is None and args.port == 65535:  # its default, --port + 1, is none
        _refuse(parser, "--port 65535 leaves no port for the upload host: give --upload-port")
    _check_numbers(parser, args)
    rules: tuple[Rule, ...] = ()
    if args.rules is not None:
        try:
            text = Path(args.rules).read_text(encoding="utf-8")
            rules = rules_from_json(json.loads(text), account_id, task_families())
        except (OSError, ValueError) as exc:  # ControlError is a ValueError too
            where = f"{exc.field}: {exc.message}" if isinstance(exc, ControlError) else exc
            _refuse(parser, f"--rules {args.rules}: {where}")
    catalogue: list[Any] = []
    if args.market_catalogue is not None:
        try:
            text = Path(args.market_catalogue).read_text(encoding="utf-8")
            document = json.loads(text)
            catalogue = document["models"] if isinstance(document, dict) else document
        except (OSError, ValueError, KeyError) as exc:
            _refuse(parser, f"--market-catalogue {args.market_catalogue}: {exc!s}")
    try:
        config = MockConfig(
            market_catalogue=tuple(catalogue),
            rules=rules,
            accounts=dict(map(parse_account, args.accounts)),
            api_keys=frozenset(args.keys) if args.keys else None,
            polls_to_complete=args.polls,
            seconds_to_complete=args.seconds,
            starting_credits=args.credits,
            time_scale=args.time_scale,
            extra_market_models=dict(map(parse_market_model, args.market_models)),
            extra_chat_models=dict(map(parse_chat_model, args.chat_models)),
            strict_models=args.strict_models,
            market_queuing=args.market_queuing,
            market_unknown_null=args.market_unknown_null,
            upload_cdn_seconds=args.upload_cdn_seconds,
            documented_limits=args.documented_limits,
            webhook_hmac_key=args.webhook_hmac_key,
            callback_copies=args.callback_copies,
            allowed_callback_hosts=frozenset(args.callback_hosts),
            journal_limit=args.journal_limit,
            task_limit=args.task_limit,
            callback_limit=args.callback_limit,
            upload_limit=args.upload_limit,
            upload_file_limit=args.upload_file_limit,
            record_days=args.record_days,
            memory_limit=args.memory_limit,
            read_timeout=args.read_timeout,
            idle_timeout=args.idle_timeout,
        )
    except (TypeError, ValueError) as exc:  # a value no option check above caught
        _refuse(parser, _as_option(str(exc)))
    scenario: Scenario | None = None
    if args.har is not None:
        try:
            scenario = read_scenario(args.har)
        except (OSError, ValueError) as exc:
            _refuse(parser, f"--har {args.har}: {exc}")
        _warn(scenario, args.har)
        count = len(scenario.tasks)
        print(
            f"kiekit-mock: replaying {count} recorded task{'' if count == 1 else 's'} "
            f"from {args.har}",
            file=sys.stderr,
        )
    exit_with_parent = args.exit_with_parent
    if exit_with_parent is None:
        try:
            exit_with_parent = exit_with_parent_from_env()
        except ValueError as exc:
            _refuse(parser, str(exc))
    if args.exit_on_stdin_close and sys.stdin is None:
        _refuse(parser, "--exit-on-stdin-close: this process has no standard input")
    try:
        # logged through a thread of its own: a parent that never reads stderr cannot stop
        # the server (logsink.py); closed, so its last lines come first, before a failure's
        with logging_to(sys.stderr):
            serve(
                port=args.port,
                host=args.host,
                config=config,
                scenario=scenario,
                upload_port=args.upload_port,
                access_log=args.access_log,
                shutdown_grace=args.shutdown_grace,
                ready_json=args.ready_json,
                exit_with_parent=exit_with_parent,
                exit_on_stdin_close=args.exit_on_stdin_close,
            )
    except ValueError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    except UploadPortError as exc:
        print(f"{parser.prog}: {exc.strerror}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{parser.prog}: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    # its --help (§, …) on an ASCII or latin-1 standard output (LC_ALL=C): escaped, not a
    # traceback; here only, where the streams are this process's own (kie calls main too)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    sys.exit(main(prog="python -m kiekit_mock"))
