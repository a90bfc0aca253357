"""``kie upload FILE``: put a file on KIE's upload host and print its download URL.

``kie upload -`` uploads standard input: copied to a file in kiekit's data folder as it is
read, then streamed from there as any file is (never held in memory whole), the file removed
afterwards whatever happened (:func:`~kiekit.cli._preflight.spooled_stdin`).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

from kiekit._paths import native
from kiekit.cli._common import (
    Commands,
    add_connection_options,
    add_json_option,
    emit,
    open_client,
    say,
)
from kiekit.cli._preflight import is_stdin, readable_file, spooled_stdin
from kiekit.errors import KieError, ValidationError


def register(commands: Commands) -> None:
    upload = commands.add_parser(
        "upload",
        help="upload a file (kept 3 days) and print its URL, to pass as a model input",
    )
    upload.add_argument(
        "file",
        metavar="FILE",
        help="a local file, - for standard input (kept in kiekit's data folder while it is "
        "sent, its type judged by its content), or an http(s) URL for KIE to fetch",
    )
    upload.add_argument(
        "--path", default="kiekit", help="folder on the upload host (default: kiekit)"
    )
    upload.add_argument(
        "--name",
        default=None,
        help="file name on the host (default: the file's own name, its characters but ASCII "
        "letters, digits, '.', '_' and '-' dropped (a run of them made one '_'), then '-' and 12 "
        "hex digits of its content's SHA-256, then its extension in lower case: './My photo "
        "ü.PNG' is My_photo-<hash>.png; standard input is upload-<hash>.<ext>, the extension "
        "its first bytes say (.png, .jpg, .gif, .mp3, else .bin); a URL keeps its name with a "
        "random tag)",
    )
    add_connection_options(upload)
    add_json_option(upload)
    upload.set_defaults(handler=_upload)


def _upload(args: argparse.Namespace) -> int:
    from kiekit._engine.account import check_file_name, check_upload_path

    # checked before any I/O (and before --mock starts a server), said as the options the
    # user typed, not as the Python arguments they become (upload_path, file_name)
    check_upload_path(args.path, "--path")
    if args.name is not None:
        check_file_name(args.name, "--name")
    if not args.file.strip():  # Path("") is ".": "FILE: is a folder, not a file: ." puzzled
        raise ValidationError("FILE", "is empty: give a file's path or an http(s) URL")
    with contextlib.ExitStack() as stack:
        source: str | Path = args.file
        if is_stdin(args.file):  # read to its end before any connection, as a file is checked
            source = stack.enter_context(spooled_stdin("FILE"))
        elif urlsplit(args.file).scheme not in ("http", "https"):
            readable_file("FILE", Path(native(args.file)))  # as kie run checks its files
        client = open_client(args, stack)
        try:
            uploaded = client.upload(source, upload_path=args.path, file_name=args.name)
        except KieError as exc:
            if is_stdin(args.file):
                _named_stdin(exc, str(source))
            raise
    if emit(args, "upload", {
        "download_url": uploaded.download_url, "file_name": uploaded.file_name,
        "file_path": uploaded.file_path, "size": uploaded.size, "mime_type": uploaded.mime_type,
    }):  # fmt: skip
        return 0
    size = "" if uploaded.size is None else f", {uploaded.size} bytes"
    given = "standard input" if is_stdin(args.file) else args.file
    say(f"uploaded {given} as {uploaded.file_path}{size}")
    print(uploaded.download_url)
    return 0


def _named_stdin(error: KieError, spooled: str) -> None:
    """An upload's error names the file it streamed: for ``-``, standard input, not the copy
    kept meanwhile (removed by the time the error is read)."""
    if error.path == spooled:
        error.path = "-"
    error.message = error.message.replace(spooled, "standard input")
