"""Replaying a recorded KIE session: a HAR file becomes a scenario the mock plays back per task.

HAR (HTTP Archive 1.2) is what browsers' dev tools, Polly.js, mitmproxy and Playwright record.
`parse_har` finds every create call (a POST whose answer carried `data.taskId`), the status
answers of that task id in recorded order (GETs with `?taskId=`), and the result links those
answers hold that the client did not send itself. No request header is kept: the recorded
`Authorization` never reaches the scenario.

On replay (the `replay` middleware, after the Bearer check), a create with the recorded path and
model (`scenario.model_word`: MJ's `taskType`) answers the recorded envelope, task id included,
unless the emulation refuses it, whose answer it then is (_twin); each poll of that task on its
recorded path answers the next recorded status answer, the last one repeating. The emulation
holds a twin of every replayed task under its id, to go on past a recording cut short and to
answer the calls the recording never made.
Links to result files point at `/_mock/har-files/<name>`: the recorded bytes when the HAR held
them, else a small real file of the same type. Anything the scenario does not cover is
emulated as usual.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from . import files, media
from .config import account_id
from .envelope import ENVELOPE, dumps, loads, ok
from .families import CALLBACK_PAYLOADS
from .ranges import ranged
from .replay_links import is_loopback_link, links_in, rewrite_links, stand_in_name
from .route_helpers import Handler, bearer_key, origin_of, parse_json_object
from .rules import Lifecycle
from .runtime import RUNTIME, CallbackPayload, Runtime
from .scenario import (
    FORMAT,
    MEDIA_TYPE,
    Handover,
    RecordedCall,
    RecordedFile,
    RecordedTask,
    Scenario,
    Skipped,
    model_word,
)
from .state import Transition

log = logging.getLogger("kiekit_mock")

ROUTES = web.RouteTableDef()
FILES_PREFIX = files.HAR_FILES_PREFIX
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
_TASK_ID_PARAMS = ("taskId", "task_id")
DOWNLOAD_URL = "/api/v1/common/download-url"  # kie-api.md §4


# --- reading a HAR ----------------------------------------------------------------------------


class _Unreadable(Exception):
    """Why an entry's answer cannot be read (the entry is skipped, and said so)."""


def _content_bytes(content: Mapping[str, Any], where: str) -> bytes | None:
    """The recorded body's bytes; None when none was recorded. ValueError naming `where` for
    base64 that is not base64, _Unreadable for a `text` that is not a string."""
    text = content.get("text")
    if text is None:
        return None
    if not isinstance(text, str):
        raise _Unreadable("response.content.text is not a string")
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text)
        except ValueError as exc:
            raise ValueError(f"{where}.response.content.text: bad base64: {exc}") from None
    return text.encode()


