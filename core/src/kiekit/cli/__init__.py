"""The ``kie`` command: one module per command, each adding its own sub-parser.

Results go to standard output (one file path a line, so the command composes in shell pipelines);
progress and errors go to standard error. Errors are one line, never a traceback, and always
name the task id once a task exists, so a paid task is never lost with the error.

Exit codes (``kie --help`` lists them too):

- 0: done;
- 1: KIE, the network or a task failed (the message names the task once one exists), or a
  service kiekit needs could not be reached (the journal's database): try again later;
- 2: bad usage or input, refused before anything was sent or paid for;
- 3: done (``kie run``, ``kie batch``: tasks made and paid for, their results delivered), but
  the task journal could not record some of it (a full disk, its database down; ``--json``:
  ``"unrecorded"``, each row with the ``kie settle`` command that records it): not to be run
  again for it, which would pay again;
- 130: interrupted (Ctrl-C); a task already created goes on at KIE and is in the journal;
- 141: done, but standard output's reader went away before all of it was written
  (``kie run … | head -1``), as a Unix tool killed by SIGPIPE (``set -o pipefail`` scripts
  know it from ``git log | head``); the work is not cut short: a task is still waited for,
  fetched and journaled. A reader gone after kie's last write is not seen: 0;
- 143: terminated (SIGTERM: ``timeout``, a cancelled CI job), as after Ctrl-C.

A Ctrl-C or SIGTERM that comes once the command has ended (its work delivered, its code
decided) leaves the code as it was, 0 included, and kie says so; kie never dies by the
signal itself (cli._stops.Ending).

A command that failed keeps its error's code (1, 2, 130, 143) whatever became of its
``--json`` error object: its reader gone (141 is for work done), or a standard output closed
or full (said on standard error; 1 is for a command whose own output could not be written).

``KIEKIT_LOG=debug`` (or ``info``, ``warning``) or ``-v`` / ``-vv`` turns on kiekit's logging on
standard error; the API key is never logged.

A command module has ``register(commands)``, which adds its parser and sets ``handler``. Modules
import their heavy dependencies inside the handler, so ``kie --help`` and ``kie providers`` stay
fast.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from kiekit._paths import text
from kiekit._version import __version__
from kiekit.cli import (
    adopt,
    batch,
    chat,
    completion,
    credits,
    mock,
    models,
    plugin,
    providers,
    prune,
    resume,
    run,
    settle,
    tasks,
    upload,
)
from kiekit.cli._common import Terminated, after_create
from kiekit.cli._stops import ENDING, handled
from kiekit.cli._streams import (
    StdoutError,
    standard_streams,
    stdout_to_nowhere,
    stdout_told_apart,
)
from kiekit.errors import (
    ConfigurationError,
    KieError,
    PluginError,
    RateLimitStoreError,
    UnknownModelError,
    ValidationError,
)
from kiekit.settings import warn_unknown_variables

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as `git log | head` under `set -o pipefail`
EXIT_TERMINATED = 143  # 128 + SIGTERM: `timeout`, a cancelled CI job


_terminate = ENDING.terminate  # SIGTERM: Terminated, where the command is (cli._stops.Ending)


# Refused before anything was sent: the user's input or set-up is at fault, not KIE.
_USAGE_ERRORS = (ValidationError, ConfigurationError, UnknownModelError, PluginError)

COMMANDS = (providers, models, run, mock, plugin, credits, upload, tasks, resume, settle, adopt,
            prune, batch, chat, completion)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """The ``kie`` command on ``argv``; None: the ``kie`` script's own (``sys.argv``), whose
    process ends with the command: a Ctrl-C or SIGTERM that comes once the command is over
    leaves its exit code as it was (cli._stops.Ending), and one before that is 130 or 143,
    never a death by the signal."""
    import signal
    import threading

    if (
        argv is not None
        or ENDING.script
        or threading.current_thread() is not threading.main_thread()
    ):
        return _command(argv)
    ENDING.script = True
    try:
        if handled(signal.SIGTERM):  # from here: a SIGTERM while kie sets up is 143 too
            signal.signal(signal.SIGTERM, _terminate)
        code = _command(None)
    except KeyboardInterrupt as stop:  # before the command took over, or as it handed back
        ENDING.end()
        terminated = isinstance(stop, Terminated)
        with contextlib.suppress(OSError, ValueError):
            print(f"kie: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        ENDING.end()  # --help's SystemExit too: the interpreter's shutdown is not cut short
    ENDING.said_late(code)
    return code


def _command(argv: Sequence[str] | None) -> int:
    # --journal reaches every journal the command opens through the environment: restored
    # after, so that a caller running several commands in one process (tests) gets each its own
    journal_url = os.environ.get("KIEKIT_JOURNAL_URL")
    try:
        with standard_streams() as stdout:  # before anything is said: a usage error too
            exited = False  # argparse's --help and --version end in SystemExit(0): kept so
            try:
                code = _main(argv)
            except SystemExit as done:
                if done.code not in (None, EXIT_OK):
                    raise
                exited, code = True, EXIT_OK
            except StdoutError as exc:  # an error's JSON to a full disk, argparse's help
                code = _stdout_failed(exc.cause)
            try:  # what is left in the buffer (argparse's help, an error's JSON), not at exit
                sys.stdout.flush()
            except StdoutError as exc:  # a full disk: said as a command's own write is
                code = code or _stdout_failed(exc.cause)
            # the work done, a reader gone first is said as a tool SIGPIPE ends says it
            if stdout is not None and stdout.reader_gone and code == EXIT_OK:
                code = EXIT_BROKEN_PIPE
            if exited:
                raise SystemExit(code)
            return code
    finally:
        if journal_url is None:
            os.environ.pop("KIEKIT_JOURNAL_URL", None)
        else:
            os.environ["KIEKIT_JOURNAL_URL"] = journal_url


def _main(argv: Sequence[str] | None) -> int:
    # as text (a C locale reads a UTF-8 `маяк` as surrogates); paths go back to the bytes
    # given where they meet the file system (_paths.native: path_option, --journal, …)
    given = [text(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    parser = _parser()
    try:
        args = _parse(parser, given)
    except _UsageError as usage:
        with contextlib.suppress(OSError, StdoutError):  # a closed stdout: stderr said it
            _say_usage_error(usage, as_json="--json" in given)
        sys.exit(EXIT_USAGE)  # as argparse does: main() raises SystemExit(2) for usage errors
    except (_ValueRefused, ValidationError) as refused:  # an option's own check: as any other
        if isinstance(refused, ValidationError):  # raised by an option's action (--journal)
            refused = _ValueRefused(_command_parser(parser, given), refused)
        with contextlib.suppress(OSError, StdoutError):
            _say_refused_value(refused, as_json="--json" in given)
        return EXIT_USAGE
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()  # where signals go
    # an inherited "ignored" is kept, as Python keeps it for SIGINT (cli._stops.handled)
    takes_over = main_thread and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    previous = signal.signal(signal.SIGTERM, _terminate) if takes_over else None
    restore_logging = _logging(args.verbose)
    try:
        with warnings.catch_warnings(), stdout_told_apart():
            warnings.showwarning = _say_warning
            # each command, those that make no client too; one that resolves the hosts leaves
            # the base-URL variables' misspellings to that check (refused, or warned of)
            warn_unknown_variables(
                but_hosts=_resolves_hosts(args), but_mock=getattr(args, "mock_says", False)
            )
            code: int = args.handler(args)
            sys.stdout.flush()  # here, not at exit: a full disk is then told as below
    except KieError as exc:
        if isinstance(exc, ValidationError):
            cli_field(exc, _command_parser(parser, given))
        print(f"kie: error: {exc}", file=sys.stderr)
        if getattr(args, "json", False):
            _json_said(_json_error, args, exc)
        return exit_code(exc)
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        word = "terminated" if terminated else "interrupted"
        print(f"kie: {word}", file=sys.stderr)
        if getattr(args, "json", False):  # a pipeline still gets its one object, task id and all
            _json_said(_json_stop, args, word, stop)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:  # not through sys.stdout (stdout_told_apart goes on past one)
        return _reader_gone()
    except StdoutError as exc:  # a full disk, say: one line, not a traceback
        return _stdout_failed(exc.cause)
    except OSError as exc:  # one no typed error covers: one line, not a traceback
        said = exc.strerror or str(exc)
        if exc.filename is not None:  # which file: "No space left on device" alone says none
            said = f"{os.fsdecode(exc.filename)}: {said}"
        print(f"kie: error: {said}", file=sys.stderr)
        if getattr(args, "json", False):
            # no typed error: whether a task was made is not known here
            error: dict[str, Any] = {"type": type(exc).__name__, "message": said}
            error |= {"task_id": None, "paid": None, "retryable": False}
            _json_said(_json_failure, args, error)
        return EXIT_FAILED
    finally:
        restore_logging()
        ENDING.end()  # the kie script's: from here a stop is noted, not obeyed
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return code


def exit_code(exc: KieError) -> int:
    """kie's exit status for ``exc`` (README's table of error types is checked against it):
    2 for what the command or its set-up got wrong, refused before anything was sent; 1 for
    the rest. A service that cannot be reached (a journal's database restarting, the shared
    limits' Redis) may answer later: 1, as KIE or the network, not "fix the command". An
    error raised after the command made its task (_common.after_create): something was sent,
    so 1 too."""
    unreachable = exc.retryable or isinstance(exc, RateLimitStoreError)
    misused = isinstance(exc, _USAGE_ERRORS) and not unreachable and not after_create(exc)
    return EXIT_USAGE if misused else EXIT_FAILED


class _UsageError(Exception):
    """argparse's usage error, raised instead of its exit so that ``--json`` answers it too."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _ValueRefused(Exception):
    """A value an option's own check refused (``--timeout 0``, an empty path): a
    ValidationError naming the option as typed, raised past argparse, which would make it a
    usage error without a field. argparse's own refusals (no value, ``--limit x`` for its
    ``int``, a choice not offered) stay usage errors."""

    def __init__(self, parser: argparse.ArgumentParser, error: ValidationError) -> None:
        super().__init__(str(error))
        self.parser = parser
        self.error = error


class _Parser(argparse.ArgumentParser):
    """kie's parsers (sub-parsers take their parent's class): a usage error is raised."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self, message)

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as exc:
            refused = exc.__context__  # what the option's type function raised
            if isinstance(refused, argparse.ArgumentTypeError):
                error = ValidationError(_named(action), str(refused))
                raise _ValueRefused(self, error) from None
            raise


def _named(action: argparse.Action) -> str:
    """An argument as ``error.field`` names it in the CLI: an option as typed (its long
    spelling, ``--callback-url``), a positional by its metavar as usage shows it (``FILE``)."""
    longs = [o for o in action.option_strings if o.startswith("--")]
    if longs or action.option_strings:
        return (longs or action.option_strings)[0]
    metavar = action.metavar if isinstance(action.metavar, str) else None
    return metavar or action.dest


# A library ValidationError's field and the command's argument that gave it (its dest), for
# the CLI's one naming rule (:func:`cli_field`). ``Client`` parameters are never a model's
# input field, so they are named on any command; the names the journal and kie's own checks
# give an argument (``model``, ``key``…) may be a model's field too (Suno's ``model``), so
# they are named so only on a command that takes no model input (``--input``).
_CALL_FIELDS = {
    "callback_url": "callback_url",
    "idempotency_key": "idempotency_key",
    "timeout": "timeout",
    "concurrency": "concurrency",
    "poll_interval": "poll_interval",
    "out_dir": "out",
    "upload_path": "path",
    "file_name": "name",
    "older_than": "older_than",
    "newest": "limit",
}
_ARGUMENT_FIELDS = {"task_id", "key", "model", "jobs", "file", "reason", "names", "prompt"}


def cli_field(exc: ValidationError, command: argparse.ArgumentParser) -> None:
    """``exc`` named as the command line gave it: a library field (``callback_url``) as the
    command's option (``--callback-url``), an argument as usage shows it (``JOBS``); a field
    the command has no argument for (a model's input field) is left as it is. Its message,
    which starts with the field, is said so too."""
    field = exc.field
    dest = _CALL_FIELDS.get(field)
    if dest is None and field in _ARGUMENT_FIELDS and "input" not in _dests(command):
        dest = field
    action = _dests(command).get(dest or "")
    if action is None:
        return
    named = _named(action)
    if named != field:
        exc.field = named
        if exc.message.startswith(f"{field}: "):
            exc.message = named + exc.message.removeprefix(field)


def _dests(command: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in command._actions if a.dest != argparse.SUPPRESS}


def _say_refused_value(refused: _ValueRefused, *, as_json: bool) -> None:
    """A refused option value as any ValidationError is said: one line, and with ``--json``
    the one ``{"ok": false, "command", "error"}`` object, its ``field`` the option."""
    error = refused.error
    print(f"kie: error: {error}", file=sys.stderr)
    if as_json:
        from kiekit.cli._streams import json_text
        from kiekit.journal._entry import error_report

        words = refused.parser.prog.split()  # "kie mock serve": the command is "mock"
        command = words[1] if len(words) > 1 else None
        said = {**error_report(error), "task_id": None, "paid": False, "retryable": False}
        print(json_text({"ok": False, "command": command, "error": said}))


def _parse(parser: argparse.ArgumentParser, given: list[str]) -> argparse.Namespace:
    args, extra = parser.parse_known_args(given)
    if extra and not getattr(args, "passthrough", False):
        # said with the command's own usage line (`kie settle ...`), not kie's
        own = _command_parser(parser, given)
        own.error(f"unrecognized arguments: {' '.join(extra)}{_hint(extra, args, own)}")
    args.options = extra
    # -v and --json go before the command or after it (`kie --json run …`, `kie run … -v`)
    args.verbose += getattr(args, "verbose_after", 0)
    if args.json_first and hasattr(args, "handler"):
        if not hasattr(args, "json"):
            own = _command_parser(parser, given)
            own.error("--json: this command has no JSON output")
        args.json = True
    return args


def _say_usage_error(usage: _UsageError, *, as_json: bool) -> None:
    """argparse's usage line and message on standard error; with ``--json``, also the one
    ``{"ok": false, "command", "error"}`` object every other failure prints on standard output."""
    usage.parser.print_usage(sys.stderr)
    print(f"{usage.parser.prog}: error: {usage.message}", file=sys.stderr)
    if as_json:
        from kiekit.cli._streams import json_text

        words = usage.parser.prog.split()  # "kie mock serve": the command is "mock"
        command = words[1] if len(words) > 1 else None
        error = {
            "type": "UsageError",
            "message": usage.message,
            "task_id": None,
            "paid": False,  # refused before anything was sent
            "retryable": False,
        }
        print(json_text({"ok": False, "command": command, "error": error}))


def _command_parser(
    parser: argparse.ArgumentParser, argv: Sequence[str]
) -> argparse.ArgumentParser:
    """The parser of the command ``argv`` names (its first word that is one), else kie's."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        choices = getattr(action, "choices", None) or {}
        for word in argv:
            if word in choices:
                found = choices[word]
                # a command with commands of its own (`kie mock serve`): the deepest named
                return _command_parser(found, argv[list(argv).index(word) + 1 :])
    return parser


def _say_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one line of the command's own, not Python's with a source line."""
    print(f"kie: warning: {message}", file=sys.stderr)


def _json_said(write: Callable[..., None], *args: Any) -> None:
    """An error's JSON object written by ``write``: a standard output that refuses it (closed
    with ``>&-``, a full disk) is told in one line, and the command keeps its error's own
    exit code (a ValidationError's 2, Ctrl-C's 130), not the 1 of a failed write: the error
    is what went wrong, and standard error said it. A reader gone is :class:`_Escaping`'s,
    beneath it: quiet, and the error's code too (141 is only for work done)."""
    try:
        write(*args)
        sys.stdout.flush()  # here: a full disk refuses the object at its flush, not its print
    except StdoutError as exc:
        print(f"kie: cannot write to stdout: {exc.cause.strerror or exc.cause}", file=sys.stderr)
        stdout_to_nowhere()


def _stdout_failed(cause: OSError) -> int:
    print(f"kie: cannot write to stdout: {cause.strerror or cause}", file=sys.stderr)
    stdout_to_nowhere()
    return EXIT_FAILED


def _reader_gone() -> int:
    """Quietly, as a Unix tool killed by SIGPIPE: standard output now goes nowhere (so
    Python's flush at exit has no pipe to break), with the status such a tool has."""
    stdout_to_nowhere()
    return EXIT_BROKEN_PIPE


def _hint(extra: Sequence[str], args: argparse.Namespace, own: argparse.ArgumentParser) -> str:
    """What the commonest slips meant: an option of the command's own given before it
    (``kie --mock run …``); on a command that takes ``--input``, a prompt given without
    ``--prompt``, a mistyped option of the command's own (``--promt``, ``--output``), or a
    model's field given as an option (``--aspect-ratio``)."""
    known = [o for o in (item.split("=")[0] for item in extra) if o in own._option_string_actions]
    if known:  # read by the command, but given before its name
        return f" ({known[0]} goes after the command: {own.prog} {known[0]} ...)"
    if not hasattr(args, "input"):  # only commands that take --input
        return ""
    given = next((i for i, item in enumerate(extra) if item.startswith("--")), None)
    if given is None:
        if hasattr(args, "prompt") and args.prompt is None and not extra[0].startswith("-"):
            return f' (the prompt goes as --prompt "{extra[0]}")'
        return ""
    name, _, value = extra[given][2:].partition("=")
    if not value and given + 1 < len(extra) and not extra[given + 1].startswith("-"):
        value = extra[given + 1]
    field = name.replace("-", "_")
    fields = _model_fields(args)
    if field not in fields:
        option = _close_option("--" + name, own)
        if option is not None:
            return f" (did you mean {option}?)"
        field = next(iter(difflib.get_close_matches(field, fields, n=1, cutoff=0.75)), field)
    return f" (a model's input field goes as --input {field}={value or 'VALUE'})"


def _close_option(given: str, own: argparse.ArgumentParser) -> str | None:
    """The command's own long option ``given`` is a slip of: close in spelling, or a longer
    spelling of it (``--output`` for ``--out``)."""
    options = [o for o in own._option_string_actions if o.startswith("--") and o != "--help"]
    if given in options:  # given where it is not read (before the command): not a slip of itself
        return None
    longer = [o for o in options if given.startswith(o) and len(o) >= 5]
    close = difflib.get_close_matches(given, options, n=1, cutoff=0.75)
    found = close or longer
    return found[0] if found else None


def _model_fields(args: argparse.Namespace) -> list[str]:
    """The names the model's provider describes (none when the model is not known here)."""
    model = getattr(args, "model", None)
    if not isinstance(model, str):
        return []
    from kiekit.registry import default_registry

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unlisted id is said by the command, not here
            described = default_registry().provider(model).input_fields(model)
    except KieError:
        return []
    return [f.name for f in described]


def _json_error(args: argparse.Namespace, exc: KieError) -> None:
    """``{"ok": false, "command", "error": {type, code?, message, path?, task_id}}`` on
    standard output, with what a script acts on (:func:`_error_fields`); a chat answer cut
    short adds what came of it (``partial``: text, usage… as ``kie chat --json`` prints a
    reply), for it was received and paid for."""
    from kiekit.journal import error_record

    error = {**error_record(exc), **_error_fields(exc), **_for_scripts(exc)}
    if exc.partial is not None:
        from kiekit.cli.chat import reply_record

        error["partial"] = reply_record(exc.partial)
    _json_failure(args, error)


def _for_scripts(exc: KieError) -> dict[str, Any]:
    """What a script decides on without parsing the message (README, "Errors for scripts"):
    ``task_id``, the task the error concerns; ``paid``, whether a task was created for it
    (true: KIE charges for it, so do not simply run the command again: ``kie resume`` or a
    rerun with the same idempotency key finishes it; null: unknown, a create whose answer was
    lost; false: nothing was made); ``retryable``, whether the same command may succeed later
    unchanged (the network, KIE's 5xx or rate limit, a wait that timed out)."""
    from kiekit.errors import OutcomeUnknownError

    paid: bool | None = exc.task_id is not None or exc.partial is not None  # a chat cut short
    if isinstance(exc, OutcomeUnknownError) and exc.task_id is None:
        paid = None
    return {"task_id": exc.task_id, "paid": paid, "retryable": bool(exc.retryable)}


def _error_fields(exc: KieError) -> dict[str, Any]:
    """An error's fields a script acts on without reading its message (``path``, ``url``,
    ``http_status``, ``key``, ``field``): one list for every command's errors
    (kiekit.journal._entry.error_fields), results.jsonl's and ``kie resume --json``'s too."""
    from kiekit.journal._entry import error_fields

    return error_fields(exc)


def _json_failure(args: argparse.Namespace, error: dict[str, Any]) -> None:
    """``{"ok": false, "command", "error"}`` on standard output: every failure's one object."""
    from kiekit.cli._streams import json_text

    command = args.handler.__module__.rsplit(".", 1)[-1]
    print(json_text({"ok": False, "command": command, "error": error}))


def _json_stop(args: argparse.Namespace, word: str, stop: KeyboardInterrupt) -> None:
    """``{"ok": false, "command", "error": {"type": "Interrupted", ...}}`` for a stopped command.
    What the command said of its work goes with it (``stop_note``, and its ``stop_fields``
    such as a create's journal key); ``task_id``: the task it had created. Its
    ``stop_summary`` (``kie batch``'s ``jobs``, ``states``, ``tasks_made``, ``results``) goes
    top-level, where its other answers have it."""
    from kiekit.cli._streams import json_text

    command = args.handler.__module__.rsplit(".", 1)[-1]
    task_id = getattr(stop, "task_id", None)
    note = getattr(stop, "stop_note", None)
    if note is None and task_id:
        note = f"task {task_id} goes on (kie resume)"
    message = f"{word}; {note}" if note else word
    error = {
        "type": "Interrupted",
        "message": message,
        "task_id": task_id,
        **getattr(stop, "stop_fields", {}),
    }
    summary = getattr(stop, "stop_summary", {})
    print(json_text({"ok": False, "command": command, **summary, "error": error}))


def _resolves_hosts(args: argparse.Namespace) -> bool:
    """Whether the command resolves KIE's hosts (settings.endpoints): those taking --base-url,
    but for ``kie batch --celery``, whose workers do, each with its own environment."""
    return hasattr(args, "base_url") and not getattr(args, "celery", False)


def _logging(verbose: int) -> Callable[[], None]:
    """kiekit's log records on standard error, by ``-v`` count or ``KIEKIT_LOG``; the call
    returned puts the ``kiekit`` logger back as it was (its level, without this handler):
    an embedder calling :func:`main` in-process (a test suite, a notebook) keeps its own
    logging after ``main(["-vv", ...])``, not kiekit's DEBUG lines and a handler on a
    standard error since replaced."""

    named = os.environ.get("KIEKIT_LOG", "").strip().upper()
    level = {1: "INFO", 2: "DEBUG"}.get(min(verbose, 2)) or named
    if not level:
        return _nothing
    import logging

    if not isinstance(logging.getLevelName(level), int):
        print(f"kie: warning: KIEKIT_LOG={named.lower()} is not a log level", file=sys.stderr)
        return _nothing
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("kiekit")
    was = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(was)

    return restore


def _nothing() -> None:
    """Nothing to restore (:func:`_logging` changed nothing)."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kie",
        description="kiekit: the KIE AI API from Python.",
        epilog="exit codes: 0 done; 1 KIE, the network or a task failed; 2 bad usage or input "
        "(nothing sent); 3 done, but the task journal could not record it (do not run it "
        "again: it would pay again); 130 interrupted (Ctrl-C); 141 done, but stdout's "
        "reader left first (| head; a failed command keeps its error's code); 143 terminated "
        "(SIGTERM); a task already created goes on at KIE, in the journal. KIEKIT_LOG=debug "
        "or -v shows kiekit's log.",
    )
    parser.add_argument("--version", action="version", version=f"kiekit {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log kiekit's work (-vv: debug)"
    )
    parser.add_argument(
        "--json",
        dest="json_first",
        action="store_true",
        help="as COMMAND --json: one JSON object on standard output",
    )
    commands = parser.add_subparsers(metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    for name, own in commands.choices.items():
        if own.get_default("passthrough") or name in ("mock", "plugin"):
            continue  # a command whose options are another program's (kie mock serve)
        own.add_argument(  # as before the command: `kie run … -v` as `kie -v run …`
            "-v",
            "--verbose",
            dest="verbose_after",
            action="count",
            default=0,
            help="log kiekit's work (-vv: debug), as kie -v COMMAND",
        )
    return parser


if __name__ == "__main__":
    sys.exit(main())
