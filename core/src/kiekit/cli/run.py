"""``kie run MODEL``: create a task, wait for it with a progress line, download its files."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kiekit._paths import text
from kiekit._redact import printable
from kiekit.cli._common import (
    EXIT_UNRECORDED,
    Commands,
    add_connection_options,
    add_journal_option,
    add_json_option,
    came_after_create,
    emit,
    idempotency_key,
    on_gone_mock,
    open_client,
    path_option,
    progress_bars,
    record_missed,
    release_gone_mock_row,
    say,
    say_unrecorded,
    seconds,
    tell_stop,
    unrecorded_json,
)
from kiekit.cli._files import PLACEHOLDER_URL, as_field, local_files, upload_for
from kiekit.cli._preflight import journal_opens, output_folder
from kiekit.cli._stops import add_stop_grace_option, graced_create, stop_grace
from kiekit.cli._streams import StdoutError, json_text
from kiekit.errors import (
    ApiError,
    KieError,
    OutcomeUnknownError,
    PluginHookError,
    ValidationError,
)
from kiekit.fields import check_callback_url

if TYPE_CHECKING:
    from pathlib import Path

    from kiekit.client import Client
    from kiekit.fields import Input
    from kiekit.journal import Entry, Journal
    from kiekit.models import Results, Task, TaskStatus
    from kiekit.provider import Provider


def register(commands: Commands) -> None:
    run = commands.add_parser("run", help="create a task, wait for it, download its files")
    run.add_argument(
        "model", metavar="MODEL", help="a model id, e.g. flux-kontext-pro (see `kie providers`)"
    )
    given = run.add_mutually_exclusive_group()
    given.add_argument(
        "--prompt",
        help="the prompt; - reads it from standard input; a lone @WORD is refused as a file "
        "name given by mistake (--prompt-file reads a file; @@ sends a literal @)",
    )
    given.add_argument(
        "--prompt-file",
        type=path_option,
        default=None,
        metavar="FILE",
        help="read the prompt from this UTF-8 text file (- : standard input)",
    )
    run.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another input field (repeatable), e.g. --input aspect_ratio=16:9; for a URL "
        "field, KEY=@./file uploads the file and passes its URL (@@ sends a literal @)",
    )
    run.add_argument(
        "--image",
        type=path_option,
        default=None,
        metavar="FILE",
        action=_Once,
        help="upload a local image and pass its URL as the model's image input (once a run)",
    )
    run.add_argument(
        "--out", default="kie-output", type=path_option, help="folder for the result files"
    )
    add_connection_options(run, mock_seconds=True)
    add_journal_option(run)
    run.add_argument("--timeout", type=seconds, default=None, help="seconds to wait for the task")
    run.add_argument("--callback-url", default=None, help="callBackUrl for KIE to notify")
    run.add_argument(
        "--idempotency-key",
        type=idempotency_key,
        default=None,
        metavar="KEY",
        help="a name for this create, kept in the journal (as Client.submit's "
        "idempotency_key): a rerun with the same key returns the task made then, and its "
        "files, instead of paying for another",
    )
    add_stop_grace_option(run)
    add_json_option(run)
    run.add_argument(
        "--print0",
        action="store_true",
        help="end each file path printed with a NUL byte, not a newline (for xargs -0: a "
        "path may hold a newline)",
    )
    run.add_argument(
        "--any-model",
        action="store_true",
        help="send a model id no plugin lists even when it looks like a mistyped known one",
    )
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    provider = checked_provider(args.model, any_model=args.any_model)
    values = _input_values(args.input)
    if args.print0 and args.json:
        raise ValidationError("--print0", "does not go with --json (one JSON object is printed)")
    given = _prompt(args)
    prompt = {} if given is None else {"prompt": given}  # text, never read as JSON
    files = local_files(provider, args.model, values, args.image)
    stand_ins = {
        key: as_field(field, [PLACEHOLDER_URL] * len(paths))
        for key, (field, paths) in files.items()
    }
    # before any I/O, uploads included: the files' URLs are stood in for while checking
    params = provider.make_input(args.model, values, from_text=True, **prompt, **stand_ins)
    check_callback_url(args.callback_url)  # before an embedded --mock is started for nothing
    grace = stop_grace(args)

    left: list[tuple[str, str | None]] = []  # the journal's writes still refused at the end
    with contextlib.ExitStack() as stack:
        client = open_client(args, stack)  # the key, the hosts, the network options
        journal_opens(client.journal)
        # at the end, however it ends: the journal writes a full disk refused, tried again
        stack.callback(lambda: left.extend(record_missed(client.journal, "run")))
        # made once every check passed (a refused run leaves no folder behind), and before
        # anything is uploaded or paid for: a folder that cannot be made refuses the run
        output_folder("--out", args.out)
        if files:
            uploaded = {}
            for key, (field, paths) in files.items():
                urls = []
                for path in paths:
                    urls.append(upload_for(client, key, path))
                    say(f"uploaded {path} for {key}: {urls[-1]}")
                uploaded[key] = as_field(field, urls)
            params = provider.make_input(args.model, values, from_text=True, **prompt, **uploaded)
        # --out goes into the journal with the intent, before the create leaves: a run killed
        # while it is in flight leaves `kie resume` (after `kie settle`) the folder to fill
        if args.idempotency_key is None:
            _tell_rerun(client, args.model, params, args.callback_url)
        elif args.mock and _retake_from_gone_mock(client, args.idempotency_key):
            args.idempotency_key_made_again = True  # _made: a new task, not the one before
        asked_at = None if client.journal is None else client.journal.now()
        asked_again: ApiError | None = None  # KIE's refusal naming the task made before
        with _create_told(client, args), graced_create(client._session.drain, grace):
            try:
                task = client.submit(
                    args.model, params, callback_url=args.callback_url, out_dir=args.out,
                    idempotency_key=args.idempotency_key,
                )  # fmt: skip
            except OutcomeUnknownError as lost:
                if lost.key is not None:
                    lost.message += _settle_hint(lost.key)
                raise
            except ApiError as refused:
                task = _named_by_refusal(refused, args.model)  # else raised again
                asked_again = refused
        results: Results | None = None
        try:  # from here on, a stop says which task goes on
            made_again = getattr(args, "idempotency_key_made_again", False)
            replayed = None if made_again else args.idempotency_key
            if asked_again is None:
                say(_made(client, task, args.model, replayed, asked_at))
            else:
                say(
                    f"task {task.id} ({args.model}) was made for this request before (KIE's "
                    f"answer: {asked_again.code} {printable(asked_again.kie_message)}): not "
                    "created again, nothing paid for; waiting for it"
                )
            with _progress() as show:
                results = client.wait(task, timeout=args.timeout, on_status=show)
            if results.assets:
                say(f"downloading {len(results.assets)} file(s) of task {task.id} to {args.out}")
            paths = client.download(results, args.out)
            value_file = None
            if not results.assets and results.value is not None:  # lyrics, MIDI notes …
                value_file = _save_value(results, args.out)
                say(f"saved the value of task {task.id} to {text(value_file)}")
        except KeyboardInterrupt as stop:
            tell_stop(stop, _stop_note(task, results, mock=args.mock), task_id=task.id)
            raise
        except KieError as exc:  # one that knows no task (a proxy setting refused at the
            # download) still came after this task was made: said with it (exit 1, not 2)
            if exc.task_id is None:
                exc.task_id = task.id
            _save_ready(client, exc, args.out)
            if isinstance(exc, PluginHookError) and not args.mock:  # the task is KIE's, paid
                exc.message += (
                    "; the task stays owed in the journal: kie resume finishes it once the "
                    "plugin is fixed"
                )
            elif _resumable(exc) and not args.mock:
                exc.message += _next_step(task, args.idempotency_key, asked_again is not None)
            came_after_create(exc)
            raise
    written = [str(path) for path in paths]  # as given: a C locale's stdout writes its bytes
    texts = [text(path) for path in paths]  # JSON carries text
    answer = {"task_id": task.id, "model": args.model, "files": texts, "value": results.value}
    if value_file is not None:  # stdout's lines stay the file paths, then the value itself
        answer["value_file"] = text(value_file)
    code = 0
    if left:  # done and delivered: "ok" stays true, so a script does not run it (pay) again
        answer["unrecorded"] = unrecorded_json(client.journal, left)
        say_unrecorded("run", len(left), _again(asked_again is not None))
        code = EXIT_UNRECORDED
    try:
        if emit(args, "run", answer):
            return code
        end = "\0" if args.print0 else "\n"
        for name in written:
            print(name, end=end)
        if results.value is not None:  # a model's output that is not a file: what KIE returned
            print(json_text(results.value), end=end)
        sys.stdout.flush()  # here: a full disk refuses the output now, while it can be said
    except StdoutError:
        say(_output_lost(task, args))
        raise
    return code


def _output_lost(task: Task, args: argparse.Namespace) -> str:
    """Said when standard output (closed, a full disk) refused what a finished run prints:
    the task was made and paid for, its files are on disk and the journal has it, so running
    the command again only pays again."""
    again = (
        f"rerun with --idempotency-key {args.idempotency_key} to print it again"
        if args.idempotency_key is not None
        else "kie tasks lists it"
    )
    return (
        f"kie run: task {task.id} is done and recorded in the task journal, its files in "
        f"{args.out}; only printing them failed: do not run it again (it would pay again); "
        f"{again}"
    )


def _prompt(args: argparse.Namespace) -> str | None:
    """The prompt, read before anything is sent: ``--prompt -`` and ``--prompt-file -`` read
    standard input (as ``kie chat``, ``kie batch`` and ``kie upload`` read ``-``),
    ``--prompt-file FILE`` a UTF-8 file. A ``--prompt`` that is one ``@WORD`` (no space) is
    refused: it is a file name given as ``--input KEY=@FILE`` takes one (``@p.txt``), and
    sending it as text would pay for a useless task; a prompt with spaces that starts with
    ``@`` (``@alice in a red coat``) is text, and ``@@`` sends a literal ``@`` as ``--input``'s
    does."""
    from kiekit.cli._preflight import is_stdin
    from kiekit.cli.chat import prompt_from_stdin

    if args.prompt_file is not None:
        if is_stdin(args.prompt_file):
            return prompt_from_stdin("--prompt-file")
        return _prompt_file(args.prompt_file)
    given: str | None = args.prompt
    if given is None:
        return None
    if given == "-":
        return prompt_from_stdin("--prompt")
    if given.startswith("@@"):
        return given[1:]
    if given.startswith("@") and len(given) > 1 and not any(c.isspace() for c in given):
        import os

        path = given[1:]
        what = "names a file" if os.path.exists(path) else "reads as a file name"
        raise ValidationError(
            "--prompt",
            f"{given!r} {what}: to send the file's text use --prompt-file {path}; to send "
            f"{given!r} as the prompt, write @{given}",
        )
    return given


def _prompt_file(path: Path) -> str:
    """--prompt-file's text: UTF-8 (a byte order mark dropped), not empty."""
    from kiekit._paths import text as shown

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(
            "--prompt-file", f"cannot read {shown(path)}: {exc.strerror or exc}"
        ) from None
    try:
        prompt = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            "--prompt-file",
            f"{shown(path)} is not UTF-8 text (its byte {exc.start + 1} is "
            f"{data[exc.start]:#04x}): convert it to UTF-8, e.g. with iconv",
        ) from None
    if not prompt.strip():
        raise ValidationError("--prompt-file", f"{shown(path)} is empty (nothing was sent)")
    return prompt


