"""Keeping secrets and server text in their place: four small tools, no I/O.

- :class:`Secret` holds a secret kiekit keeps (a webhook receiver's HMAC key) so that what
  shows an object's insides — ``repr``, ``vars()``, a debugger, Sentry's or ``rich``'s dump
  of local variables — shows ``***``, and pickling it is refused.
- :class:`Hidden` blanks the API key out of what a server sends back (a proxy or gateway that
  echoes the credential it refused): in any letter case, percent-encoded (``sk%2D…``),
  JSON-escaped (``sk\\u002d…``), and an echoed ``Basic`` credential (a proxy's
  ``Proxy-Authorization``), before an answer becomes an error, a log record or a journal row.
- :func:`printable` shows text that came from a server (KIE's ``msg``, a task's ``failMsg``) with
  its control characters escaped (``\\n``, ``\\x1b``), so that it cannot forge a second log
  line or send escape codes to a terminal; the errors keep the raw text in their attributes
  (``kie_message``, ``fail_message``) for programs.
- :func:`clean_chain` runs on every error that leaves a driver or a client's constructor: its
  frames and those of the exceptions chained to it lose their local variables — kiekit's own
  (the raw answer a server echoed the key in, the request, the key itself), a plugin's, and the
  libraries' (urllib3's, http.client's, aiohttp's: the request's headers, ``Authorization:
  Bearer …``, and its bytes) — and an exception whose text names a credential (aiohttp's
  ``ClientHttpProxyError`` prints the proxy URL with its password) is replaced in the chain by
  a :class:`RedactedCause` that says the same without it. File and line of every frame stay in
  the traceback. The frame still running (the driver's, which called it) cannot be cleared: it
  lets go of what it holds itself before it calls.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import inspect
import re
from types import TracebackType
from typing import Any

__all__ = ["Hidden", "RedactedCause", "Secret", "clean_chain", "printable"]

MASK = "***"

# a Basic credential (RFC 7617: base64 of user:password), as a proxy or gateway may echo the
# Proxy-Authorization it was sent; masked only when its token decodes to user:password, so
# "Basic authentication failed" or "Basic realm=x" stay as they are
_BASIC = r"(\bbasic(?:\s+|%20))([A-Za-z0-9+/]{4,}={0,2})"
_BASIC_TEXT = re.compile(_BASIC, re.IGNORECASE)
_BASIC_BYTES = re.compile(_BASIC.encode(), re.IGNORECASE)


def _credential(token: bytes) -> bool:
    try:
        return b":" in base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return False


def _basic_text(match: re.Match[str]) -> str:
    return match.group(1) + MASK if _credential(match.group(2).encode()) else match.group(0)


def _basic_bytes(match: re.Match[bytes]) -> bytes:
    return match.group(1) + MASK.encode() if _credential(match.group(2)) else match.group(0)


# the characters JSON may also escape as a backslash and themselves (RFC 8259 §7)
_JSON_SHORT = '"\\/'


def _key_pattern(secret: str) -> str:
    """A regular expression for ``secret`` with each character as itself, percent-encoded, or
    JSON-escaped (compiled case-insensitive: an upper-case copy, ``%2d`` or ``%2D``,
    ``\\u002d``). A JSON escape decodes to the key once the answer is parsed (an outside
    tester's review, "secrev" finding 3: ``sk\\u002dcanary…`` reached errors, logs and the
    journal whole); masked in the raw bytes, it is masked in whatever is made of them. Any
    number of backslashes: JSON in a JSON string (a market task's ``resultJson``, kie-api.md
    §2) escapes the escape."""
    parts = []
    for char in secret:
        forms = [re.escape(char), "".join(f"%{byte:02X}" for byte in char.encode())]
        units = char.encode("utf-16-be", "surrogatepass")
        codes = [units[i : i + 2].hex() for i in range(0, len(units), 2)]
        forms.append("".join(rf"\\+u{code}" for code in codes))
        if char in _JSON_SHORT:
            forms.append(rf"\\+{re.escape(char)}")
        parts.append(f"(?:{'|'.join(forms)})")
    return "".join(parts)


class Hidden:
    """The API key, to blank out of answers. A key shorter than 4 characters is not searched
    for (it would blank ordinary words; such a key is no real KIE key)."""

    def __init__(self, secret: str) -> None:
        secret = secret.strip()
        pattern = _key_pattern(secret) if len(secret) >= 4 else None
        self._text = None if pattern is None else re.compile(pattern, re.IGNORECASE)
        self._bytes = None if pattern is None else re.compile(pattern.encode(), re.IGNORECASE)
        # the cheap tests that rule the regular expressions out for nearly every answer: the
        # key in lower case, a '%' (an encoded copy), a JSON escape, the word "basic"
        self._lower = secret.lower()
        self._lower_bytes = self._lower.encode()
        self._escape = "\\" if any(char in _JSON_SHORT for char in secret) else "\\u"
        self._escape_bytes = self._escape.encode()

    def __repr__(self) -> str:
        return "Hidden(***)"

    def text(self, text: str) -> str:
        """``text`` without the key or a Basic credential (the same object when it has none)."""
        lower = text.lower()
        if self._text is not None and (self._lower in lower or "%" in text or self._escape in text):
            found = self._text.sub(MASK, text)
            text = text if found == text else found
        if "basic" in lower:
            found = _BASIC_TEXT.sub(_basic_text, text)
            text = text if found == text else found
        return text

    def bytes(self, data: bytes) -> bytes:
        """``data`` without the key or a Basic credential (the same object when it has none)."""
        lower = data.lower()
        if self._bytes is not None and (
            self._lower_bytes in lower or b"%" in data or self._escape_bytes in data
        ):
            found = self._bytes.sub(MASK.encode(), data)
            data = data if found == data else found
        if b"basic" in lower:
            found = _BASIC_BYTES.sub(_basic_bytes, data)
            data = data if found == data else found
        return data


class Secret:
    """A secret held by an object of kiekit's (a webhook receiver's HMAC key), out of sight of
    whatever dumps that object: its repr is ``Secret(***)``, it has no ``__dict__`` for
    ``vars()`` to show, and pickling it raises TypeError (its holder unpickled without it
    would take unsigned callbacks as signed ones were refused: it must not travel). Copies
    are itself. :meth:`reveal` gives the value to the code that uses it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a kiekit Secret (a webhook HMAC key) is not pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


