"""The unified market jobs API: createTask + recordInfo (kie-api.md §2.1–2.4). The models it
knows, with their input checks, live in `market_models/` (Grok Imagine, Kling 3.0, Sora 2), and
`MockConfig.extra_market_models` adds more with a minimal check (`market_models/extra.py`).

Shapes follow the recorded real traffic [OBS] where it differs from the docs: `param` is a JSON
string whose `input` member is itself a JSON string and which omits callBackUrl; pending records
carry `resultJson:""` and null fail/cost/complete fields; there is no `updateTime`. Sora 2 records
add `progress` (0–100), which no other market model reports (§2.2).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .. import files
from ..envelope import dumps, error, ok
from ..route_helpers import (
    account_of,
    json_body,
    optional_callback_url,
    origin_of,
    poll_task,
    runtime,
    task_id_param,
)
from ..rules import Outcome
from ..runtime import Runtime
from ..state import State, TaskSnapshot, TaskSpec, Transition
from .market_models import MODELS, REFUSED, Input, MarketModel, closest, find, warn_guessed
from .market_models.base import result_object
from .market_models.extra import WARNING_HEADER, header_safe, id_problem, refused_warning
from .validation import invalid

ROUTES = web.RouteTableDef()
RECORD_INFO = "/api/v1/jobs/recordInfo"

FAIL_CODE = "500"  # failCode is a string (§2.2 failure example: "422")
BAD_SOURCE_CODE = 422  # an input KIE took but cannot work on: §2.2's failure example's code [INF]
FAIL_MSG = "Generation failed: the mock was asked to fail this task"
# Result links end .jpg for images and .mp4 for videos in recorded traffic (§2.2 [OBS]); audio
# answers are .mp3 links in Suno's records (§3.6) [INF for market audio models]. Text: no files.
RESULT_EXTS = {"image": "jpg", "video": "mp4", "audio": "mp3", "text": "json"}


def _text_of(inp: Input) -> str:
    """Every prompt-like text of an input, so the fail marker works wherever it is written."""
    parts = [inp.get("prompt"), inp.get("character_prompt")]
    for field, key in (("multi_prompt", "prompt"), ("shots", "Scene")):
        entries = inp.get(field)
        if isinstance(entries, list):
            parts += [entry.get(key) for entry in entries if isinstance(entry, dict)]
    return " ".join(part for part in parts if isinstance(part, str))


def _param_json(model: str, stored_input: Input) -> str:
    # [OBS] §2.2: {"input":"<JSON string>","model":…}, no callBackUrl, compact, keys sorted
    inner = json.dumps(stored_input, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return dumps({"input": inner, "model": model})


def market_state(task: TaskSnapshot, *, queuing: bool = False) -> State:
    """The state a record shows: real KIE walks waiting → generating → success (§2.2 [OBS]),
    so the mock's middle pending stage reads `waiting` unless `queuing` (a test's choice,
    MockConfig.market_queuing) asks for the documented-but-unseen `queuing`."""
    return "waiting" if task.state == "queuing" and not queuing else task.state


def record(
    task: TaskSnapshot, progress: int | None = None, *, queuing: bool = False
) -> dict[str, Any]:
    """recordInfo `data`, field for field as the recorded real answers (§2.2 [OBS]); Sora 2
    records add `progress` (100 once succeeded; else `progress`, by default 0)."""
    failed = task.state == "fail"
    succeeded = task.state == "success"
    fail_code, fail_msg = task.failure(int(FAIL_CODE), FAIL_MSG)
    model = MODELS.get(task.model)
    result = ""
    if succeeded and model is not None and model.result is not None:
        # a text model's value, shaped as its catalogue entry documents it (§2.2 resultObject)
        result = dumps({"resultObject": result_object(model.result, task.task_id)})
    elif succeeded and task.result_count == 0:
        # a text model taught by extra_market_models (only text models have no result files):
        # a value instead of files (§2.2) [INF shape]
        result = dumps({"resultObject": {"text": f"kiekit-mock text of task {task.task_id}"}})
    elif succeeded:
        result = dumps({"resultUrls": task.result_urls()})
    data: dict[str, Any] = {
        "taskId": task.task_id,
        "model": task.model,
        "state": market_state(task, queuing=queuing),
        "param": task.param_json,
        "resultJson": result,
        "failCode": str(fail_code) if failed else None,
        "failMsg": fail_msg if failed else None,
        "costTime": task.cost_seconds,  # seconds, not ms (§2.2)
        "completeTime": task.completed_ms,
        "createTime": task.created_ms,
    }
    if model is not None and model.progress:
        data["progress"] = 100 if succeeded else (progress or 0)
    return data


def sora_progress(rt: Runtime, task: TaskSnapshot) -> int:
    """0–99 while a task is pending: how far it is towards being due, by the polls it had
    answered before this one and by the seconds since it was created, whichever is behind, as
    its lifecycle itself decides (state.natural_stage); a manual task by the stage it is at.
    So it grows with every poll of a test mock and with time under `kie run --mock`."""
    lifecycle = task.lifecycle
    if lifecycle.manual:
        return {"waiting": 0, "queuing": 33, "generating": 66}.get(task.state, 99)
    shares = []
    if lifecycle.polls:
        shares.append((task.polls - 1) / lifecycle.polls)  # this poll is counted already
    if lifecycle.seconds:
        elapsed = rt.clock.now() - task.created_ms / 1000
        shares.append(elapsed / lifecycle.seconds)
    return max(0, min(99, int(100 * min(shares, default=1.0))))


def callback_payload(transition: Transition) -> dict[str, Any]:
    """§2.3: the full record, plus both credit spellings seen in KIE's pages. Unlike recordInfo
    (§2.2 [OBS]), its `param` is the full create request as sent, callBackUrl included, and it
    carries `updateTime` (the WAN30 success example: equal to completeTime)."""
    task = transition.task
    data = record(task) | {
        "param": dumps(task.request_body),
        "updateTime": task.completed_ms,
        "creditsConsumed": task.credits_charged,
        "consumeCredits": task.credits_charged,
        "remainedCredits": transition.balance,
    }
    if task.state == "success":
        return {"code": 200, "msg": "Playground task completed successfully.", "data": data}
    return {"code": 501, "msg": "Playground task failed.", "data": data}


@ROUTES.post("/api/v1/jobs/createTask")
async def create_task(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = body.get("model")
    if name is None or name == "":
        raise invalid("model cannot be empty")
    rt = runtime(request)
    model = find(rt.config, name) if isinstance(name, str) else None
    if model is None:
        refused = error(422, "model not supported")  # §2.4 (FELORES CHANGELOG 2.0.10)
        if isinstance(name, str):
            near = None if id_problem(name) else closest(name)  # no search over a 1 MB "id"
            why = refused_warning(name, near, recorded=name in REFUSED)
            if header_safe(why):  # an id a header cannot carry is left out of it
                refused.headers[WARNING_HEADER] = why
        return refused
    warning = warn_guessed(model, rt.guessed_models, closest(model.name))
    callback = optional_callback_url(body, "callBackUrl")
    # Sora-only progress callbacks: no payload shape is documented (§2.3), so never called
    optional_callback_url(body, "progressCallBackUrl")
    inp = body.get("input")
    if not isinstance(inp, dict):
        # KIE's words for a missing input; a string or a list (input encoded twice) is [INF]
        raise invalid("input cannot be empty" if inp in (None, "") else "input must be an object")
    stored = model.check(dict(inp))
    aspect = stored.get("aspect_ratio")
    if model.files is not None:
        result_ext, result_count = model.files(stored)
    else:
        result_ext, result_count = model.result_ext or RESULT_EXTS[model.kind], model.results
    spec = TaskSpec(
        family="market",
        model=model.name,
        request_body=body,
        callback_url=callback,
        param_json=_param_json(model.name, stored),
        prompt=_text_of(stored),
        cost=model.cost,
        result_ext=result_ext,
        result_count=result_count,
        aspect_ratio=aspect if isinstance(aspect, str) else None,
        origin=origin_of(request),
    )
    account = account_of(request)
    task = rt.store.create(account, spec)
    unusable = _source_problem(rt, account, model, stored)
    if unusable is not None:  # taken and charged, and fails at its end (grok.py says why)
        rt.store.set_outcome(task.task_id, Outcome("fail", BAD_SOURCE_CODE, unusable))
    # [OBS] §2.1: real answers carry recordId too, equal to taskId
    answer = ok({"taskId": task.task_id, "recordId": task.task_id})
    if warning is not None and header_safe(warning):
        answer.headers[WARNING_HEADER] = warning  # the body stays KIE's; the journal keeps it
    return answer


def _source_problem(rt: Runtime, account: str, model: MarketModel, inp: Input) -> str | None:
    """Why the earlier task a model works on (``model.source``) cannot be used, or None: it is
    no task of the caller's, it is of another kind, or it failed (a pending one may yet end)."""
    source = model.source
    named = inp.get(source.field) if source is not None else None
    if source is None or not isinstance(named, str):
        return None
    found = rt.store.find(named)
    if found is None or found.account_id != account:
        return f"{source.field} {named}: no such task"
    if found.model not in source.models:
        return f"{source.field} {named} is a {found.model} task, not {source.what}"
    if found.state == "fail":
        return f"{source.field} {named}: that task failed, there is nothing to work on"
    if not files.retained(found, rt.clock.now()):
        # its files are gone (14 days, §1, §8) [INF: the pages are silent; failed as above]
        return f"{source.field} {named}: that task's results have expired, nothing to work on"
    return None


def _unknown(rt: Runtime, request: web.Request) -> bool:
    """Whether the queried id names no market task of the caller's (as store.poll reads it)."""
    found = rt.store.find(task_id_param(request))
    return found is None or found.account_id != account_of(request) or found.family != "market"


@ROUTES.get(RECORD_INFO)
async def record_info(request: web.Request) -> web.Response:
    rt = runtime(request)
    if rt.config.market_unknown_null and _unknown(rt, request):
        # the data:null answer recorded for Suno's record-info, which §2.2 and §11 ask the
        # mock to offer for market ids too
        return ok(None)
    task = poll_task(request, "market", callback_payload).task  # §2.2: 404 "Task not found"
    model = MODELS.get(task.model)
    progress = sora_progress(rt, task) if model is not None and model.progress else None
    queuing = rt.config.market_queuing
    if task.state in ("success", "fail"):  # final: the same record on every poll from now on
        key = (RECORD_INFO, task.task_id, progress, queuing)
        return rt.prerendered.ok(key, lambda: record(task, progress, queuing=queuing))
    return ok(record(task, progress, queuing=queuing))