def _retake_from_gone_mock(client: Client, key: str) -> bool:
    """``kie run --mock --idempotency-key KEY`` run again: each ``--mock`` run starts its mock
    on a new port, so the key's row names a server that is gone (cli._common.on_gone_mock).
    Its task lived in that mock's memory, cost nothing and can never be fetched: the row is let
    go of (as ``kie batch --mock`` does) and the task made again on this run's mock, where the
    journal would refuse the key as used on another server. True when it was."""
    from kiekit.journal import EntryState

    journal = client.journal
    if journal is None:
        return False
    try:
        row = journal.get(key)
    except KieError:
        return False  # the create finds the journal so, and says it
    if row is None or row.base_url in (None, client.base_url):
        return False
    if row.state is EntryState.REJECTED or not on_gone_mock(row):
        return False
    why = release_gone_mock_row(journal, row, client.base_url)
    say(f"idempotency key {key!r}: {why}")
    return True


def _named_by_refusal(refused: ApiError, model: str) -> Task:
    """The task KIE's refusal of the create names as made for this request before
    (:func:`~kiekit.errors.made_before`: a Veo 4K asked again, kie-api.md §3.3). Nothing was
    made now; the run waits for that task and downloads its files as for one it made, so
    asking again delivers what was paid for. Any other refusal is raised again."""
    from kiekit.errors import made_before
    from kiekit.models import Task

    named = made_before(refused)
    if named is None:
        raise refused
    return Task(named, model)