# -- server text on a screen or in a log line ---------------------------------------------------

# C0 controls and DEL, C1 controls, and the Unicode line separators and direction overrides
# that move or reorder what a terminal or a log viewer shows
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, 0x200E, 0x200F]
_CONTROLS += [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {code: ascii(chr(code))[1:-1] for code in _CONTROLS}
_ANY_CONTROL = re.compile("[" + "".join(re.escape(chr(code)) for code in _CONTROLS) + "]")


def printable(text: str) -> str:
    """``text`` from a server as it may be shown: control characters escaped (``\\n``,
    ``\\x1b``, ``\\u202e``), everything else as it came."""
    if _ANY_CONTROL.search(text) is None:
        return text
    return text.translate(_ESCAPES)


# -- exception chains -----------------------------------------------------------------------------

# a URL's user:password@ (a proxy URL in aiohttp's ClientHttpProxyError), and a bearer token
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*:)[^@\s/'\"]+@")
_BEARER = re.compile(r"(\bbearer(?:\s+|%20))[^\s'\",;]+", re.IGNORECASE)
_GENERATOR_CODE = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
)


def _without_credentials(text: str) -> str:
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _BASIC_TEXT.sub(_basic_text, text)


class RedactedCause(Exception):
    """Stands in, in a kiekit error's ``__cause__`` / ``__context__`` chain, for a library's
    exception whose text named a credential (aiohttp's ``ClientHttpProxyError`` prints the proxy
    URL with its password). Its text is the original's type and text with the credential as
    ``***``; ``original_type`` is the original's class; its traceback is the original's."""

    def __init__(self, message: str, original_type: type[BaseException]) -> None:
        super().__init__(message)
        self.original_type = original_type


