"""A recorded KIE session to play back, and the player that hands out its answers.

A scenario is what `har.parse_har` keeps of a recording: per created task, the create answer,
the status answers in the order they were seen, the answers to other calls that named the task
(follow-ups: Veo's 1080p video, 4o's download-url…), and the result files the answers link to.
It holds no request headers at all, so no API key survives into it. Pure data and a lock; the
HTTP side (matching requests, rewriting links, handing a task to the emulation) is in har.py.
A link in the answers that is neither among the files nor plainly loopback (a scenario written
by hand) gets a stand-in file when loaded, so the replay never sends a client to another host
(replay_links.py).
"""

from __future__ import annotations

import base64
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .replay_links import is_loopback_link, links_in, stand_in_name, stand_in_type

FORMAT = "kiekit-mock-scenario/1"


# a file's media type (ASCII, so the OpenAPI document's pattern means the same everywhere)
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9_.+-]+/[A-Za-z0-9_.+-]+$"
MEDIA_TYPE = re.compile(MEDIA_TYPE_PATTERN)


# Every ValueError below names the member from the file's top, as `--rules` does
# (`tasks[1].answers[1]: must be an object`): a committed scenario is edited by hand.


def _text(value: Mapping[str, Any], name: str, where: str, *, optional: bool = False) -> Any:
    """A string member of a scenario's JSON (None allowed when optional); ValueError naming it."""
    found = value.get(name)
    if (found is None and optional) or isinstance(found, str):
        return found
    raise ValueError(f"{where}.{name}: must be a string{' or null' if optional else ''}")


