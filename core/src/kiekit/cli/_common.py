"""What several commands share: messages, the connection options and the embedded mock."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from kiekit._paths import native
from kiekit.cli._streams import json_text
from kiekit.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from kiekit.client import Client
    from kiekit.journal import Entry, Journal
    from kiekit.polling import PollPolicy

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

DEMO_KEY = "kiekit-demo-key"  # the mock accepts any key; this one is never a real credential
DEMO_SECONDS = 3.0  # how long a task takes on the embedded mock: long enough to show progress


def say(message: str) -> None:
    print(message, file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so it stops as after Ctrl-C: each command says
    what its work left behind (a task that goes on at KIE, a create of unknown outcome), then
    exits 143. Its words are what the journal keeps of a create it cut short."""

    def __init__(self) -> None:
        super().__init__("terminated (SIGTERM)")


def stopped_by(stop: KeyboardInterrupt) -> str:
    """The stop in words, as the journal keeps it: "interrupted (SIGINT)" or "terminated
    (SIGTERM)"."""
    return str(stop) or "interrupted (SIGINT)"


def tell_stop(
    stop: KeyboardInterrupt, note: str, *, task_id: str | None = None, **fields: Any
) -> None:
    """Say what a stop left behind, and hand it to ``kie --json``'s error object."""
    say(note)
    hand_stop(stop, note, task_id=task_id, **fields)


def hand_stop(
    stop: KeyboardInterrupt,
    note: str,
    *,
    task_id: str | None = None,
    summary: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """What a stop left behind, for ``kie --json``'s error object (its message, ``task_id``
    and ``fields``): a pipeline learns it as a terminal does. ``summary``: the command's own
    result keys, top-level beside the error as in its other answers (``kie batch``'s
    ``jobs``, ``states``…), so that a script reads one shape whatever ended the command."""
    stop.stop_note = note  # type: ignore[attr-defined]
    stop.stop_fields = fields  # type: ignore[attr-defined]
    stop.stop_summary = summary or {}  # type: ignore[attr-defined]
    if task_id is not None:
        stop.task_id = task_id  # type: ignore[attr-defined]


def progress_bars() -> Any:
    """The ``rich`` package, to draw progress bars on standard error, or None for plain lines:
    standard error is no terminal (a log, a pipe, CI: no bar drawn for nobody, and no rich
    imported for it), or rich is not installed (it comes with ``kiekit[cli]``)."""
    if not sys.stderr.isatty():
        return None
    try:
        import rich.console
        import rich.progress
    except ImportError:
        return None
    return rich


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object on standard output: {"ok": true, "command": ..., ...} '
        '(or {"ok": false, "error": {...}})',
    )


def emit(
    args: argparse.Namespace, command: str, payload: dict[str, Any], *, ok: bool = True
) -> bool:
    """With ``--json``, print ``{"ok": ok, "command": command, **payload}`` and say so, as
    readable as standard output's encoding allows (json_text: one policy for every JSON kie
    prints)."""
    if not getattr(args, "json", False):
        return False
    print(json_text({"ok": ok, "command": command, **payload}))
    return True


def path_option(text: str) -> Path:
    """A path option's value: an empty one is a ValidationError naming the option (``Path("")`` is
    ``.``, the current folder, which no one meant: results written there, a folder read as the
    file asked for)."""
    if not text:
        raise argparse.ArgumentTypeError("is empty: give a path")
    return Path(native(text))


def at_least_one(text: str) -> int:
    """An option's whole number of at least 1 (``--concurrency``): 0 would wait on nothing
    forever, a negative count means nothing; a ValidationError naming the option, as
    ``kie batch``'s library check says it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


def idempotency_key(text: str) -> str:
    """``--idempotency-key``'s value: an empty or blank one is refused (``"$KEY"`` with KEY
    unset), for a key of nothing would be no key at all and every rerun would pay again."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty (a shell variable that was not set?): give a key, or leave the option out"
        )
    return text


