"""A recorded KIE session to play back, and the player that hands out its answers.

A scenario is what `har.parse_har` keeps of a recording: per created task, the create answer
and the status answers in the order they were seen, and the result files the answers link to.
It holds no request headers at all, so no API key survives into it. Pure data and a lock; the
HTTP side (matching requests, rewriting links) is in har.py.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT = "kiekit-mock-scenario/1"


# a file's media type (ASCII, so the OpenAPI document's pattern means the same everywhere)
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9_.+-]+/[A-Za-z0-9_.+-]+$"
MEDIA_TYPE = re.compile(MEDIA_TYPE_PATTERN)


def _text(value: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    """A string member of a scenario's JSON (None allowed when optional); ValueError naming it."""
    found = value.get(name)
    if (found is None and optional) or isinstance(found, str):
        return found
    raise ValueError(f"{name} must be a string{' or null' if optional else ''}")


def _object(value: Mapping[str, Any], name: str) -> dict[str, Any]:
    found = value.get(name)
    if not isinstance(found, dict):
        raise ValueError(f"{name} must be an object")
    return found


@dataclass(frozen=True)
class RecordedTask:
    task_id: str
    create_path: str  # e.g. /api/v1/jobs/createTask
    model: str | None  # the create body's `model`; None when it had none
    create_answer: dict[str, Any]  # the whole envelope, as recorded
    status_path: str | None  # where the task was polled (None: never polled in the recording)
    answers: tuple[dict[str, Any], ...]  # every status envelope, in recorded order

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "createPath": self.create_path,
            "model": self.model,
            "createAnswer": self.create_answer,
            "statusPath": self.status_path,
            "answers": list(self.answers),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RecordedTask:
        answers = value.get("answers")
        answers = [] if answers is None else answers  # null: left out, as the document says
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise ValueError("tasks[].answers must be a list of objects")
        return cls(
            task_id=_text(value, "taskId"),
            create_path=_text(value, "createPath"),
            model=_text(value, "model", optional=True),
            create_answer=_object(value, "createAnswer"),
            status_path=_text(value, "statusPath", optional=True),
            answers=tuple(answers),
        )


@dataclass(frozen=True)
class RecordedFile:
    name: str  # served as /_mock/har-files/<name>
    url: str  # the link in the recorded answers
    content_type: str
    body: bytes | None  # the recorded bytes; None: the recording did not hold them

    def to_json(self) -> dict[str, Any]:
        data = None if self.body is None else base64.b64encode(self.body).decode()
        return {
            "name": self.name,
            "url": self.url,
            "contentType": self.content_type,
            "base64": data,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RecordedFile:
        raw = _text(value, "base64", optional=True)
        content_type = _text(value, "contentType")
        if not MEDIA_TYPE.fullmatch(content_type):
            raise ValueError(f"files[].contentType is not a media type: {content_type!r}")
        return cls(
            name=_text(value, "name"),
            url=_text(value, "url"),
            content_type=content_type,
            body=None if raw is None else base64.b64decode(raw, validate=True),
        )


@dataclass(frozen=True)
class Scenario:
    tasks: tuple[RecordedTask, ...]
    files: tuple[RecordedFile, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tasks": [t.to_json() for t in self.tasks],
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Scenario:
        if value.get("format") != FORMAT:
            raise ValueError(f"not a scenario: 'format' must be {FORMAT!r}")
        # null counts as left out, as everywhere in the control API's document
        tasks, files = value.get("tasks"), value.get("files")
        tasks, files = [] if tasks is None else tasks, [] if files is None else files
        if not isinstance(tasks, list) or not all(isinstance(t, Mapping) for t in tasks):
            raise ValueError("tasks must be a list of objects")
        if not isinstance(files, list) or not all(isinstance(f, Mapping) for f in files):
            raise ValueError("files must be a list of objects")
        return cls(
            tasks=tuple(RecordedTask.from_json(t) for t in tasks),
            files=tuple(RecordedFile.from_json(f) for f in files),
        )

    def summary(self) -> dict[str, Any]:
        """What a load reports: the tasks that will be replayed and how many files."""
        tasks = [
            {
                "taskId": t.task_id,
                "createPath": t.create_path,
                "model": t.model,
                "statusPath": t.status_path,
                "answers": len(t.answers),
            }
            for t in self.tasks
        ]
        return {"tasks": tasks, "files": len(self.files)}


@dataclass
class _Playing:
    task: RecordedTask
    claimed: bool = False
    polls: int = 0


@dataclass
class ScenarioPlayer:
    """The loaded scenarios of one mock. Thread-safe (tests load while the server answers).

    A create claims the first unclaimed recorded task with the same path and model; a status
    query of a claimed task on its recorded path gets the next recorded answer, the last one
    repeating. Tasks never claimed, and everything else, are left to the emulation."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _tasks: list[_Playing] = field(default_factory=list)
    _files: dict[str, RecordedFile] = field(default_factory=dict)

    def load(self, scenario: Scenario) -> None:
        with self._lock:
            self._tasks += [_Playing(task) for task in scenario.tasks]
            self._files |= {f.name: f for f in scenario.files}

    def clear(self) -> int:
        with self._lock:
            count = len(self._tasks)
            self._tasks.clear()
            self._files.clear()
            return count

    @property
    def active(self) -> bool:
        return bool(self._tasks)  # a list's truth is read atomically

    def claim(self, path: str, model: str | None) -> RecordedTask | None:
        with self._lock:
            for playing in self._tasks:
                task = playing.task
                if not playing.claimed and task.create_path == path and task.model == model:
                    playing.claimed = True
                    return task
            return None

    def poll(self, path: str, task_id: str) -> dict[str, Any] | None:
        with self._lock:
            for playing in self._tasks:
                task = playing.task
                if playing.claimed and task.task_id == task_id and task.status_path == path:
                    if not task.answers:
                        return None
                    answer = task.answers[min(playing.polls, len(task.answers) - 1)]
                    playing.polls += 1
                    return answer
            return None

    def files(self) -> list[RecordedFile]:
        with self._lock:
            return list(self._files.values())

    def file(self, name: str) -> RecordedFile | None:
        with self._lock:
            return self._files.get(name)
