"""Numbers a user configures (seconds, rates, delays), checked before anything is sent.

An ``int`` has no bound in Python but a float has: ``math.isfinite(10**400)`` and
``float(10**400)`` raise OverflowError, which named no parameter. Every check of a configured
number goes through :func:`finite`, and says the value with :func:`shown`. A sum of credits
is printed with :func:`plain`: every digit KIE sent.
"""

from __future__ import annotations

import math

__all__ = ["finite", "plain", "shown"]


def finite(value: object) -> float | None:
    """``value`` as a finite float; None when it is not one: not a number (nor is a bool),
    NaN, an infinity, or an int past a float's range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def shown(value: object) -> str:
    """``repr(value)`` for an error message; an int past a float's range by its size: its
    digits may run to thousands, past what Python turns into text (4,300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and finite(value) is None:
        digits = int(abs(value).bit_length() * math.log10(2)) + 1
        sign = "-" if value < 0 else ""
        return f"{sign}an integer of about {digits} digits (past a float's range)"
    return repr(value)


def plain(number: float) -> str:
    """``number`` as the decimal it was read from, for a sum of credits a person reads:
    ``1234567.25``, not ``:g``'s ``1.23457e+06`` (six digits, an exponent). ``repr`` is the
    shortest text that reads back as the same float; it is written out without an exponent and
    without trailing zeros (``100``, ``0.00001``)."""
    import decimal  # here: `import kiekit` stays light

    text = format(decimal.Decimal(repr(float(number))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