def seconds(text: str) -> float:
    """An option's positive, finite number of seconds (--timeout, --poll-interval): anything
    else is a ValidationError naming the option (kiekit.cli._Parser), before anything is sent."""
    value = _number_of_seconds(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def seconds_or_zero(text: str) -> float:
    """As :func:`seconds`, 0 allowed (--mock-seconds 0: a task done at its first poll)."""
    value = _number_of_seconds(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {text!r}")
    return value


def _number_of_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, not {text!r}")
    return value


def add_connection_options(parser: argparse.ArgumentParser, *, mock_seconds: bool = False) -> None:
    """--mock / --base-url (and --mock-seconds for commands that create tasks)."""
    parser.add_argument("--mock", action="store_true", help="use the embedded mock KIE server")
    if mock_seconds:
        parser.add_argument(
            "--mock-seconds",
            type=seconds_or_zero,
            default=None,
            metavar="S",
            help=f"how long a task takes on the embedded mock (default {DEMO_SECONDS:g})",
        )
        parser.add_argument(
            "--limits",
            default=None,
            metavar="URL",
            help="keep KIE's rate limits in this Redis, shared with every worker on the key "
            "(default: $KIEKIT_LIMITS_URL, else in this process); needs kiekit[redis]",
        )
    add_base_url_options(parser)
    add_network_options(parser)


class _JournalUrl(argparse.Action):
    """--journal URL: the journal for everything this command does (as KIEKIT_JOURNAL_URL)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from kiekit.journal import JOURNAL_URL_ENV

        if not values:  # "" is no journal named: the default one, silently
            raise ValidationError("--journal", "is empty: give a URL or a path")
        os.environ[JOURNAL_URL_ENV] = native(str(values))  # a path's bytes, as given
        setattr(namespace, self.dest, values)


def add_journal_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal",
        action=_JournalUrl,
        default=None,
        metavar="URL",
        help="the task journal: postgresql://… (shared by a team's workers), sqlite:///path or "
        "a file (default: $KIEKIT_JOURNAL_URL, else journal.sqlite3 in kiekit's data folder)",
    )


def journal_to_read(args: argparse.Namespace) -> Journal:
    """The journal a reading command (``kie tasks``, ``kie resume``) reads. A SQLite file that
    does not exist yet is read as an empty journal, not made; named with ``--journal``, it is a
    ValidationError: a typo in the path must not read as "nothing was ever run". Nor must a
    file where its folder should be (``KIEKIT_DATA_DIR`` naming one): JournalError, as ``kie
    run`` gives."""
    from kiekit.journal import Journal, MemoryStore, SqliteStore, default_journal

    journal = default_journal()
    store = journal.store
    if isinstance(store, SqliteStore) and not store.path.exists():
        if getattr(args, "journal", None) is not None:
            raise ValidationError("--journal", f"no journal at {store.path}")
        store.check_folders()  # a file where its folder should be: not "nothing yet"
        return Journal(MemoryStore())
    return journal


def on_gone_mock(row: Entry) -> bool:
    """True for a row an embedded ``--mock`` made (with the demo key, which nothing else uses)
    whose server no longer listens: its task lived in that mock's memory, cost nothing and can
    never finish. A row made with a real key is never taken for one, whatever its server: a
    loopback base URL may be a proxy in front of KIE that is down for a moment."""

    return made_by_mock(row) and not_listening(row.base_url)


def release_gone_mock_row(journal: Journal, row: Entry, base_url: str) -> str:
    """Close ``row`` (an :func:`on_gone_mock` one) as rejected, so that its key or job is made
    again on ``base_url``: nothing was paid for. What happened, in words, for the caller to say."""
    from kiekit.journal import EntryState

    why = f"made on a mock server at {row.base_url} that is gone: made again on {base_url}"
    journal.store.update(
        row.key,
        {
            "state": EntryState.REJECTED,  # nothing paid for: free to make again
            "error": {"type": "MockGone", "message": why},
            "lease_until": None,
            "updated_at": journal.store.now(),
        },
    )
    return why


def made_by_mock(row: Entry) -> bool:
    """A row an embedded ``--mock`` made: with the demo key, which nothing else uses."""
    from kiekit._engine.engine import account_of

    return row.account == account_of(DEMO_KEY)


def not_listening(base_url: str | None) -> bool:
    """A loopback server that refuses connections (only loopback addresses are tried)."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(base_url or "")
    host, port = parts.hostname, parts.port
    if host is None or port is None:
        return False
    try:
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            return False
    except ValueError:
        return False  # a name: a real server somewhere, not a mock of ours
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return False
    except OSError:
        return True


def add_base_url_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url", default=None, help="KIE API base URL (default: $KIE_BASE_URL or api.kie.ai)"
    )
    parser.add_argument(
        "--upload-base-url",
        default=None,
        help="upload host (default: $KIE_UPLOAD_BASE_URL, or KIE's while the API host is KIE's)",
    )


def add_network_options(parser: argparse.ArgumentParser) -> None:
    """--proxy / --no-proxy / --ca-file: how the command's requests reach KIE (the clients'
    ``proxy=``, ``trust_env=False`` and ``ssl_context=``; README, "Proxies and TLS"). Checked
    as they are read, so a bad one is a ValidationError naming it before anything is sent."""
    way = parser.add_mutually_exclusive_group()
    way.add_argument(
        "--proxy",
        type=proxy_url,
        default=None,
        metavar="URL",
        help="send every request through this http:// or https:// proxy (user:password@ "
        "allowed, never shown); loopback hosts go straight (default: $HTTPS_PROXY, "
        "$HTTP_PROXY or $ALL_PROXY, but not for $NO_PROXY's hosts)",
    )
    way.add_argument(
        "--no-proxy",
        action="store_true",
        help="go straight, whatever proxy the environment names (as wget's --no-proxy)",
    )
    parser.add_argument(
        "--ca-file",
        type=ca_file,
        default=None,
        metavar="PATH",
        help="trust the CA certificates of this PEM file instead of the system's (a private "
        "CA, a TLS-inspecting proxy's), as curl's --cacert (default: the system's CAs, or "
        "$SSL_CERT_FILE)",
    )


def proxy_url(text: str) -> str:
    """--proxy's URL, checked as the clients check ``proxy=`` (no SOCKS, a host, a port that
    is one); the message never repeats its password (argparse's own would show the value)."""
    from kiekit._transports.proxies import checked_proxy

    try:
        return checked_proxy(text, "the proxy")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def ca_file(text: str) -> Any:
    """--ca-file's TLS settings: an ``ssl.SSLContext`` trusting the file's CAs only (as
    ``SSL_CERT_FILE`` does), or a ValidationError saying what is wrong with the file."""
    import ssl

    if not text:  # ssl takes cafile="" as none given: the system's CAs, silently
        raise argparse.ArgumentTypeError("is empty: give a path")
    try:
        return ssl.create_default_context(cafile=native(text))
    except ssl.SSLError as exc:  # read, but no certificate in it (OpenSSL: X509 ... NO_CERT...)
        why = f"{text} holds no PEM certificate ({exc.reason or exc})"
    except FileNotFoundError:
        why = f"no such file: {text}"
    except OSError as exc:  # a folder, a file this user may not read
        why = f"cannot read {text}: {exc.strerror or exc}"
    raise argparse.ArgumentTypeError(why)


def network_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client options --proxy, --no-proxy and --ca-file set (none: the clients' own
    defaults, which read the environment)."""
    chosen: dict[str, Any] = {}
    if getattr(args, "proxy", None) is not None:
        chosen["proxy"] = args.proxy
    if getattr(args, "no_proxy", False):
        chosen["trust_env"] = False
    if getattr(args, "ca_file", None) is not None:
        chosen["ssl_context"] = args.ca_file
    return chosen


@attrs.frozen
class Connection:
    """Where a command's client talks to, and how: KIE with KIE_API_KEY, or the embedded mock."""

    api_key: str = attrs.field(repr=False)
    options: dict[str, Any]  # base_url, upload_base_url and, for the mock, rate_limits=None


def env_key() -> str | None:
    """KIE_API_KEY as `kie` takes it; None when it is unset or blank."""
    key = os.environ.get("KIE_API_KEY", "")
    return key if key.strip() else None


def connect(
    args: argparse.Namespace, stack: contextlib.ExitStack | contextlib.AsyncExitStack
) -> Connection:
    """Start the embedded mock for --mock (stopped with ``stack``), else read KIE_API_KEY."""
    from kiekit.settings import endpoints

    if getattr(args, "mock", False):
        _mock_alone(args)
        mock = stack.enter_context(embedded_mock(mock_seconds(args)))
        # the embedded mock enforces no rate limits, so pacing the demo to KIE's would only slow it
        options = {"base_url": mock.base_url, "upload_base_url": mock.upload_base_url}
        return Connection(
            DEMO_KEY, {**options, "rate_limits": None, "poll": mock_poll(mock_seconds(args))}
        )
    if getattr(args, "mock_seconds", None) is not None:
        raise ConfigurationError("--mock-seconds is for the embedded mock: it needs --mock")
    key = env_key()
    if key is None:
        raise ConfigurationError("KIE_API_KEY is not set (or use --mock to try the mock)")
    hosts = endpoints(
        getattr(args, "base_url", None),
        getattr(args, "upload_base_url", None),
        names=("--base-url", "--upload-base-url"),
    )
    chosen: dict[str, Any] = {"base_url": hosts.base_url, "upload_base_url": hosts.upload_base_url}
    chosen.update(network_options(args))
    if getattr(args, "limits", None) is not None:
        from kiekit.shared_limits import SharedRateLimiter

        chosen["rate_limits"] = SharedRateLimiter(args.limits, option="--limits")
    return Connection(key, chosen)


def _mock_alone(args: argparse.Namespace) -> None:
    """The embedded mock is the server, on its own hosts and without rate limits: an option
    naming another is refused (as ``--mock --celery`` is) rather than silently left unused;
    the variables that would name one are said to be left aside."""
    from kiekit.settings import BASE_URL_ENV, UPLOAD_BASE_URL_ENV
    from kiekit.shared_limits import LIMITS_URL_ENV

    for option in ("--base-url", "--upload-base-url", "--limits", "--proxy", "--ca-file"):
        if getattr(args, option[2:].replace("-", "_"), None) is not None:
            raise ConfigurationError(
                f"{option} does not go with --mock: the embedded mock is the server (its own "
                "hosts on this machine, reached straight over http, no rate limits); drop one "
                "of the two"
            )
    unused = [name for name in (BASE_URL_ENV, UPLOAD_BASE_URL_ENV, LIMITS_URL_ENV)
              if os.environ.get(name, "").strip()]  # fmt: skip
    if unused:
        left = ", ".join(unused)
        say(f"kie: warning: --mock: {left} left unused (the embedded mock is the server)")


def mock_seconds(args: argparse.Namespace) -> float:
    seconds = getattr(args, "mock_seconds", None)
    return DEMO_SECONDS if seconds is None else float(seconds)


def mock_poll(seconds: float) -> PollPolicy:
    """Polls for the embedded mock, whose tasks take ``seconds``: KIE's 2–5 s pace (§2.2) would
    only add waiting to a task known to be done in ``seconds``; a few polls show its progress."""
    from kiekit.polling import PollPolicy

    interval = min(2.0, max(0.02, seconds / 10))
    return PollPolicy(initial=interval, maximum=interval, first=0.0 if seconds == 0 else interval)


def open_client(args: argparse.Namespace, stack: contextlib.ExitStack) -> Client:
    """A Client for the command: the embedded mock with --mock, else KIE with KIE_API_KEY."""
    from kiekit.client import Client

    connection = connect(args, stack)
    return stack.enter_context(Client(connection.api_key, **connection.options))


# the kinds the mock's extra_market_models takes (kiekit_mock.config.MARKET_OUTPUTS)
MOCK_KINDS = ("image", "video", "audio", "text")


def installed_model_kinds() -> dict[str, Any]:
    """The output each installed third-party plugin's entry points declare for its model ids
    (``"acme/clip-x" = "acme_clip [video]"``), read from metadata: the embedded mock serves an
    id it does not know as its plugin says, where it would guess from the id's wording (a
    video model served a JPEG). ``kie mock serve --market-model ID=KIND`` does it by hand.
    kiekit's own ids are left out (the mock emulates them); so are patterns and blocked
    plugins. The mock keeps its own checks for an id it emulates."""
    from kiekit.discovery import canonical, distribution_for, installed

    return {
        item.model: item.output
        for item in installed()
        if not item.blocked
        and "*" not in item.model
        and item.output in MOCK_KINDS
        and canonical(distribution_for(item.model)) != canonical(item.distribution)
    }


@contextlib.contextmanager
def embedded_mock(seconds: float) -> Iterator[Any]:
    try:
        from kiekit_mock import MockConfig, MockServer
    except ImportError as exc:
        from kiekit.discovery import install_hint

        missing = f"the mock server is not installed: {install_hint('kiekit-mock')}"
        raise ConfigurationError(missing) from exc
    try:
        config = MockConfig(
            seconds_to_complete=seconds, extra_market_models=installed_model_kinds()
        )
    except ValueError as exc:  # past the mock's bound (100 years): said as the option's
        raise ValidationError("--mock-seconds", str(exc)) from exc
    with MockServer(config) as mock:
        say(f"mock KIE server on {mock.base_url}")
        yield mock


# Exit code of a command that did its work (its tasks done, their files written) while the task
# journal could not record some of it: not 1, which a script may take as "run it again" (that
# pays again for tasks made already); not 0, which says nothing is amiss (kie resume would fetch
# those files again, kie tasks shows a create of unknown outcome).
EXIT_UNRECORDED = 3


def came_after_create(exc: BaseException) -> None:
    """Mark ``exc`` as raised once this command had made its task (a proxy setting refused at
    the download): something was sent and paid for, so it exits 1 whatever its type, never 2
    ("refused before anything was sent"). A refusal that names an older task (an idempotency
    key reused) sent nothing and keeps its 2."""
    exc._kie_after_create = True  # type: ignore[attr-defined]


def after_create(exc: BaseException) -> bool:
    return bool(getattr(exc, "_kie_after_create", False))


def unrecorded_json(
    journal: Journal | None, left: Sequence[tuple[str, str | None]]
) -> list[dict[str, str | None]]:
    """The rows :func:`record_missed` left unwritten, for ``--json``'s ``"unrecorded"``: each
    row's ``key``, its ``task_id`` and the ``settle`` command that records the task id when the
    row holds only the create's intent (else null: kie resume finishes it)."""
    return [
        {
            "key": key,
            "task_id": task_id,
            "settle": None if journal is None or task_id is None
            else journal.settle_command(task_id),
        }
        for key, task_id in left
    ]  # fmt: skip


def say_unrecorded(command: str, count: int, again: str) -> None:
    """The last word of a command whose tasks are made and their results delivered, but not
    all of it recorded in the journal (EXIT_UNRECORDED when nothing else failed); ``again``:
    what running the command again would do."""
    say(f"kie {command}: the task journal could not record {count} task(s) made and paid for, "
        f"their results delivered (see above for the command that records each once the "
        f"journal can be written): do not run it again to fix that ({again})")  # fmt: skip


def record_missed(journal: Journal | None, command: str) -> list[tuple[str, str | None]]:
    """Try once more, before ``kie COMMAND`` ends, the journal writes it could not make after
    a create (a full disk: there may be room again), and say plainly what is still unwritten,
    with the command that records it: a task id paid for is never only in a log line that
    scrolled by. The rows still unwritten (``Journal.write_missed``)."""
    if journal is None:
        return []
    left = journal.write_missed()
    for key, task_id in left:
        settle = None if task_id is None else journal.settle_command(task_id)
        if settle is not None:
            say(f"kie {command}: the task journal still could not record task {task_id} "
                f"(its row {key} holds only the create's intent): once there is room, run "
                f"{settle}, then kie resume")  # fmt: skip
        else:
            say(f"kie {command}: the task journal still could not record what came of task "
                f"{task_id or '-'} (row {key}): kie resume finishes its row once there is "
                "room")  # fmt: skip
    return left
