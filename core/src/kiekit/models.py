"""The values that cross the provider contract: requests, tasks, statuses, results."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import field, frozen

__all__ = [
    "Asset",
    "AssetRole",
    "MediaKind",
    "Model",
    "Request",
    "Results",
    "State",
    "Task",
    "TaskStatus",
]


class State(enum.Enum):
    """The closed set of task states every family's vocabulary maps onto."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (State.SUCCEEDED, State.FAILED)


class MediaKind(enum.Enum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    TEXT = "text"
    OTHER = "other"

    @classmethod
    def of_media_type(cls, media_type: str | None) -> MediaKind:
        """The kind a file's media type names (``image/png`` → IMAGE); OTHER when unknown."""
        head = (media_type or "").partition("/")[0]
        return {"image": cls.IMAGE, "video": cls.VIDEO, "audio": cls.AUDIO, "text": cls.TEXT}.get(
            head, cls.OTHER
        )


@frozen
class Request:
    """One HTTP call described without doing it: a provider builds it, a client sends it."""

    method: str
    path: str
    query: Mapping[str, str] = field(factory=dict)
    body: Mapping[str, Any] | None = None
    # A create that builds on an earlier task (an extend, a 4K): that task's id, which a
    # refusal names (KieError.parent_task_id); the clients fill it (Provider.parent_task_id)
    parent_task_id: str | None = field(default=None, kw_only=True)
    # A create KIE answers with one task however often it is asked, making nothing the second
    # time (Veo's 1080P is its video's, ``<video>-1080p``: kie-api.md §3.3): the journal then
    # looks for a row holding that task, and links a second ask's row to it (Journal.created)
    same_task_again: bool = field(default=False, kw_only=True)


@frozen
class Model:
    """A KIE model id a provider owns, the attrs class of its input, and what it produces.

    ``id`` may be a pattern (``*`` matches anything): the provider then serves every model id the
    pattern matches, and ``output`` None means "tell by each result file's media type".
    """

    id: str
    input: type
    output: MediaKind | None


@frozen
class Task:
    """A created task: what you need to ask about it again, even from another process.

    ``created_at`` is the client's monotonic clock when ``submit`` got the id (None for a task
    rebuilt from its id): it lets ``wait`` hold the first poll until a task could be done.
    """

    id: str
    model: str
    created_at: float | None = attrs.field(default=None, eq=False, repr=False)


class AssetRole(enum.Enum):
    """What a result file is to its task. ``MAIN``: what the model makes, of the model's
    kind. ``EXTRA``: a file KIE hands out beside it (a video's cover still, Flux's original,
    a Suno track's cover art), downloaded with the rest but never the answer to "what did the
    model make"."""

    MAIN = "main"
    EXTRA = "extra"


@frozen
class Asset:
    """One result file. ``label`` tells apart several files of one task (e.g. Flux's
    ``origin`` and ``result`` images) and ends its downloaded name; ``role`` says whether it is
    what the model makes or an extra; ``media_type`` is guessed from the URL when KIE is silent."""

    url: str
    kind: MediaKind
    media_type: str | None = None
    label: str | None = None
    role: AssetRole = AssetRole.MAIN


@frozen
class Results:
    """What a succeeded task produced: files to fetch (``assets``: every file KIE's answer
    names, each with its role, the model's own or an extra such as a cover still) and, for
    models whose output is not a file (text, an id), the ``value`` KIE returned.

    ``file_stem`` is what the downloaded files are named after when it is not the task id
    (``<file_stem>[-<label>]-<index><ext>``): a follow-up's files show the task they come from
    (Veo's 4K of video V is ``V-4k-0.mp4``, however it was asked for). The journal and the
    log still know them by ``task_id``.

    ``partial``: these are the files a task still running (or failed) had ready
    (:attr:`TaskStatus.ready`), not all it makes: downloading them records the files written
    but leaves the task owed, so a later wait or ``kie resume`` fetches the rest."""

    task_id: str
    assets: tuple[Asset, ...]
    raw: Any = field(default=None, eq=False, repr=False)
    value: Any = None
    file_stem: str | None = None
    partial: bool = field(default=False, kw_only=True)

    @property
    def main(self) -> tuple[Asset, ...]:
        """The files the model made (``AssetRole.MAIN``), in KIE's order."""
        return tuple(a for a in self.assets if a.role is AssetRole.MAIN)

    @property
    def extras(self) -> tuple[Asset, ...]:
        """The files KIE hands out beside them (``AssetRole.EXTRA``): covers, originals."""
        return tuple(a for a in self.assets if a.role is AssetRole.EXTRA)


@frozen
class TaskStatus:
    """Where a task stands. ``progress`` is 0.0–1.0 where the family reports it, else None.

    ``raw`` keeps KIE's own payload (the envelope's ``data``) for whatever the typed view omits.

    ``stage``: the family's word for how far a running task has come, where it reports stages
    (Suno's "lyrics written", "first track ready"), else None. ``ready``: the files a task
    that has not succeeded already made and charged for (a Suno song's first track at
    FIRST_SUCCESS, kie-api.md §3.6), as :class:`Results` marked ``partial``; None for every
    other task and family. A succeeded task's files are its results, not these.
    ``fail_status``: a failed task's status word where the family's record has one beside its
    code (Suno's ``SENSITIVE_WORD_ERROR``: content KIE refuses), else None.
    """

    task_id: str
    state: State
    progress: float | None = None
    fail_code: str | None = None
    fail_message: str | None = None
    raw: Any = field(default=None, eq=False, repr=False)
    stage: str | None = field(default=None, kw_only=True)
    fail_status: str | None = field(default=None, kw_only=True)
    ready: Results | None = field(default=None, kw_only=True, eq=False, repr=False)

    @classmethod
    def of(
        cls,
        task_id: str,
        state: State,
        *,
        progress: float | None = None,
        fail_code: str | None = None,
        fail_message: str | None = None,
        raw: Any = None,
        stage: str | None = None,
        fail_status: str | None = None,
        ready: Results | None = None,
    ) -> TaskStatus:
        """The status as every family reports it: progress clamped to 0–1 (1 once succeeded),
        fail details kept only for a failed task (KIE leaves stale or empty ones elsewhere);
        ``stage`` and ``ready`` only for a task that has not succeeded, ``ready`` only when
        it names a file (marked ``partial``)."""
        if state is State.SUCCEEDED:
            progress = 1.0
        elif progress is not None:
            progress = min(max(progress, 0.0), 1.0) if math.isfinite(progress) else None
        failed = state is State.FAILED
        return cls(
            task_id=task_id,
            state=state,
            progress=progress,
            fail_code=(fail_code or None) if failed else None,
            fail_message=(fail_message or None) if failed else None,
            raw=raw,
            stage=None if state is State.SUCCEEDED else stage,
            fail_status=(fail_status or None) if failed else None,
            ready=(
                attrs.evolve(ready, partial=True)
                if ready is not None and ready.assets and state is not State.SUCCEEDED
                else None
            ),
        )
