"""Paths as text, and as this process's file calls take them.

The journal, JSON output and KIE keep a path as text (Unicode, stored as UTF-8); the file
system names a file by bytes. Where Python's file system encoding is UTF-8 (any usual locale,
Python's UTF-8 mode, Windows) the two are one. Under ``LC_ALL=C`` with ``PYTHONUTF8=0`` it is
ASCII: a name Python gets from the system (``sys.argv``, ``os.listdir``) carries its other
bytes as surrogates (``'\\udcd0\\udcbf'``), and text such as ``'папка'`` makes every file call
raise UnicodeEncodeError. A journal row written under a UTF-8 locale names its files by their
UTF-8 bytes: read under such a locale, those bytes are still the file, never "missing".
"""

from __future__ import annotations

import codecs
import os
import stat
import sys
from pathlib import Path

__all__ = [
    "is_file",
    "loggable",
    "message_text",
    "native",
    "recorded",
    "text",
    "writable_folder",
]

_UTF8 = codecs.lookup(sys.getfilesystemencoding()).name == "utf-8"  # fixed for the process


def native(path: str) -> str:
    """``path`` as this process's file calls take it: itself when the file system encoding
    can carry it (Python's own reading of a str path), else its UTF-8 bytes, carried as
    ``os.fsdecode`` carries bytes: the name a UTF-8 locale gave the file, and what the user
    typed. A name no encoding carries stays itself: the call that uses it raises."""
    if _UTF8:
        return path
    try:
        os.fsencode(path)
        return path
    except UnicodeEncodeError:
        pass
    try:  # surrogateescape: a name mixing text with bytes already escaped keeps those bytes
        return os.fsdecode(path.encode("utf-8", "surrogateescape"))
    except UnicodeError:
        return path


def text(path: str | os.PathLike[str]) -> str:
    """``path`` as text, for the journal and JSON: the characters its bytes spell in UTF-8
    where this process carries them as surrogates (a C locale's ``sys.argv``: ``маяк`` typed
    is read as surrogates, no text, and would reach KIE or the journal as garbage). A name
    whose bytes are no UTF-8 (a latin-1 one) stays as it is, for the checks to refuse
    (fields.check_utf8): text cannot spell it."""
    name = os.fspath(path)
    if _spelt(name):
        return name
    try:
        return os.fsencode(name).decode("utf-8")
    except UnicodeError:
        return name


def message_text(message: str) -> str:
    """``message`` with the bytes a C locale carries as surrogates (a path from ``sys.argv``
    or the file system) spelt as the characters they are in UTF-8, as :func:`text` spells a
    path: a message on standard error would otherwise show them as ``\\udcd1\\udc84``
    (Python's escapes of raw bytes) where standard output shows the name. Bytes that are no
    UTF-8 stay as they are."""
    if _spelt(message):
        return message
    try:
        return message.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    except UnicodeError:  # a surrogate that carries no byte (not U+DC80..U+DCFF)
        return message


def loggable(path: str | os.PathLike[str]) -> str:
    """``path`` as a log line may carry it: spelt as :func:`message_text` spells it, and a byte
    that is no UTF-8 (a name's lone surrogate) escaped as ``\\udcff``. A handler writing UTF-8
    strictly (a JSON log file, pytest-xdist's report channel) failed on such a record."""
    shown = message_text(os.fspath(path))
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")


def recorded(path: str | os.PathLike[str]) -> str:
    """``path`` made absolute, links resolved, as text: how the journal records a file or a
    folder, whatever the locale of the process that wrote it."""
    name = native(os.fspath(path))
    try:
        return text(Path(name).resolve())
    except (OSError, ValueError, RuntimeError):  # a NUL, a loop of links: as it was given
        return text(os.path.abspath(name))


# The scratch file is named as long as a result file's name may run while it downloads (a
# KIE task id of 32 hex digits, a label, an index, an extension, then file_policy's and
# download.part_path's ``.<pid>-<8 hex>.part``): a folder so deep that such a name would pass
# PATH_MAX is refused before the task is paid for. (A full disk is not foreseeable so: an
# empty file still fits; its download fails as a FileWriteError, kie resume fetches it.)
_SCRATCH_NAME = 128
_SCRATCH_PREFIX = ".kiekit-check-".ljust(_SCRATCH_NAME - 8, "-")  # tempfile adds 8 letters


def writable_folder(folder: Path) -> None:
    """Make ``folder`` (and its parents) if missing and prove result files can be written in
    it, by writing a scratch file: an output folder is checked so before a task is paid for
    (``kie run``'s ``--out``, ``generate``'s ``out_dir``). Raises OSError (FileExistsError for
    a file in its place) or ValueError (a name the file system cannot take) when it cannot."""
    import tempfile  # here: few callers write files

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=_SCRATCH_PREFIX):
        pass


def is_file(path: str) -> bool:
    """Whether the text ``path`` (a journal's) names a file here: under this process's name
    for it, else under its UTF-8 bytes (the name a UTF-8 locale wrote it by, where this
    locale spells the same text otherwise: latin-1). A name that cannot be looked for at all
    counts as a file: unknown is not missing, and a task whose files were written must never
    be owed again, nor abandoned, for how its name is spelt."""
    name = native(path)
    found = _file(name)
    if found is None:
        return True
    if found or _UTF8 or name != path or path.isascii():
        return found
    return bool(_file(path.encode("utf-8")))


def _file(name: str | bytes) -> bool | None:
    """Whether ``name`` is a regular file (os.path.isfile), None when no file can be looked
    for by it (isfile says False for those: missing, to its callers)."""
    try:
        return stat.S_ISREG(os.stat(name).st_mode)
    except OSError:  # missing, or not to be looked at (EACCES): as os.path.isfile says
        return False
    except ValueError:  # UnicodeEncodeError, an embedded NUL
        return None


def _spelt(name: str) -> bool:
    """Whether ``name`` is text UTF-8 can carry (no surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