def _stand_in(exc: BaseException) -> BaseException:
    """``exc``, or a :class:`RedactedCause` in its place when its text names a credential."""
    if isinstance(exc, RedactedCause) or type(exc).__module__.startswith("kiekit"):
        return exc  # kiekit's own errors say no secret (tests/test_secrets.py)
    try:
        said = str(exc)
    except Exception:
        return exc
    shown = _without_credentials(said)
    if shown == said:
        return exc
    kind = type(exc)
    stand_in = RedactedCause(f"{kind.__module__}.{kind.__qualname__}: {shown}", kind)
    stand_in.__traceback__ = exc.__traceback__
    stand_in.__cause__ = exc.__cause__
    stand_in.__context__ = exc.__context__
    stand_in.__suppress_context__ = exc.__suppress_context__
    return stand_in


def _ours(frame: object) -> bool:
    name = getattr(frame, "f_globals", {}).get("__name__", "")
    return isinstance(name, str) and (name == "kiekit" or name.startswith("kiekit."))


def _cleaned(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` with the local variables of its frames gone.

    A frame is cleared (``frame.clear()``: file and line stay; an executing one cannot be and
    is left), kiekit's own included: its reprs hide the key, but a raw answer a server echoed
    the key in (an ``HttpResponse``'s body) is no repr of kiekit's, and a reporter that records
    locals (Sentry, ``rich``'s ``show_locals``, ``pytest -l``) would send it (an outside
    tester's review, "secrev" finding 1). kiekit's coroutine and generator frames (its flows,
    its aiohttp transport) are cleared too: an error that leaves a driver has left every one of
    them, so each is done (clearing a suspended one would close it, CPython before 3.13). A
    library's coroutine or generator frame is left out of the traceback instead, and named in a
    note: whether one in a traceback is done cannot be told."""
    kept: list[TracebackType] = []
    left_out = False
    current = tb
    while current is not None:
        frame = current.tb_frame
        if frame.f_code.co_flags & _GENERATOR_CODE and not _ours(frame):
            left_out = True
        else:
            # an executing frame (the driver's, one of the caller's) cannot be cleared: left
            with contextlib.suppress(RuntimeError):
                frame.clear()
            kept.append(current)
        current = current.tb_next
    if not left_out:
        return tb
    rebuilt: TracebackType | None = None
    for entry in reversed(kept):
        rebuilt = TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def _left_out(tb: TracebackType | None) -> list[str]:
    places = []
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_flags & _GENERATOR_CODE and not _ours(frame):
            where = frame.f_code.co_filename.rpartition("site-packages/")[2]  # aiohttp/client.py
            places.append(f"{where}:{tb.tb_lineno} in {frame.f_code.co_name}")
        tb = tb.tb_next
    return places


def clean_chain(error: BaseException) -> None:
    """Make ``error`` and the exceptions chained to it safe to report with their local
    variables (Sentry, ``rich``'s ``show_locals``, ``pytest -l``): see the module's words."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        places = _left_out(tb)
        if places:
            exc.__traceback__ = _cleaned(tb)
            note = "kiekit left out frames whose variables may hold the API key: "
            exc.add_note(note + "; ".join(places))
        else:
            _cleaned(tb)
        suppress = exc.__suppress_context__
        cause, context = exc.__cause__, exc.__context__
        if cause is not None:
            replaced = _stand_in(cause)
            if replaced is not cause:
                exc.__cause__ = replaced
                if context is cause:
                    context = replaced
                    exc.__context__ = replaced
            pending.append(replaced)
        if context is not None and context is not exc.__cause__:
            replaced = _stand_in(context)
            if replaced is not context:
                exc.__context__ = replaced
            pending.append(replaced)
        exc.__suppress_context__ = suppress
