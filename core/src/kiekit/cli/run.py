"""``kie run MODEL``: create a task, wait for it with a progress line, download its files."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiekit.cli._common import (
    Commands,
    add_connection_options,
    add_journal_option,
    add_json_option,
    emit,
    open_client,
    say,
    seconds,
)
from kiekit.cli._preflight import image_file, output_folder
from kiekit.errors import ValidationError
from kiekit.fields import InputField

if TYPE_CHECKING:
    from kiekit.models import TaskStatus
    from kiekit.provider import Provider


def register(commands: Commands) -> None:
    run = commands.add_parser("run", help="create a task, wait for it, download its files")
    run.add_argument("model", help="a model id, e.g. flux-kontext-pro (see `kie providers`)")
    run.add_argument("--prompt", help="the prompt")
    run.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another input field (repeatable), e.g. --input aspect_ratio=16:9; "
        "KEY=@./file uploads the file and passes its URL",
    )
    run.add_argument(
        "--image",
        type=Path,
        default=None,
        metavar="FILE",
        action=_Once,
        help="upload a local image and pass its URL as the model's image input (once a run)",
    )
    run.add_argument("--out", default="kie-output", type=Path, help="folder for the result files")
    add_connection_options(run, mock_seconds=True)
    add_journal_option(run)
    run.add_argument("--timeout", type=seconds, default=None, help="seconds to wait for the task")
    run.add_argument("--callback-url", default=None, help="callBackUrl for KIE to notify")
    add_json_option(run)
    run.add_argument(
        "--any-model",
        action="store_true",
        help="send a model id no plugin lists even when it looks like a mistyped known one",
    )
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    provider = checked_provider(args.model, any_model=args.any_model)
    values = _input_values(args.input)
    prompt = {} if args.prompt is None else {"prompt": args.prompt}  # text, never read as JSON
    files = local_files(provider, args.model, values, args.image)
    stand_ins = {
        key: _as_field(field, [PLACEHOLDER_URL] * len(paths))
        for key, (field, paths) in files.items()
    }
    # before any I/O, uploads included: the files' URLs are stood in for while checking
    params = provider.make_input(args.model, values, from_text=True, **prompt, **stand_ins)
    output_folder("--out", args.out)  # made last: a refused input leaves no folder behind

    with contextlib.ExitStack() as stack:
        client = open_client(args, stack)
        if files:
            uploaded = {}
            for key, (field, paths) in files.items():
                urls = []
                for path in paths:
                    urls.append(client.upload(path).download_url)
                    say(f"uploaded {path} for {key}: {urls[-1]}")
                uploaded[key] = _as_field(field, urls)
            params = provider.make_input(args.model, values, from_text=True, **prompt, **uploaded)
        task = client.submit(args.model, params, callback_url=args.callback_url)
        try:  # from here on, a stop says which task goes on
            say(f"created task {task.id} ({args.model})")
            remember_out_dir(task.id, args.out)
            with _progress() as show:
                results = client.wait(task, timeout=args.timeout, on_status=show)
            paths = client.download(results, args.out)
        except KeyboardInterrupt as stop:
            where = "the embedded mock stops with it" if args.mock else "it goes on at KIE"
            say(f"stopped waiting for task {task.id}; {where}")
            stop.task_id = task.id  # type: ignore[attr-defined]  # for kie --json's error object
            raise
    written = [str(path) for path in paths]
    if emit(args, "run", {"task_id": task.id, "model": args.model, "files": written,
                          "value": results.value}):  # fmt: skip
        return 0
    for name in written:
        print(name)
    if results.value is not None:  # a model whose output is not a file: print what KIE returned
        print(json.dumps(results.value, ensure_ascii=False))
    return 0


def checked_provider(model: str, *, any_model: bool = False) -> Provider:
    """The model's provider; a ValidationError with the closest known ids when the id is not
    listed by any plugin but looks like one that is (a typo costs a paid 422 otherwise)."""
    from kiekit.errors import did_you_mean
    from kiekit.registry import UnlistedModelWarning, default_registry

    registry = default_registry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnlistedModelWarning)  # said below, as an error
        provider = registry.provider(model)
    close = [] if any_model else registry.suggestions(model)
    if close:
        raise ValidationError(
            "model",
            f"{model!r} is not a model id any plugin lists{did_you_mean(close)} "
            "(--any-model sends it as is)",
        )
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


def remember_out_dir(task_id: str, out: Path) -> None:
    """Journal where the task's files go, so ``kie resume`` downloads them there too."""
    import logging

    from kiekit.journal import default_journal

    try:
        journal = default_journal()
        entry = journal.by_task(task_id)
        if entry is not None:
            journal.store.update(entry.key, {"out_dir": str(out.resolve())})
    except Exception as exc:
        logging.getLogger("kiekit").warning("could not record the folder of %s: %s", task_id, exc)