def _save_value(results: Results, out: Path) -> Path:
    """What a model that makes no file returned (Suno's lyrics, MIDI notes, a transcript),
    written to ``--out`` as ``<task id>-value.json``, the JSON ``kie run`` prints: a run's
    output is in its folder whatever the model makes. Written whole or not at all. Not one
    of the printed paths (a script reads the value as the JSON after them, as before)."""
    import json
    import os

    from kiekit.errors import FileWriteError

    path = out / f"{results.file_stem or results.task_id}-value.json"
    partial = path.with_name(f"{path.name}.incomplete")
    try:
        partial.write_text(json.dumps(results.value, indent=2, ensure_ascii=False) + "\n", "utf-8")
        os.replace(partial, path)
    except (OSError, ValueError) as exc:
        raise FileWriteError.of(exc, path, task_id=results.task_id) from exc
    return path


def _save_ready(client: Client, exc: KieError, out: Path) -> None:
    """The files a task that timed out or failed had ready, paid for (``ready`` of a
    WaitTimeoutError or TaskFailedError: a Suno song's first track), written to ``--out`` and
    named; a timed-out task stays owed, so ``kie resume`` fetches only the rest there. A
    download that fails here is said, and the first error stands."""
    ready = getattr(exc, "ready", None)
    if ready is None or not ready.assets:
        return
    try:
        paths = client.download(ready, out)
    except KieError as failed:
        say(f"could not save the file(s) task {exc.task_id} had ready: {failed}")
        return
    names = ", ".join(text(path) for path in paths)
    say(f"task {exc.task_id} had {len(paths)} file(s) ready: saved to {text(out)}: {names}")


