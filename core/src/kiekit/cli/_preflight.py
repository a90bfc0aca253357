"""Local checks a command makes before anything is sent: nothing is paid for when a local
precondition fails (an output folder that is a file, an ``--image`` that is not an image)."""

from __future__ import annotations

import os
from pathlib import Path

from kiekit.errors import ValidationError

__all__ = ["image_file", "local_file", "output_folder"]

# Leading bytes of the image formats KIE's image inputs take, and a few more a camera makes.
_IMAGE_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),  # BMP
    (0, b"II*\x00"),  # TIFF, little-endian
    (0, b"MM\x00*"),  # TIFF, big-endian
    (8, b"WEBP"),  # after RIFF and a length
    (4, b"ftypheic"),
    (4, b"ftypheix"),
    (4, b"ftypmif1"),
    (4, b"ftypavif"),
)


def output_folder(option: str, folder: Path) -> Path:
    """``folder``, created if missing and proved writable by writing a scratch file in it."""
    try:  # a name that is not UTF-8 (bytes on Linux) could not be recorded in the journal
        str(folder.resolve()).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(folder).decode("utf-8", "backslashreplace")  # its bytes, escaped
        raise ValidationError(option, f"is not a valid UTF-8 path: {shown:.200}") from None
    if folder.exists() and not folder.is_dir():
        raise ValidationError(option, f"is not a folder: {folder}")
    try:
        import tempfile  # here: every command imports this module, few write files

        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".kiekit-check-"):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ValidationError(option, f"cannot write files in {folder}: {why}") from exc
    return folder


def local_file(option: str, path: Path) -> Path:
    """``path``, when it is a file: a missing one and a folder are told apart."""
    if not path.exists():
        raise ValidationError(option, f"no such file: {path}")
    if path.is_dir():
        raise ValidationError(option, f"is a folder, not a file: {path}")
    if not path.is_file():
        raise ValidationError(option, f"is not a file: {path}")
    return path


def image_file(option: str, path: Path) -> Path:
    """``path``, when it is a readable file whose content is an image."""
    local_file(option, path)
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise ValidationError(option, f"cannot read {path}: {exc.strerror}") from exc
    if not any(head[at : at + len(sign)] == sign for at, sign in _IMAGE_SIGNATURES):
        raise ValidationError(
            option, f"is not an image (PNG, JPEG, WebP, GIF, BMP, TIFF or HEIC): {path}"
        )
    return path