# A valid URL that can never be fetched (.invalid, RFC 2606), to check an input before its
# files are uploaded; it is never sent.
PLACEHOLDER_URL = "https://kiekit-upload.invalid/file"


def local_files(
    provider: Provider, model: str, values: dict[str, str], image: Path | None
) -> dict[str, tuple[InputField | None, list[Path]]]:
    """The local files to upload, by input field: ``--input KEY=@path`` entries (taken out of
    ``values``; ``@a.png,@b.png`` for a list of URLs) and ``--image``, which goes to the model's
    one image URL field. The fields are those the provider describes (a typed input class, or
    kiekit-market's catalogue)."""
    described = provider.input_fields(model)
    fields = _fields_by_name(described)
    images = _image_fields(described)
    files: dict[str, tuple[InputField | None, list[Path]]] = {}
    for key in [k for k, v in values.items() if v.startswith("@")]:
        field, given = fields.get(key), values.pop(key)
        takes_images = field is not None and (field in images or "mask" in field.name.lower())
        check = image_file if takes_images else _existing
        files[key] = (field, [check(key, path) for path in _paths(key, field, given)])
    if image is not None:
        field = _one_image_field(model, images)
        if field.name in files or any(fields.get(key) is field for key in [*files, *values]):
            raise ValidationError(field.name, "is given twice (--image and --input)")
        files[field.name] = (field, [image_file("--image", image)])
    return files


def _paths(key: str, field: InputField | None, given: str) -> list[Path]:
    """The files of ``@a.png`` (or, for a list of URLs, ``@a.png,@b.png``). A list with an
    entry that is no ``@file`` is refused naming the entry (``image_urls[1]``): a file whose
    own name holds a comma is still one file."""
    whole = Path(given[1:])
    if field is None or field.kind != "urls" or "," not in given or whole.is_file():
        return [whole]
    parts = given.split(",")
    for index, part in enumerate(parts):
        if not part.strip().startswith("@"):
            raise ValidationError(
                f"{key}[{index}]",
                f"{part.strip()!r} is no @file: give every file as @path (@a.png,@b.png); "
                "files and URLs do not mix in one value (kie upload FILE gives a file's URL)",
            )
    return [Path(part.strip()[1:]) for part in parts]


# URL fields named for these take other files (a Kling motion's video_urls, 4o Image's mask)
_NOT_IMAGES = ("video", "audio", "music", "song", "voice", "mask")


def _image_fields(described: tuple[InputField, ...]) -> list[InputField]:
    """The model's URL fields that take images: those named for images, else the URL fields
    not named for something else (Midjourney's ``file_urls``, 4o Image's ``files_url``)."""
    found = [f for f in described if f.kind in ("url", "urls")]
    named = [f for f in found if "image" in f.name.lower()]
    return named or [f for f in found if not any(w in f.name.lower() for w in _NOT_IMAGES)]


def image_field(provider: Provider, model: str) -> InputField:
    """The model's one input field for an image URL (see :func:`_image_fields`)."""
    return _one_image_field(model, _image_fields(provider.input_fields(model)))


def _one_image_field(model: str, found: list[InputField]) -> InputField:
    if len(found) == 1:
        return found[0]
    if found:
        what = "several image input fields (" + ", ".join(f.name for f in found) + ")"
        example = found[0].name
    else:
        what = "no image input field kiekit knows of"
        example = "FIELD"
    raise ValidationError(
        "--image", f"{model} has {what}; name the field: --input {example}=@./photo.png"
    )


def _fields_by_name(described: tuple[InputField, ...]) -> dict[str, InputField]:
    """The model's input fields by name and wire name (``inputImage``)."""
    named: dict[str, InputField] = {}
    for field in described:
        named.setdefault(field.name, field)
        if field.wire is not None:
            named.setdefault(field.wire, field)
    return named


def _existing(key: str, path: Path) -> Path:
    if not path.is_file():
        raise ValidationError(key, f"no such file: {path}")
    return path


def _as_field(field: InputField | None, urls: list[str]) -> Any:
    """Uploaded files' URLs as the field takes them: a list for a list of URLs, else the one."""
    if field is not None and field.kind == "urls":
        return urls
    (url,) = urls  # one file: only a list field is given several (_paths)
    return url


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
    Standard error that is no terminal (a log, a pipe, CI) gets a plain line per state
    instead: no bar drawn for nobody, and no rich imported for it."""
    if not sys.stderr.isatty():
        yield _state_lines()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        line = bar.add_task("waiting", total=None)

        def show(status: TaskStatus) -> None:
            total = 1.0 if status.progress is not None else None
            bar.update(
                line, description=status.state.value, completed=status.progress or 0, total=total
            )

        yield show


def _state_lines() -> Any:
    """``on_status`` that says each new state on a line of its own (a log reads better without
    a line for every poll's progress)."""
    last: list[str] = []

    def show(status: TaskStatus) -> None:
        state = status.state.value
        if last != [state]:
            last[:] = [state]
            say(f"task {status.task_id}: {state}")

    return show