def _object(value: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    found = value.get(name)
    if not isinstance(found, dict):
        raise ValueError(f"{where}.{name}: must be an object")
    return found


def _objects(found: object, where: str) -> list[dict[str, Any]]:
    """A list of objects (null: left out, as the document says); ValueError naming the member,
    or the first item that is no object."""
    found = [] if found is None else found
    if not isinstance(found, list):
        raise ValueError(f"{where}: must be a list of objects")
    for index, item in enumerate(found):
        if not isinstance(item, dict):
            raise ValueError(f"{where}[{index}]: must be an object")
    return found


# How an extension family's recorded status record (an answer's `data`) reads: the mock's
# state word for it ("waiting", "queuing", "generating", "success", "fail"), None for a word
# the family does not know, taken as final and no success (FamilyExtension.read_state)
StateReader = Callable[[Mapping[str, Any]], str | None]
_STAGES = ("waiting", "queuing", "generating")  # the stage the mock's store counts, in order

# The pending states of every built-in family's status answer, as the stage the mock's store
# counts (0 waiting, 1 queuing, 2 generating): market `state` (kie-api.md §2.2), Runway's own
# words (§3.4), Suno's `status` (§3.6). Any other `state` or `status` word is final.
_PENDING_WORDS = {
    "waiting": 0,
    "wait": 0,
    "queuing": 1,
    "queueing": 1,
    "generating": 2,
    "PENDING": 0,
    "TEXT_SUCCESS": 1,
    "FIRST_SUCCESS": 2,
}


KIE_API_HOST = "api.kie.ai"  # KIE's one API host (kie-api.md §1); uploads have their own

# The create body's member naming what a create makes, where it is not `model`: Midjourney's
# `taskType` (kie-api.md §3.7). Runway, Luma and 4o name none (§3.1, §3.4, §3.5): the path is
# the job, and their recordings are matched by path alone.
_MODEL_FIELDS = {"/api/v1/mj/generate": "taskType"}


def model_word(path: str, record: Mapping[str, Any]) -> str | None:
    """The model a create on ``path`` names in ``record`` (its body, or a status answer's
    `data`, which repeats it: market `model` §2.2, Midjourney `taskType` §3.7); None if none."""
    value = record.get(_MODEL_FIELDS.get(path, "model"))
    return value if isinstance(value, str) and value else None


def recorded_stage(answer: Mapping[str, Any], read: StateReader | None = None) -> int | None:
    """The pending stage a recorded status answer shows (0..2), or None when it is final.

    An answer that is no record at all (KIE's "not found" while a task is new, a rate limit,
    Suno's `data: null`) shows no end: stage 0. An extension family's record is read by its
    own ``read``. `successFlag` families (Veo, Flux, 4o, Luma, Midjourney, Aleph; §3.1-§3.7)
    are pending at flag 0 unless an error message says it failed (Aleph keeps 0 on failure);
    4o's `progress` ("0.00"-"1.00") tells how far. An answer in a vocabulary none of these is
    taken as final, as before: its last answer repeats."""
    data = answer.get("data")
    if answer.get("code") != 200 or not isinstance(data, Mapping):
        return 0
    if read is not None:
        state = read(data)
        return _STAGES.index(state) if state in _STAGES else None
    flag = data.get("successFlag")
    if isinstance(flag, int) and not isinstance(flag, bool):
        if flag != 0 or data.get("errorMessage"):
            return None
        try:
            progress = float(data.get("progress") or 0)
        except (TypeError, ValueError):
            progress = 0.0
        return max(0, min(2, int(progress * 3)))
    for name in ("state", "status"):
        word = data.get(name)
        if isinstance(word, str):
            return _PENDING_WORDS.get(word)
    return None


def recorded_success(answer: Mapping[str, Any], read: StateReader | None = None) -> bool:
    """Whether a final recorded status answer is a success: what an extension family's own
    ``read`` says; market and Runway ``state`` "success", Suno's and 4o's ``status``
    "SUCCESS", ``successFlag`` 1 (or Luma's 4, a success whose callback failed, §3.5);
    anything else final (``fail``, flags 2/3, Suno's failure words, an error message) is a
    failure."""
    data = answer.get("data")
    if not isinstance(data, Mapping):
        return False
    if read is not None:
        return read(data) == "success"
    flag = data.get("successFlag")
    if isinstance(flag, int) and not isinstance(flag, bool):
        return flag in (1, 4) and not data.get("errorMessage")
    return data.get("state") == "success" or data.get("status") == "SUCCESS"


@dataclass(frozen=True)
class RecordedCall:
    """A recorded answer to another call that named a recorded task (not its create, not its
    status query): Veo's get-1080p-video, 4o's download-url, …"""

    method: str
    path: str
    answer: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "answer": self.answer}

    @classmethod
    def from_json(cls, value: Mapping[str, Any], where: str = "call") -> RecordedCall:
        return cls(
            method=_text(value, "method", where).upper(),
            path=_text(value, "path", where),
            answer=_object(value, "answer", where),
        )