def _resumable(exc: KieError) -> bool:
    """An error after the create that leaves the task to finish (a wait that timed out, the
    network or KIE failing while polling, a download that failed): ``kie resume`` takes it
    from the journal without paying again. Not a failed task, nor results gone for good."""
    from kiekit.errors import ResultsExpiredError, TaskFailedError

    return not isinstance(exc, TaskFailedError | ResultsExpiredError | PluginHookError)


def _next_step(task: Task, key: str | None, asked_again: bool = False) -> str:
    """What to do after :func:`_resumable`'s error, as a stop says it: a retry loop that runs
    the same command again would create (and pay for) a new task each time — unless KIE named
    the task made before (``asked_again``), as it does again for the same request."""
    if asked_again:  # nothing was made now; the journal may hold no row of the task
        return f"; task {task.id} goes on at KIE: {_again(True)}"
    if key is not None:
        again = f"rerunning with --idempotency-key {key} waits for this same task"
    else:
        again = "running this command again creates and pays for another task"
    return (
        f"; task {task.id} goes on at KIE and stays in the journal: kie resume finishes it "
        f"({again})"
    )


def _again(asked_again: bool) -> str:
    """What running ``kie run`` again would do, said as it ends: create and pay for a new
    task; or, when KIE named the task made for this request before (a Veo 4K asked again,
    kie-api.md §3.3), name that same task again and wait for it, paying nothing."""
    if asked_again:
        return (
            "running this command again waits for this same task: KIE names it again, nothing paid"
        )
    return "it would create and pay for a new task"


def _made(client: Client, task: Task, model: str, key: str | None, asked_at: float | None) -> str:
    """What the create did: made the task, or (an idempotency key's replay) found the one made
    before. The journal tells them apart: a replay's row is the key's, written before this
    run asked (Recorder.before_create returns its task, and nothing is sent)."""
    from kiekit.errors import KieError

    journal = client.journal
    if key is None or journal is None or asked_at is None:
        return f"created task {task.id} ({model})"
    try:
        row = journal.get(key)
    except KieError:
        row = None
    if row is None or row.task_id != task.id or row.created_at >= asked_at:
        return f"created task {task.id} ({model})"
    return (
        f"task {task.id} ({model}) was made before with idempotency key {key!r}: not created "
        "again, nothing paid for"
    )


