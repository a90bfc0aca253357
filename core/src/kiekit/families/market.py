"""The unified market jobs API: one create path and one status path for ~120 models.

kie-api.md §2: ``POST /api/v1/jobs/createTask`` with ``{model, callBackUrl?, input}``;
``GET /api/v1/jobs/recordInfo?taskId=`` reports ``state`` and, on success, ``resultJson`` — a JSON
document inside a string: ``{"resultUrls": [...]}`` for media, ``{"resultObject": …}`` for text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from kiekit import wire
from kiekit.errors import NO_RECORD, ProtocolError
from kiekit.families.assets import assets
from kiekit.fields import Input
from kiekit.models import Request, Results, State, TaskStatus
from kiekit.provider import Provider

__all__ = ["MarketProvider", "MarketRecord"]

CREATE_PATH = "/api/v1/jobs/createTask"
# createTask fields that sit beside ``input``, not in it (§2.1): an input field declared with
# one of these wire names is lifted out of ``input`` (Sora 2's progressCallBackUrl).
TOP_LEVEL_FIELDS = frozenset({"progressCallBackUrl"})
STATUS_PATH = "/api/v1/jobs/recordInfo"

# §2.2: waiting | queuing | generating | success | fail. Runway's "queueing"/"wait" spellings
# belong to another family (§9.3) and are deliberately not accepted here.
STATES = {
    "waiting": State.QUEUED,
    "queuing": State.QUEUED,
    "generating": State.RUNNING,
    "success": State.SUCCEEDED,
    "fail": State.FAILED,
}


@attrs.frozen
class MarketRecord(wire.WireRecord):
    state: str
    task_id: str | None = None  # always sent in practice; the caller knows the id anyway
    model: str | None = None
    result_json: wire.JsonText | None = None
    fail_code: wire.Code | None = None
    fail_msg: str | None = None
    progress: float | None = None  # 0–100, Sora 2 only (§2.2)


# The fields a poll of a task still on its way leaves empty; with all of them empty, a plain read
# of ``state`` says what the whole record would (the converter is for the answers that say more).
_EMPTY_WHILE_PENDING = ("resultJson", "failCode", "failMsg", "progress")
# The same, for a success: its resultJson says the rest (read by json, not the converter)
_EMPTY_ONCE_DONE = ("failCode", "failMsg", "progress")


def _plain(data: Any, empty: tuple[str, ...]) -> str | None:
    """The state of a record whose ``empty`` fields are, and whose names are strings (or
    absent), else None: a record a plain read takes in full."""
    if not isinstance(data, dict):
        return None
    state = data.get("state")
    if type(state) is not str:
        return None
    for name in empty:
        if data.get(name) not in (None, ""):
            return None
    for name in ("taskId", "model"):
        if not isinstance(data.get(name), (str, type(None))):
            return None
    return state


def _pending_state(data: Any) -> str | None:
    """The state of a record that holds nothing but its state (and names), else None."""
    return _plain(data, _EMPTY_WHILE_PENDING)


def _plain_success(data: Any) -> Any:
    """A success's resultJson, read (a record that says nothing else, with resultJson a JSON
    text); None for any other record, which the converter reads (and words its faults)."""
    if _plain(data, _EMPTY_ONCE_DONE) != "success":
        return None
    text = data.get("resultJson")
    if type(text) is not str or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


class MarketProvider(Provider):
    """Base for market models: subclasses declare ``name`` and ``models`` only."""

    progress_scale: ClassVar[float] = 100.0
    camel_case = False  # market inputs are snake_case: aspect_ratio, image_urls (§2.4)

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        self.checked_model(model_id, params)
        body: dict[str, Any] = {"model": model_id}
        if callback_url:
            body["callBackUrl"] = callback_url
        sent = wire.input_to_wire(params, camel_case=self.camel_case)
        body.update({key: sent.pop(key) for key in TOP_LEVEL_FIELDS & sent.keys()})
        body["input"] = sent
        return Request("POST", CREATE_PATH, body=body)

    def status_request(self, task_id: str) -> Request:
        return Request("GET", STATUS_PATH, query={"taskId": task_id})

    def made_request(self, model_id: str, body: Mapping[str, Any]) -> bool:
        """A market create names its model in the body (``model``, kie-api.md §2.1); one
        that does not was another family's (its own path)."""
        return body.get("model") == model_id

    def record(self, task_id: str, data: Any) -> MarketRecord:
        return wire.structure(data, MarketRecord, task_id=task_id)

    def _plain_reads(self) -> bool:
        """Whether a success may be read plainly: not when a subclass reads its own record."""
        return type(self).record is MarketProvider.record

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        if data is None:  # an unknown id may be answered with data null (kie-api.md §2.2, §11)
            raise ProtocolError(NO_RECORD, task_id=task_id)
        pending = _pending_state(data)
        if pending is not None:  # most polls: a plain read of the one field that is set
            state = STATES.get(pending)
            if state is not None and state is not State.FAILED:  # a failure says more
                return TaskStatus.of(task_id, state, raw=data)
        elif self._plain_reads() and _plain_success(data) is not None:
            return TaskStatus.of(task_id, State.SUCCEEDED, raw=data)  # its results come next
        record = self.record(task_id, data)
        state = STATES.get(record.state)
        if state is None:
            raise ProtocolError(
                f"unknown market state {record.state!r}", task_id=task_id, payload=data
            )
        progress = None if record.progress is None else record.progress / self.progress_scale
        return TaskStatus.of(
            task_id,
            state,
            progress=progress,
            fail_code=record.fail_code,
            fail_message=record.fail_msg,
            raw=data,
        )

    def extract_results(self, task_id: str, data: Any) -> Results:
        result: Any = _plain_success(data) if self._plain_reads() else None
        if result is not None:  # the usual success: read plainly, as the converter would
            model = data.get("model")
        else:
            record = self.record(task_id, data)
            if record.state != "success":
                raise ProtocolError(
                    f"task has no results in state {record.state!r}", task_id=task_id
                )
            result, model = record.result_json, record.model
        if not isinstance(result, dict):
            raise ProtocolError("resultJson is not an object", task_id=task_id, payload=data)
        # The record names its model; KIE's spellings vary (§2.4), so an unfamiliar name only
        # means the file type decides the kind.
        served = self.find(model) if model else None
        kind = served.output if served else None
        if "resultUrls" in result:
            found = assets(result["resultUrls"], kind, task_id=task_id)
            return Results(task_id=task_id, assets=found, raw=data)
        if "resultObject" in result:  # text output: no file to fetch (§2.2)
            return Results(task_id=task_id, assets=(), raw=data, value=result["resultObject"])
        raise ProtocolError("resultJson has neither resultUrls nor resultObject", task_id=task_id)
