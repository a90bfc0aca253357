"""Which journal rows a reader wants (``kie tasks``' filters, ``kie resume``'s open rows), said
once so every store answers it in its own query language: in SQL where the rows live, so a
journal of a million rows is never read whole to list twenty of them or to find nothing owed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from attrs import field, frozen

from kiekit.errors import ValidationError
from kiekit.journal._entry import HANDED_OFF, Entry, EntryState

# Rows still open, as the journal records them: held or sent and not answered (``claimed``,
# ``sending``, ``unknown``), a task not seen finished (``created``), or a success with fewer
# files recorded than results (its download never finished); and a row in a state this kiekit
# does not know, not known to be finished. Finished rows, which are nearly all of an old
# journal, are none of these: a partial index on exactly this condition stays as small as the
# work in flight.
OPEN_STATES = (EntryState.CLAIMED, EntryState.SENDING, EntryState.UNKNOWN, EntryState.CREATED)
CLOSED_STATES = (EntryState.REJECTED, EntryState.FAILED)  # and a success with all its files
PAGE_ROWS = 1000  # rows a store reads per query while streaming: memory stays flat


def _states(states: Iterable[EntryState | str] | EntryState | str) -> frozenset[EntryState]:
    """``Selection.states`` as the journal's states: a state's name (``"created"``) is one, and
    a lone state is a set of one. A word that is no state is refused: it would match no row,
    and "nothing found" would be taken for "nothing owed"."""
    given = [states] if isinstance(states, EntryState | str) else list(states)
    chosen = set()
    for state in given:
        if isinstance(state, EntryState):
            chosen.add(state)
            continue
        try:
            chosen.add(EntryState(state))
        except ValueError:
            words = ", ".join(s.value for s in EntryState)
            raise ValidationError("states", f"{state!r} is not a row's state ({words})") from None
    return frozenset(chosen)


@frozen
class Selection:
    """Rows of the journal, oldest first. Every field narrows; the defaults select every row.

    ``states``: rows in one of these states (:class:`EntryState` members, or their names:
    ``{"created"}``). ``open``: rows still open (:data:`OPEN_STATES`, or
    a success with a download short of its results), besides those of ``states``. ``model``:
    rows of this model. ``since``: rows created at or after these Unix seconds. ``newest``:
    only the last N of the rows selected (still yielded oldest first).
    """

    states: frozenset[EntryState] = field(default=frozenset(), converter=_states)
    open: bool = False
    model: str | None = None
    since: float | None = None
    newest: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.newest is not None and self.newest < 0:
            raise ValidationError("newest", f"must be 0 or more, not {self.newest}")

    @property
    def by_state(self) -> bool:
        """Whether rows are chosen by state at all (else every state passes)."""
        return bool(self.states) or self.open

    @property
    def only_open(self) -> bool:
        """Whether every row chosen is open: a store may then read only its open rows."""
        return self.by_state and all(state in OPEN_STATES for state in self.states)

    def matches(self, entry: Entry) -> bool:
        """Whether ``entry`` is selected (``newest`` aside): the stores' SQL, in Python."""
        if self.by_state and entry.state not in self.states and not (self.open and is_open(entry)):
            return False
        if self.model is not None and entry.model != self.model:
            return False
        return self.since is None or entry.created_at >= self.since


def is_open(entry: Entry) -> bool:
    """:func:`open_condition` for one row."""
    if entry.state in OPEN_STATES or not entry.state.known:
        return True
    return entry.state is EntryState.SUCCEEDED and len(entry.files) < len(entry.assets)


def open_condition(length: str) -> str:
    """:func:`is_open` in SQL; ``length`` formats one database's JSON array length of a TEXT
    column (``json_array_length({})``). A partial index is made on exactly this text, and a
    query names it the same way, so the database sees the index serves it."""
    files, assets = length.format("files"), length.format("assets")
    # Said as the states that are not open, so that a state this kiekit does not know (a newer
    # kiekit's, EntryState.read) counts as open: kie resume reads such a row and says so,
    # rather than passing over it. One by one, not ``state NOT IN (...)``: SQLite evaluates an
    # IN list through a temporary table, built on every write that touches the index; that was
    # most of what a journal write cost (3 writes a task: 328k instructions with IN, 146k
    # without the index).
    closed = " AND ".join(f"state <> '{state.value}'" for state in CLOSED_STATES)
    return f"({closed} AND (state <> 'succeeded' OR {files} < {assets}))"


def is_done(entry: Entry) -> bool:
    """:func:`done_condition` for one row: nothing is owed for it any more, and nobody will
    look for it again — refused (``rejected``), ``failed`` (abandoned ones too), or a success
    with all its files recorded or its links handed off. Never a create whose outcome is
    unknown or a task not seen finished or not downloaded: ``Journal.prune`` keeps those."""
    if entry.state in (EntryState.REJECTED, EntryState.FAILED):
        return True
    return entry.state is EntryState.SUCCEEDED and (
        len(entry.files) >= len(entry.assets) or entry.handed_off
    )


def done_condition(length: str, kind: str) -> str:
    """:func:`is_done` in SQL; ``length`` as :func:`open_condition`'s, ``kind`` formats one
    database's reading of a JSON object's ``type`` from a TEXT column (the ``error``)."""
    files, assets, error = length.format("files"), length.format("assets"), kind.format("error")
    handed_off = f"{error} = '{HANDED_OFF}'"
    return (
        f"(state = 'rejected' OR state = 'failed' OR (state = 'succeeded' AND "
        f"({files} >= {assets} OR {handed_off})))"
    )


def sql_conditions(selection: Selection, *, mark: str, length: str) -> tuple[list[str], list[Any]]:
    """``selection`` (``newest`` aside) as SQL terms to AND together, and their parameters;
    ``mark`` is the database's placeholder."""
    terms: list[str] = []
    params: list[Any] = []
    if selection.states:
        states = sorted(state.value for state in selection.states)
        chosen = f"state IN ({', '.join(mark for _ in states)})"
        params += states
        terms.append(f"({chosen} OR {open_condition(length)})" if selection.open else chosen)
    if selection.only_open or (selection.open and not selection.states):
        # implied when every state asked for is open, and said so that the partial index serves
        terms.append(open_condition(length))
    if selection.model is not None:
        terms.append(f"model = {mark}")
        params.append(selection.model)
    if selection.since is not None:
        terms.append(f"created_at >= {mark}")
        params.append(selection.since)
    return terms, params


def in_memory(rows: Iterable[Entry], selection: Selection) -> Iterator[Entry]:
    """``selection`` over rows already in memory, oldest first (MemoryStore)."""
    chosen = [row for row in sorted(rows, key=lambda row: row.created_at) if selection.matches(row)]
    if selection.newest is not None:
        chosen = chosen[len(chosen) - selection.newest :] if selection.newest else []
    return iter(chosen)