def _tell_rerun(client: Client, model: str, params: Input, callback_url: str | None) -> None:
    """Say so when the same create (model and input) is unfinished in the journal: a rerun
    of an interrupted ``kie run`` pays again, where ``kie resume`` finishes the first. Not
    refused: running the same prompt twice on purpose is normal (--idempotency-key makes a
    rerun return the first task instead)."""
    row = _same_create(client, model, params, callback_url)
    if row is None:
        return
    if row.task_id is None:  # sent, its answer never came: maybe a task, maybe not
        what = f"a create whose outcome is unknown ({row.key}: kie settle, then kie resume)"
    else:
        what = f"task {row.task_id}, which kie resume finishes without paying again"
    say(
        f"note: the same request ({model}, same input) is unfinished in the journal: {what}; "
        "this run creates (and pays for) a new task (--idempotency-key KEY makes a rerun "
        "return the first instead)"
    )


def _same_create(
    client: Client, model: str, params: Input, callback_url: str | None
) -> Entry | None:
    """The newest unfinished row of this server and key whose create is the one about to be
    sent (the same body), or None; an unreadable journal says nothing here (the create
    finds it so, and says it)."""
    from kiekit.errors import KieError
    from kiekit.journal import Selection

    journal = client.journal
    if journal is None:
        return None
    engine = client._engine
    try:
        body = engine.create_request(model, params, callback_url=callback_url).body
        rows = journal.select(Selection(open=True, model=model))
        same = [
            row
            for row in rows
            if (row.unfinished or row.state.outcome_unknown)
            and row.base_url == engine.base_url
            and row.account in (None, engine.account)
            and _as_json(row.request) == _as_json(body)
        ]
    except KieError:
        return None
    return same[-1] if same else None


def _as_json(body: Any) -> str:
    import json

    return json.dumps(body, sort_keys=True, default=str)


def _settle_hint(key: str) -> str:
    """What to do about a create whose answer was lost, in the journal's words (Journal's
    idempotency refusal, kie resume): the row to settle once the dashboard has told."""
    return (
        f"; kie tasks lists it as {key}: once KIE's dashboard tells, kie settle {key} "
        "--task-id ID (kie resume then fetches its files), or --not-created"
    )


def _stop_note(task: Task, results: Results | None, *, mock: bool) -> str:
    """What a stop after the create leaves: a task that goes on at KIE, or one that succeeded
    whose files ``kie resume`` fetches (the journal row says which are owed)."""
    if results is None:
        return f"stopped waiting for task {task.id}; {_goes_on(mock)}"
    if mock:
        return f"task {task.id} succeeded; stopped downloading its files (the mock stops with it)"
    return (
        f"task {task.id} succeeded; stopped downloading its files: kie resume fetches them "
        "(the task is not made again)"
    )


def _goes_on(mock: bool) -> str:
    """Where a created task is after a stop: the README's exit codes promise it names
    ``kie resume``."""
    if mock:
        return "the embedded mock stops with it"
    return "it goes on at KIE and stays in the journal: kie resume finishes it"


@contextlib.contextmanager
def _create_told(client: Client, args: argparse.Namespace) -> Iterator[None]:
    """A stop while the create is on its way: its answer never came, so whether KIE made (and
    charged) a task is unknown, and running the command again would pay for another. Said
    from this process's journal row, with how to find out (KIE cannot list tasks, kie-api.md
    §4: only its dashboard can tell)."""
    journal = client.journal
    since = None if journal is None else journal.now()
    try:
        yield
    except KeyboardInterrupt as stop:
        row = None if journal is None else _own_create(journal, args.model, since)
        if row is not None:
            _tell_create(stop, row, mock=args.mock)
        raise


def _own_create(journal: Journal, model: str, since: float | None) -> Entry | None:
    """This process's create of ``model`` since ``since`` (one ``kie run`` makes one), or None
    when the stop came before its row was written (nothing was sent) or the row is unreadable."""
    from kiekit.errors import KieError
    from kiekit.journal import Selection

    try:
        rows = journal.select(Selection(model=model, since=since))
        own = [row for row in rows if row.owner == journal.owner]
    except KieError:
        return None
    return own[-1] if own else None