def _envelope(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The entry's answer when it is a KIE envelope (`code` + `msg`); _Unreadable saying why
    not."""
    raw = _content_bytes(_member(_member(entry, "response"), "content"), where)
    if raw is None:
        raise _Unreadable("no response body was recorded")
    if raw[:2] == b"\x1f\x8b":
        raise _Unreadable("the body is gzip-compressed (the recorder kept it undecoded)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unreadable("the body is not UTF-8 text") from None
    answer = parse_json_object(text.encode())
    if answer is None:
        raise _Unreadable("the body is not a JSON object")
    if not isinstance(answer.get("code"), int) or "msg" not in answer:
        raise _Unreadable("the body is not a KIE answer (no code and msg)")
    return answer


def _query(request: Mapping[str, Any]) -> dict[str, str]:
    pairs = dict(parse_qsl(urlsplit(str(request.get("url", ""))).query))
    items = request.get("queryString")
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping):
            continue
        pairs.setdefault(str(item.get("name")), str(item.get("value")))
    return pairs


def _member(value: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A HAR object's object member; anything else reads as empty (HAR writers differ)."""
    found = value.get(name)
    return found if isinstance(found, Mapping) else {}


def _entries(har: Mapping[str, Any]) -> tuple[list[tuple[int, Mapping[str, Any]]], str | None]:
    """The entries with their places in log.entries, in recorded order; and a note when that
    order is the file's because some entries' startedDateTime is missing or unreadable (none
    having one, the file's order is meant: nothing to say)."""
    log = har.get("log")
    entries = log.get("entries") if isinstance(log, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("not a HAR file: log.entries must be a list of objects")
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ValueError(f"log.entries[{index}]: must be an object")
        _check_entry(entry, f"log.entries[{index}]")
    numbered = list(enumerate(entries))
    started = [_started(entry.get("startedDateTime")) for entry in entries]
    unread = [index for index, moment in enumerate(started) if moment is None]
    if len(unread) == len(entries):  # none has one (a HAR written by hand): the file's order
        return numbered, None
    if unread:
        first = ", ".join(f"log.entries[{index}]" for index in unread[:3])
        more = f" and {len(unread) - 3} more" if len(unread) > 3 else ""
        return numbered, (
            f"{first}{more}: no readable startedDateTime; every entry is replayed in the "
            "file's order"
        )
    # by the moment each began (HAR 1.2: ISO 8601 with any offset and fraction; text order
    # would put "…:09.5Z" before "…:09Z"), ties in the file's order
    return sorted(numbered, key=lambda e: (started[e[0]], e[0])), None


def _started(value: object) -> datetime | None:
    """A startedDateTime as a moment (no offset read as UTC), None when there is none."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_entry(entry: Mapping[str, Any], where: str) -> None:
    """What HAR 1.2 (and the OpenAPI document) require of an entry; other members may vary."""
    request, response = entry.get("request"), entry.get("response")
    if not isinstance(request, Mapping) or not isinstance(response, Mapping):
        raise ValueError(f"{where}: request and response must be objects")
    for name in ("method", "url"):
        if not isinstance(request.get(name), str):
            raise ValueError(f"{where}.request.{name} must be a string")
    try:
        urlsplit(request["url"])
    except ValueError as exc:  # "http://[::1": a truncated export
        raise ValueError(f"{where}.request.url: {exc}") from None
    status = response.get("status")
    if isinstance(status, bool) or not isinstance(status, int):
        raise ValueError(f"{where}.response.status must be an integer")
    for name, value in (("startedDateTime", entry.get("startedDateTime")),):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}.{name} must be a string")
    if response.get("content") is not None and not isinstance(response.get("content"), Mapping):
        raise ValueError(f"{where}.response.content must be an object")


def _created_id(answer: Mapping[str, Any] | None) -> str | None:
    data = None if answer is None else answer.get("data")
    task_id = data.get("taskId") if isinstance(data, dict) else None
    ok = answer is not None and answer.get("code") == 200
    return task_id if ok and isinstance(task_id, str) and task_id else None


def _named(values: Mapping[str, Any]) -> str | None:
    """The task id a request names (`taskId`, or `task_id` as some KIE routes spell it)."""
    found = next((values[k] for k in _TASK_ID_PARAMS if k in values), None)
    return found if isinstance(found, str) and found else None


def parse_har(har: Mapping[str, Any]) -> Scenario:
    """The tasks a HAR recording created, their status answers in order, the other calls that
    named them, their result files; and the API entries that could not be read."""
    creates: dict[str, dict[str, Any]] = {}
    sent: dict[str, dict[str, Any]] = {}  # task id -> the create body (its URLs are inputs)
    bodies: dict[str, tuple[str, bytes]] = {}  # URL -> (content type, bytes) of any GET
    skipped: list[Skipped] = []
    ordered, order_note = _entries(har)
    for index, entry in ordered:
        where = f"log.entries[{index}]"
        request, response = _member(entry, "request"), _member(entry, "response")
        method = str(request.get("method", "")).upper()
        url = str(request.get("url", ""))
        parts = urlsplit(url)
        path = parts.path
        try:
            answer: dict[str, Any] | None = _envelope(entry, where)
            why = ""
        except _Unreadable as exc:
            answer, why = None, str(exc)
        if answer is None:
            content = _member(response, "content")
            try:
                raw = _content_bytes(content, where)
            except _Unreadable:  # a malformed entry, whatever its path
                skipped.append(Skipped(index, method, path, why, parts.hostname))
                continue
            if method == "GET" and raw is not None and response.get("status") == 200:
                bodies[url] = (str(content.get("mimeType") or ""), raw)
            # KIE's API answers every call under /api/ with an envelope (kie-api.md §1); a file
            # or a page of another service is no entry to warn of
            if path.startswith("/api/") and method in ("GET", "POST"):
                skipped.append(Skipped(index, method, path, why, parts.hostname))
            continue
        text = str(_member(request, "postData").get("text") or "")
        parsed = parse_json_object(text.encode()) if method == "POST" else None
        body = parsed or {}
        task_id = _created_id(answer)
        if method == "POST" and task_id is not None and task_id not in creates:
            creates[task_id] = {
                "create_path": path,
                "host": parts.hostname,
                "model": model_word(path, body),
                "unsent": None if parsed is not None else where,  # no body was recorded
                "create_answer": answer,
                "status_path": None,
                "answers": [],
                "follow_ups": [],
            }
            sent[task_id] = body
            continue
        named = _named(_query(request)) if method == "GET" else _named(body)
        task = creates.get(named) if named is not None else None
        if task is None:
            continue
        if method == "GET" and task["status_path"] in (None, path):
            task["status_path"] = path
            task["answers"].append(answer)
        else:  # another call naming the task: Veo's 1080p video, 4o's download-url, …
            task["follow_ups"].append(RecordedCall(method, path, answer))
    notes = [] if order_note is None else [order_note]
    for t in creates.values():
        if t["model"] is None:
            t["model"] = _answered_model(t["create_path"], t["answers"])
        if t["model"] is None and t["unsent"] is not None:
            notes.append(
                f"{t['unsent']} POST {t['create_path']}: no request body was recorded and no "
                "status answer names its model: only a create naming no model replays it"
            )
    tasks = tuple(
        RecordedTask(
            task_id=task_id,
            create_path=t["create_path"],
            model=t["model"],
            create_answer=t["create_answer"],
            status_path=t["status_path"],
            answers=tuple(t["answers"]),
            follow_ups=tuple(t["follow_ups"]),
            host=t["host"],
        )
        for task_id, t in creates.items()
    )
    return Scenario(tasks, _result_files(tasks, sent, bodies), tuple(skipped), tuple(notes))


def _answered_model(path: str, answers: Iterable[Mapping[str, Any]]) -> str | None:
    """The model a task's status answers name — market `data.model` (§2.2), Midjourney
    `data.taskType` (§3.7), else the request they echo (`param`, `paramJson`: Veo's names its
    `model`, §3.3): what a create whose body was not recorded (Charles and Firefox drop a large
    one) asked for."""
    for answer in answers:
        data = answer.get("data")
        if not isinstance(data, Mapping):
            continue
        echoed = [data.get(name) for name in ("param", "paramJson")]
        requests = [parse_json_object(e.encode()) for e in echoed if isinstance(e, str)]
        for record in (data, *requests):
            found = None if record is None else model_word(path, record)
            if found is not None:
                return found
    return None


def _result_files(
    tasks: Iterable[RecordedTask],
    sent: Mapping[str, Mapping[str, Any]],
    bodies: Mapping[str, tuple[str, bytes]],
) -> tuple[RecordedFile, ...]:
    """Links in the answers: what the tasks produced, served from the mock on replay. A link
    the client sent itself (an input echoed in `param`) is left as it is only when it is a
    loopback URL: any other is served from the mock too (replay_links.py), for a result that
    repeats a link of the create body would otherwise send the client to that host."""
    files: dict[str, RecordedFile] = {}
    for task in tasks:
        given = set(links_in(sent.get(task.task_id, {})))
        answers = (task.create_answer, *task.answers, *(call.answer for call in task.follow_ups))
        for url in links_in(list(answers)):
            if (url in given and is_loopback_link(url)) or url in files:
                continue
            try:
                ext = Path(urlsplit(url).path).suffix.lower()
            except ValueError:
                ext = ""
            recorded = bodies.get(url)
            content_type = (recorded[0] if recorded else "") or (
                mimetypes.guess_type(f"x{ext}")[0] or "application/octet-stream"
            )
            suffix = ext if _SUFFIX.fullmatch(ext) else ""
            name = f"{len(files)}{suffix}"
            body = recorded[1] if recorded else None
            content_type = content_type.split(";")[0].strip()
            if not MEDIA_TYPE.fullmatch(content_type):
                content_type = "application/octet-stream"
            files[url] = RecordedFile(name, url, content_type, body)
    return tuple(files.values())


def load_scenario(value: Mapping[str, Any]) -> Scenario:
    """A scenario written by `python -m kiekit_mock har` (it names its `format`), or a HAR
    document (it has `log`, and whatever else, as HAR allows: a `format` member too)."""
    if value.get("format") != FORMAT and "log" in value:
        return parse_har(value)
    return Scenario.from_json(value)


def log_warnings(scenario: Scenario, source: str) -> None:
    """Say what a recording loaded from Python or the control API holds that a user must
    know (the command line prints the same lines itself: `_warn` in __main__)."""
    for line in scenario.warnings():
        log.warning("kiekit-mock: warning: %s: %s", source, line)


def read_scenario(path: str | os.PathLike[str]) -> Scenario:
    """The recording in a HAR or scenario file. Any file that is none is a ValueError (an
    unreadable one an OSError), as ``POST /_mock/scenarios`` answers 400: a file nested too
    deeply for Python's parser (or for the walk over its links) too, never a RecursionError's
    traceback from ``--har``."""
    # utf-8-sig: a BOM (some Windows tools write one) is read as the control route reads it
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        value = loads(text)  # envelope.loads: too deep is a ValueError, NaN is no JSON
        if not isinstance(value, dict):
            raise ValueError(f"{path}: not a HAR file or scenario (a JSON object)")
        return load_scenario(value)
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply") from None


# --- playing it back --------------------------------------------------------------------------


def _localised(answer: Any, files: Iterable[RecordedFile], origin: str) -> Any:
    """A recorded answer with its links turned into the mock's own: the recording's files,
    and any other link not plainly loopback (the player serves a stand-in for each, under
    the name `stand_in_name` gives it: scenario.py), in JSON-string fields (`resultJson`)
    too. The client is never handed a link to another host."""
    served = {file.url: file.name for file in files}

    def local(url: str) -> str | None:
        name = served.get(url)
        if name is None and not is_loopback_link(url):
            name = stand_in_name(url)
        return None if name is None else origin + FILES_PREFIX + name

    return rewrite_links(answer, local)


def _local(answer: dict[str, Any], files: Iterable[RecordedFile], origin: str) -> web.Response:
    """The recorded answer, its links the mock's own (_localised), as the client's answer."""
    text = dumps(_localised(answer, files, origin))
    return web.Response(text=text, content_type="application/json")


@web.middleware
async def replay(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer from a loaded scenario when it covers the request (after the auth middleware)."""
    rt = request.app[RUNTIME]
    player = rt.scenarios
    if not player.active or not request.path.startswith("/api/"):
        return await handler(request)
    answer: dict[str, Any] | None = None
    key = bearer_key(request)  # the auth middleware has accepted it
    account = None if key is None else account_id(key)
    if request.method == "POST":
        body = parse_json_object(await request.read()) or {}
        # a recorded id a live task holds is never handed out again (ScenarioPlayer.claim):
        # the same HAR loaded twice on one mock would have two creates share one task
        held = rt.store.find
        task = player.claim(
            request.path,
            model_word(request.path, body),
            account,
            lambda task_id: held(task_id) is not None,
        )
        if task is not None and (refused := await _twin(request, handler, task)) is not None:
            return refused
        if task is not None and player.pending_stage(task) is not None:
            player.emulated(task)  # its twin goes on once the recording runs out
            return _local(task.create_answer, player.files(), origin_of(request))
        if task is not None:
            _shadow(rt, task)
            answer = task.create_answer
        elif (named := _named(body)) is not None:
            answer = player.follow_up("POST", request.path, named, account)
        if answer is None and request.path == DOWNLOAD_URL:
            link = _har_file_link(request, body.get("url"))
            if link is not None:
                return ok(link)
    elif request.method == "GET" and (task_id := _named(request.query)) is not None:
        found = rt.store.find(task_id)
        # a replayed task is its creator's: another key is answered by the emulation, which
        # holds its twin under the creator's account ("Task not found", README: accounts)
        status = player.poll(
            request.path,
            task_id,
            moved=found is not None and found.state != "waiting",
            account=account,
        )
        if isinstance(status, Handover):
            if status.first:
                _catch_up(rt, task_id, status.stage)
        elif status is not None:
            answer = status
            if player.stage(status, request.path) is None:  # the recording shows its end
                _end_shadow(rt, task_id, status, request.path)
        else:
            answer = player.follow_up("GET", request.path, task_id, account)
    if answer is None:
        return await handler(request)
    return _local(answer, player.files(), origin_of(request))


async def _twin(
    request: web.Request, handler: Handler, task: RecordedTask
) -> web.StreamResponse | None:
    """Make the emulation's twin of a claimed recorded task, under the recorded id; None once
    made. A recording that ends before its task does (no status answer at all, or a pending
    last one: the capture stopped) would leave the client a task nothing can finish, and one
    that runs to the end, "not found" for the calls it never recorded (Veo's 4K or extend):
    the twin goes on, or answers those. So a create the emulation refuses (no credits left, a
    model unknown under strict_models, a rule's refusal…) is refused as the emulation refuses
    it, and the recorded task is given back for the next create: a replayed create never
    hands out an id the mock cannot finish or find."""
    player = request.app[RUNTIME].scenarios
    try:
        response = await handler(request)
    except BaseException:  # ErrorAnswer: the refusal _kie_conventions answers
        player.unclaim(task)
        raise
    made = None
    if isinstance(response, web.Response):
        raw = response.body if isinstance(response.body, bytes) else b""
        made = _created_id(response.get(ENVELOPE) or parse_json_object(raw))
    if made is None:
        player.unclaim(task)
        return response
    request.app[RUNTIME].store.rename(made, task.task_id)
    return None


def _shadow(rt: Runtime, task: RecordedTask) -> None:
    """A recorded create whose recording runs to the task's end: the recording answers its
    create and its status queries, and the twin answers the calls the recording never made
    (Veo's 4K or extend, a 1080P video…) for the id the client was handed. The twin waits
    (manual: no end, no callback on its own time) until the replay shows the recorded end,
    then ends as the recording did (_end_shadow)."""
    rt.store.set_lifecycle(task.task_id, Lifecycle(manual=True))
    rt.scenarios.shadowed(task)


def _end_shadow(rt: Runtime, task_id: str, final: Mapping[str, Any], path: str | None) -> None:
    """End the emulated task under a replayed id as its recording ended (``final``, the last
    status answer, recorded on ``path``), once the replay has shown that end; a task already
    ended stays as is."""
    found = rt.store.find(task_id)
    if found is None or found.final:
        return
    if not rt.scenarios.succeeded(final, path):
        rt.store.set_outcome(task_id, "fail")
    transition = rt.store.complete(task_id)
    rt.finish(transition, _recorded_callback(rt, final))


# The members of a status record that echo the request (market `param` §2.2, `paramJson` §3.1-
# §3.7, Runway `generateParam` §3.4) or name an input (Veo `originUrls`, Flux `originImageUrl`):
# their links are no results
_ECHOES = frozenset({"param", "paramJson", "generateParam", "promptJson"})


def _result_links(value: Any) -> list[str]:
    """The result links of a recorded status record, in order (JSON in strings too)."""
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            value = json.loads(value)
        except ValueError:
            return list(links_in(value))
    if isinstance(value, Mapping):
        items = [v for k, v in value.items() if k not in _ECHOES and not k.startswith("origin")]
        return [url for item in items for url in _result_links(item)]
    if isinstance(value, list):
        return [url for item in value for url in _result_links(item)]
    return list(links_in(value))


def _swap(value: Any, emulated: list[str], recorded: list[str]) -> Any:
    """``value`` with the emulation's result links replaced by the recording's: a list of them
    whole (the recording may have made more files), one link by its place."""
    if isinstance(value, dict):
        return {key: _swap(item, emulated, recorded) for key, item in value.items()}
    if isinstance(value, list):
        if value and value == emulated:
            return list(recorded)
        return [_swap(item, emulated, recorded) for item in value]
    if isinstance(value, str) and emulated:
        places = {url: recorded[i] for i, url in enumerate(emulated) if i < len(recorded)}
        return rewrite_links(value, places.get)
    return value


def _recorded_callback(rt: Runtime, final: Mapping[str, Any]) -> CallbackPayload:
    """The callback of a replayed task, built from its recorded end (``final``, the last status
    answer), so that it tells what the replayed polls told: the family's own callback (its
    shape, kie-api.md §6.2), with the members it shares with the recorded record taken from that
    record (market's whole record, §2.3: `resultJson`, `completeTime`, `costTime`…; its
    `updateTime` is `completeTime`) and the emulation's result links swapped for the recorded
    ones, served by the mock as the polls' are."""
    data = final.get("data")
    record: Mapping[str, Any] = data if isinstance(data, Mapping) else {}

    def payload(transition: Transition) -> dict[str, Any]:
        body = CALLBACK_PAYLOADS[transition.task.family](transition)
        sent = body.get("data")
        if isinstance(sent, dict):
            kept = {"param", "taskId"}  # the request as sent (§2.3), the id the client has
            sent |= {k: v for k, v in record.items() if k in sent and k not in kept}
            if "updateTime" in sent and "updateTime" not in record and "completeTime" in record:
                sent["updateTime"] = record["completeTime"]
        body = _swap(body, transition.task.result_urls(), _result_links(record))
        localised: dict[str, Any] = _localised(body, rt.scenarios.files(), transition.task.origin)
        return localised

    return payload


def _catch_up(rt: Runtime, task_id: str, stage: int) -> None:
    """Move the emulated task to the stage its recording ended on (it ends, with its callback,
    if its lifecycle is already due), so its states never go back."""
    for _ in range(stage):
        try:
            if rt.step(task_id).final:
                return
        except KeyError:  # forgotten (task_limit) or reset meanwhile
            return


def _har_file_link(request: web.Request, url: Any) -> str | None:
    """download-url of a file link this mock issued for a replayed session (README, Expiring
    links): a fresh 20-minute link to it, as for the emulation's own files (files.expiry ends
    it). The file itself is kept while the recording is loaded: the emulation's rule, 14 days
    after its task ended (§8), read from the recorded answers' own times would expire every
    link of a recording once it is 14 days old (its tests failing as the file ages), and
    read from the replay's moment would contradict the times those answers show."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    name = parts.path.removeprefix(FILES_PREFIX)
    mine = (request.host, urlsplit(origin_of(request)).netloc)  # behind a front: its host too
    if parts.scheme not in ("http", "https") or parts.netloc not in mine:
        return None
    if not parts.path.startswith(FILES_PREFIX) or request.app[RUNTIME].scenarios.file(name) is None:
        return None
    now = request.app[RUNTIME].clock.now()
    return files.presign(origin_of(request) + parts.path, now, files.DOWNLOAD_LINK_SECONDS)


def replay_view(rt: Runtime, task_id: str, origin: str) -> dict[str, Any] | None:
    """What the client of a replayed task was answered, for the control API's task snapshot
    (`replay`; None: not a replayed task). The emulation's twin of such a task (manual, polled
    by nobody) is not what the client saw: its status queries were answered by the recording,
    with links to the recording's files (`result_urls`, those given so far)."""
    replaying = rt.scenarios.replaying(task_id)
    if replaying is None:
        return None
    text = dumps(replaying.served)
    links = [origin + FILES_PREFIX + file.name for file in rt.scenarios.files() if file.url in text]
    told = None  # the state its client was last told, in the market's words
    if replaying.served:
        last, path = replaying.served[-1], replaying.task.status_path
        stage = rt.scenarios.stage(last, path)
        told = (
            ("waiting", "queuing", "generating")[stage]
            if stage is not None
            else ("success" if rt.scenarios.succeeded(last, path) else "fail")
        )
    return {
        "state": told,
        "recorded_answers": len(replaying.task.answers),
        "polls_answered": replaying.polls,
        # after the recording's last answer: the emulation goes on (the capture stopped before
        # the task's end), or that last answer repeats
        "then": "emulation" if replaying.emulated else "recording",
        "handed_over": replaying.handed_over,
        "result_urls": links,
    }


def _stand_in(file: RecordedFile) -> bytes:
    """A small real file of the recorded type, when the HAR did not hold the bytes."""
    kind = file.content_type
    colour = media.colour_for(file.url, 0)
    if kind == "image/png":
        return media.png_bytes(64, 64, colour)
    if kind.startswith("image/"):
        return media.jpeg_bytes(64, 64, colour)
    if kind.startswith("video/"):
        return media.mp4_bytes(file.url)
    if kind.startswith("audio/"):
        return media.mp3_bytes(file.url)
    return b""


@ROUTES.get(FILES_PREFIX + "{name}")
async def har_file(request: web.Request) -> web.Response:
    file = request.app[RUNTIME].scenarios.file(request.match_info["name"])
    if file is None:
        raise web.HTTPNotFound()
    body = file.body if file.body is not None else _stand_in(file)
    # the recorded type as recorded (an SVG, an HTML page…), on the inspector's own origin:
    # served so that it runs nothing there (files.FILE_HEADERS)
    whole = web.Response(body=body, content_type=file.content_type, headers=files.FILE_HEADERS)
    return ranged(request, whole)  # Range, as an object store answers it (ranges.py)


@ROUTES.post("/_mock/scenarios")
async def load(request: web.Request) -> web.Response:
    """Load a HAR (or scenario) JSON posted as the body; answers what will be replayed."""
    value = parse_json_object(await request.read())
    try:
        if value is None:
            raise ValueError("the body must be a HAR file's or a scenario's JSON object")
        scenario = load_scenario(value)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # the control routes' 400 (controlwire.py): what is wrong, and where
        return web.json_response(
            {"error": f"not a HAR file or scenario: {exc}", "field": "body"}, status=400
        )
    log_warnings(scenario, "POST /_mock/scenarios")
    request.app[RUNTIME].scenarios.load(scenario)
    return web.json_response(scenario.summary())


@ROUTES.delete("/_mock/scenarios")
async def clear(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    for task in rt.scenarios.shadows():  # their polls are the emulation's now: ended, as recorded
        _end_shadow(rt, task.task_id, task.answers[-1], task.status_path)
    return web.json_response({"cleared": rt.scenarios.clear()})


__all__ = [
    "ROUTES",
    "load_scenario",
    "log_warnings",
    "parse_har",
    "read_scenario",
    "replay",
    "replay_view",
]