@dataclass(frozen=True)
class RecordedTask:
    task_id: str
    create_path: str  # e.g. /api/v1/jobs/createTask
    model: str | None  # the create's model word (model_word: MJ's taskType); None: it named none
    create_answer: dict[str, Any]  # the whole envelope, as recorded
    status_path: str | None  # where the task was polled (None: never polled in the recording)
    answers: tuple[dict[str, Any], ...]  # every status envelope, in recorded order
    follow_ups: tuple[RecordedCall, ...] = ()  # other calls that named the task, in order
    host: str | None = None  # the host its create was sent to (None: not known)

    def pending_stage(self, read: StateReader | None = None) -> int | None:
        """The stage the recording leaves the task in when it ends before a final state (no
        status answer at all: 0); None when its last answer is final (``read``: how its
        family's answers read, when it is an extension's)."""
        return recorded_stage(self.answers[-1], read) if self.answers else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "createPath": self.create_path,
            "host": self.host,
            "model": self.model,
            "createAnswer": self.create_answer,
            "statusPath": self.status_path,
            "answers": list(self.answers),
            "followUps": [call.to_json() for call in self.follow_ups],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any], where: str = "task") -> RecordedTask:
        calls = _objects(value.get("followUps"), f"{where}.followUps")
        return cls(
            task_id=_text(value, "taskId", where),
            create_path=_text(value, "createPath", where),
            model=_text(value, "model", where, optional=True),
            create_answer=_object(value, "createAnswer", where),
            status_path=_text(value, "statusPath", where, optional=True),
            answers=tuple(_objects(value.get("answers"), f"{where}.answers")),
            follow_ups=tuple(
                RecordedCall.from_json(call, f"{where}.followUps[{index}]")
                for index, call in enumerate(calls)
            ),
            host=_text(value, "host", where, optional=True),
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
    def from_json(cls, value: Mapping[str, Any], where: str = "file") -> RecordedFile:
        raw = _text(value, "base64", where, optional=True)
        content_type = _text(value, "contentType", where)
        if not MEDIA_TYPE.fullmatch(content_type):
            raise ValueError(f"{where}.contentType: not a media type: {content_type!r}")
        try:
            body = None if raw is None else base64.b64decode(raw, validate=True)
        except ValueError as exc:  # binascii.Error
            raise ValueError(f"{where}.base64: bad base64 ({exc})") from None
        return cls(
            name=_text(value, "name", where),
            url=_text(value, "url", where),
            content_type=content_type,
            body=body,
        )


@dataclass(frozen=True)
class Skipped:
    """A HAR entry of the API that could not be read, so nothing of it is replayed."""

    index: int  # its place in log.entries
    method: str
    path: str
    reason: str
    host: str | None = None  # the host it was sent to: another service's entry reads as one

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        where = self.path if self.host is None else f"{self.host}{self.path}"
        return f"log.entries[{self.index}] {self.method} {where}: {self.reason}"


@dataclass(frozen=True)
class Scenario:
    """Tasks and files recorded from KIE (a HAR file or a scenario file), for replay."""

    tasks: tuple[RecordedTask, ...]
    files: tuple[RecordedFile, ...] = ()
    # what parse_har could not read: told when loading, not part of a scenario file
    skipped: tuple[Skipped, ...] = field(default=(), compare=False)
    # other things parse_har tells of when loading (entries replayed in the file's order)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        """The scenario as a scenario file holds it."""
        return {
            "format": FORMAT,
            "tasks": [t.to_json() for t in self.tasks],
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Scenario:
        """The scenario a scenario file holds; ValueError naming what is wrong."""
        if value.get("format") != FORMAT:
            raise ValueError(f"not a scenario: 'format' must be {FORMAT!r}")
        # null counts as left out, as everywhere in the control API's document
        tasks, files = _objects(value.get("tasks"), "tasks"), _objects(value.get("files"), "files")
        scenario = cls(
            tasks=tuple(RecordedTask.from_json(t, f"tasks[{i}]") for i, t in enumerate(tasks)),
            files=tuple(RecordedFile.from_json(f, f"files[{i}]") for i, f in enumerate(files)),
        )
        scenario.unlisted()  # a ValueError naming the answer nested too deep to be read
        return scenario

    def unlisted(self) -> list[tuple[str, str]]:
        """``(where, link)`` for every link in the answers that is neither among ``files`` nor
        plainly loopback, first place first: each is served from a stand-in file. ValueError
        naming the answer whose JSON is nested too deep to be read."""
        listed = {file.url for file in self.files}
        found: dict[str, str] = {}
        for index, task in enumerate(self.tasks):
            where = f"tasks[{index}]"
            answers = [
                (f"{where}.createAnswer", task.create_answer),
                *((f"{where}.answers[{i}]", a) for i, a in enumerate(task.answers)),
                *(
                    (f"{where}.followUps[{i}].answer", c.answer)
                    for i, c in enumerate(task.follow_ups)
                ),
            ]
            for place, answer in answers:
                try:
                    links = list(links_in(answer))
                except ValueError as exc:
                    raise ValueError(f"{place}: {exc}") from None
                for url in links:
                    if url not in listed and not is_loopback_link(url):
                        found.setdefault(url, place)
        return [(place, url) for url, place in found.items()]

    def stand_ins(self) -> tuple[RecordedFile, ...]:
        """A file for each link :meth:`unlisted` finds (a small real file of its type, har.py
        ``_stand_in``), named by ``stand_in_name``: what the replay serves in its place."""
        return tuple(
            RecordedFile(stand_in_name(url), url, stand_in_type(url), None)
            for _, url in self.unlisted()
        )

    def summary(self) -> dict[str, Any]:
        """What a load reports: the tasks that will be replayed, how many files, and the HAR
        entries that could not be read."""
        tasks = [
            {
                "taskId": t.task_id,
                "createPath": t.create_path,
                "host": t.host,
                "model": t.model,
                "statusPath": t.status_path,
                "answers": len(t.answers),
                "followUps": len(t.follow_ups),
            }
            for t in self.tasks
        ]
        skipped = [entry.to_json() for entry in self.skipped]
        return {"tasks": tasks, "files": len(self.files), "skipped": skipped}

    def main_host(self) -> str | None:
        """The host most tasks were sent to (KIE's on a tie); None when none is known."""
        hosts = Counter(t.host for t in self.tasks if t.host is not None)
        if not hosts:
            return None
        most = max(hosts.values())
        return KIE_API_HOST if hosts.get(KIE_API_HOST) == most else hosts.most_common(1)[0][0]

    def warnings(self) -> list[str]:
        """What a user loading this should be told: entries skipped, tasks sent to another host
        than most were (a HAR of several services, or of a proxy as well as KIE), every task
        sent to one host that is not KIE's (taken for KIE's all the same), and a recording with
        nothing to replay."""
        lines = [*self.notes, *(f"skipped {entry}" for entry in self.skipped)]
        hosts = Counter(t.host for t in self.tasks if t.host is not None)
        if len(hosts) == 1 and (only := next(iter(hosts))) != KIE_API_HOST:
            lines.append(
                f"every task was recorded on {only}, not on KIE's {KIE_API_HOST} (a proxy, a "
                f"mock?): {only}'s answers are replayed as KIE's"
            )
        if len(hosts) > 1:
            main = self.main_host()
            lines += [
                f"task {t.task_id} ({t.create_path}) was sent to {t.host}, most to {main}: "
                f"replayed only once {main}'s recordings of its path and model are used"
                for t in self.tasks
                if t.host not in (None, main)
            ]
        if not self.tasks:
            lines.append("no task to replay: every request will be emulated")
        unlisted = self.unlisted()
        if unlisted:
            place, url = unlisted[0]
            more = f" and {len(unlisted) - 1} more" if len(unlisted) > 1 else ""
            lines.append(
                f"{place}: {url} is not among the files{more}: served from the mock instead "
                "(a replay never sends a client to another host)"
            )
        return lines


@dataclass
class _Playing:
    task: RecordedTask
    claimed: bool = False
    polls: int = 0
    emulated: bool = False  # the emulation holds a task under its id, to go on past the recording
    shadowed: bool = False  # the emulation holds a task under its id for the calls not recorded
    handed_over: bool = False  # its status queries go to the emulation now
    follow_ups: Counter[tuple[str, str]] = field(default_factory=Counter)  # answered, per call
    # sent to another host than most of its recording's (another service's API mixed into
    # the HAR): claimed only after the main host's tasks of the same path and model
    aside: bool = False
    account: str | None = None  # the account whose create claimed it: only its calls replay


@dataclass(frozen=True)
class Handover:
    """A status query the recording has no more answers to: the emulation answers it."""

    stage: int  # the pending stage the recording ended on (0 waiting, 1 queuing, 2 generating)
    first: bool  # the first such query (the emulated task is moved on to `stage` now)


@dataclass(frozen=True)
class Replaying:
    """A claimed task's replay so far (the inspector shows what its client was answered)."""

    task: RecordedTask
    polls: int  # status queries the recording answered
    emulated: bool  # the recording ends before the task: the emulation goes on after it
    handed_over: bool  # the emulation answers its status queries now
    served: tuple[dict[str, Any], ...]  # the recorded status answers given so far


@dataclass
class ScenarioPlayer:
    """The loaded scenarios of one mock. Thread-safe (tests load while the server answers).

    A create claims the first unclaimed recorded task with the same path and model (one sent
    to its recording's main host first); a status
    query of a claimed task on its recorded path gets the next recorded answer. The last one
    repeats when it is final; when the recording ends before a final state, the task is handed
    to the emulation (har.py made it a task of the store under the recorded id at its create).
    Tasks never claimed, and everything else, are left to the emulation."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _tasks: list[_Playing] = field(default_factory=list)
    _files: dict[str, RecordedFile] = field(default_factory=dict)
    _readers: dict[str, StateReader] = field(default_factory=dict)  # by path (read_families)

    def read_families(self, readers: Mapping[str, StateReader]) -> None:
        """How extension families' status answers read, by each path of theirs (the mock sets
        them as it starts); the built-in families' words are known without."""
        self._readers = dict(readers)  # replaced whole: readers see the old or the new

    def reader(self, path: str | None) -> StateReader | None:
        """How a recorded answer on ``path`` (a task's create or status path) reads: an
        extension family's own reader, or None for the built-in words."""
        return None if path is None else self._readers.get(path)

    def stage(self, answer: Mapping[str, Any], path: str | None) -> int | None:
        """:func:`recorded_stage` of an answer recorded on ``path``."""
        return recorded_stage(answer, self.reader(path))

    def succeeded(self, answer: Mapping[str, Any], path: str | None) -> bool:
        """:func:`recorded_success` of a final answer recorded on ``path``."""
        return recorded_success(answer, self.reader(path))

    def pending_stage(self, task: RecordedTask) -> int | None:
        """:meth:`RecordedTask.pending_stage`, read as the task's family reads."""
        return task.pending_stage(self.reader(task.create_path))

    def load(self, scenario: Scenario) -> None:
        stand_ins = scenario.stand_ins()  # outside the lock: it reads every answer
        main = scenario.main_host()
        playing = [_Playing(t, aside=t.host not in (None, main)) for t in scenario.tasks]
        with self._lock:
            self._tasks += playing
            self._files |= {f.name: f for f in (*scenario.files, *stand_ins)}

    def clear(self) -> int:
        with self._lock:
            count = len(self._tasks)
            self._tasks.clear()
            self._files.clear()
            return count

    def rewind(self) -> None:
        """Every loaded recording back to its start (the mock's reset): each task can be
        claimed again and replays from its first answer."""
        with self._lock:
            self._tasks = [_Playing(p.task, aside=p.aside) for p in self._tasks]

    @property
    def active(self) -> bool:
        return bool(self._tasks)  # a list's truth is read atomically

    def claim(
        self,
        path: str,
        model: str | None,
        account: str | None = None,
        held: Callable[[str], bool] = lambda task_id: False,
    ) -> RecordedTask | None:
        """The first unclaimed task recorded with this path and model, a task of its
        recording's main host first (_Playing.aside), now claimed for ``account``; None when
        none is left. A recorded id still in use is never handed out again: not one another
        claimed task of a recording has (the same HAR loaded twice), nor one ``held`` says a
        live task of the mock holds (a recording loaded again after DELETE /_mock/scenarios).
        Its create is then emulated, with a fresh id: two creates never share a task."""
        with self._lock:
            taken = {p.task.task_id for p in self._tasks if p.claimed}
            found = [
                p
                for p in self._tasks
                if not p.claimed and p.task.create_path == path and p.task.model == model
            ]
            free = [p for p in found if p.task.task_id not in taken and not held(p.task.task_id)]
            if not free:
                return None
            playing = min(free, key=lambda p: p.aside)  # min keeps the first of equals
            playing.claimed = True
            playing.account = account
            return playing.task

    def unclaim(self, task: RecordedTask) -> None:
        """Give a claimed task back: the emulation refused its create (har.py), so the next
        create of its path and model claims it."""
        with self._lock:
            for playing in self._tasks:
                if playing.task is task:
                    playing.claimed = False
                    return

    def emulated(self, task: RecordedTask) -> None:
        """The emulation now holds a task under the claimed `task`'s id."""
        with self._lock:
            for playing in self._tasks:
                if playing.task is task and playing.claimed:
                    playing.emulated = True
                    return

    def shadowed(self, task: RecordedTask) -> None:
        """The emulation now holds a task under the claimed `task`'s id, which its recording
        follows to its end (har.py `_shadow`)."""
        with self._lock:
            for playing in self._tasks:
                if playing.task is task and playing.claimed:
                    playing.shadowed = True
                    return

    def shadows(self) -> list[RecordedTask]:
        """The claimed tasks the emulation holds beside a recording that runs to their end."""
        with self._lock:
            return [playing.task for playing in self._tasks if playing.shadowed]

    def replaying(self, task_id: str) -> Replaying | None:
        """How far the replay of a claimed task has gone (None: no claimed task has that id)."""
        with self._lock:
            for playing in self._tasks:
                task = playing.task
                if playing.claimed and task.task_id == task_id:
                    served = task.answers[: min(playing.polls, len(task.answers))]
                    return Replaying(
                        task, playing.polls, playing.emulated, playing.handed_over, served
                    )
            return None

    def poll(
        self, path: str, task_id: str, *, moved: bool = False, account: str | None = None
    ) -> dict[str, Any] | Handover | None:
        """The next recorded status answer of a claimed task; a Handover once an emulated task's
        recording has run out, or at once when the control API `moved` its emulated task on;
        None when the recording does not cover this query, or when another ``account`` than
        the one that created it asks (the emulation answers it as any other account's task:
        not found, and the recording's answers are left for their owner)."""
        with self._lock:
            for playing in self._tasks:
                task = playing.task
                if not playing.claimed or task.task_id != task_id:
                    continue
                if account is not None and playing.account not in (None, account):
                    return None
                if task.status_path not in (None, path):
                    return None
                if playing.emulated and (
                    playing.handed_over or moved or playing.polls >= len(task.answers)
                ):
                    first = not playing.handed_over and not moved
                    playing.handed_over = True
                    return Handover(self.pending_stage(task) or 0, first)
                if not task.answers:
                    return None
                answer = task.answers[min(playing.polls, len(task.answers) - 1)]
                playing.polls += 1
                return answer
            return None

    def follow_up(
        self, method: str, path: str, task_id: str, account: str | None = None
    ) -> dict[str, Any] | None:
        """The next recorded answer to another call naming a claimed task (the last repeats);
        None for another ``account`` than its creator's (as poll)."""
        with self._lock:
            for playing in self._tasks:
                if not playing.claimed or playing.task.task_id != task_id:
                    continue
                if account is not None and playing.account not in (None, account):
                    return None
                calls = [c for c in playing.task.follow_ups if (c.method, c.path) == (method, path)]
                if not calls:
                    return None
                seen = playing.follow_ups[method, path]
                playing.follow_ups[method, path] += 1
                return calls[min(seen, len(calls) - 1)].answer
            return None

    def files(self) -> list[RecordedFile]:
        with self._lock:
            return list(self._files.values())

    def file(self, name: str) -> RecordedFile | None:
        with self._lock:
            return self._files.get(name)