def _tell_create(stop: KeyboardInterrupt, row: Entry, *, mock: bool) -> None:
    if row.task_id is not None:  # its answer came just before the stop
        tell_stop(
            stop, f"created task {row.task_id} ({row.model}); {_goes_on(mock)}",
            task_id=row.task_id,
        )  # fmt: skip
    elif not row.state.outcome_unknown:  # let go before it was sent: nothing was made
        tell_stop(stop, f"the create of {row.model} was stopped before it was sent: no task made")
    elif mock:
        tell_stop(
            stop,
            f"a create of {row.model} was in flight on the embedded mock, which stops with it: "
            f"nothing was paid for (kie settle {row.key} --abandon closes its row)",
            key=row.key,
        )
    else:
        tell_stop(
            stop,
            f"a create of {row.model} was in flight: its outcome is unknown (KIE may have made "
            "the task, and charged for it; running this again would pay for another). Look it "
            "up: kie tasks --state unknown, then, once your KIE dashboard tells, "
            f"kie settle {row.key} --task-id ID (or --not-created)",
            key=row.key,
        )


def checked_provider(model: str, *, any_model: bool = False) -> Provider:
    """The model's provider; a ValidationError with the closest known ids when the id is not
    listed by any plugin but looks like one that is (a typo costs a paid 422 otherwise).
    ``any_model``: the user chose to send such an id as is, so the command's creates do not
    warn of it (an UnlistedModelWarning each; kiekit.cli.main scopes the filter)."""
    from kiekit.registry import UnlistedModelWarning, default_registry

    provider = default_registry().listed_provider(model, any_model=any_model)
    if any_model:
        warnings.filterwarnings("ignore", category=UnlistedModelWarning)
    return provider


class _Once(argparse.Action):
    """An option given at most once: a second ``--image`` would silently replace the first, and
    the task be paid for with one image of two."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(
                f"{option_string} is given more than once: it takes one file; for several, "
                "upload them (kie upload FILE) and give their URLs as a list: "
                """--input FIELD='["URL1", "URL2"]'"""
            )
        setattr(namespace, self.dest, values)


def _input_values(pairs: list[str]) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs, as strings; the provider reads them by the field's type."""
    raw: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(pair, "expected KEY=VALUE")
        key = key.strip()
        if key in raw:  # the last one would win silently, and a list would lose its items
            raise ValidationError(
                key,
                "is given twice; give a list once, comma-separated "
                f"(--input {key}=URL1,URL2), or as JSON for a model kiekit has no fields for",
            )
        raw[key] = value
    return raw


@contextlib.contextmanager
def _progress() -> Iterator[Any]:
    """A live line on standard error: the task's state, and a bar where KIE reports progress.
    Standard error that is no terminal (a log, a pipe, CI), or no rich installed, gets a plain
    line per state instead (:func:`~kiekit.cli._common.progress_bars`)."""
    rich = progress_bars()
    if rich is None:
        yield _state_lines()
        return
    shown = rich.progress
    columns = (
        shown.SpinnerColumn(),
        shown.TextColumn("{task.description}"),
        shown.BarColumn(),
        shown.TimeElapsedColumn(),
    )
    console = rich.console.Console(stderr=True)
    with shown.Progress(*columns, console=console, transient=False) as bar:
        line = bar.add_task("waiting", total=None)

        def show(status: TaskStatus) -> None:
            total = 1.0 if status.progress is not None else None
            bar.update(
                line, description=_state_said(status), completed=status.progress or 0, total=total
            )

        yield show


def _state_lines() -> Any:
    """``on_status`` that says each new state on a line of its own (a log reads better without
    a line for every poll's progress)."""
    last: list[str] = []

    def show(status: TaskStatus) -> None:
        state = _state_said(status)
        if last != [state]:
            last[:] = [state]
            say(f"task {status.task_id}: {state}")

    return show


def _state_said(status: TaskStatus) -> str:
    """The state as the progress line says it, with the family's stage when it reports one
    (``running: first track ready``)."""
    state = status.state.value
    return f"{state}: {printable(status.stage)}" if status.stage else state
