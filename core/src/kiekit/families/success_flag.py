"""The per-product APIs that report ``successFlag``: 4o Image, Flux Kontext, Veo, Luma.

kie-api.md §3: each has its own create and ``record-info`` path; ``successFlag`` is 0 generating,
1 success, 2 create-task failed, 3 generation failed (Luma adds 4: generated, but the callback
failed — still a success). Bodies and records are camelCase; failures carry ``errorCode`` (int)
and ``errorMessage``; results sit under ``response`` in a shape of each product's own.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from kiekit import wire
from kiekit.errors import ProtocolError
from kiekit.fields import Input
from kiekit.models import Asset, Request, Results, State, TaskStatus
from kiekit.provider import Provider

__all__ = ["SuccessFlagProvider", "SuccessFlagRecord"]

FLAGS: Mapping[int, State] = {
    0: State.RUNNING,
    1: State.SUCCEEDED,
    2: State.FAILED,
    3: State.FAILED,
}


@attrs.frozen
class SuccessFlagRecord(wire.WireRecord):
    success_flag: int
    task_id: str | None = None  # the guide's own example omits it; the caller knows the id
    response: Mapping[str, Any] | None = None
    error_code: wire.Code | None = None
    error_message: str | None = None
    progress: float | None = None  # 4o Image: a string "0.00"–"1.00" (§3.1)


class SuccessFlagProvider(Provider):
    """Base for successFlag products: subclasses set the two paths, the body, and the results.

    ``results_field``: the record's member holding the results (``response`` for KIE's
    successFlag products; another family may say ``resultInfoJson``); an object, or a JSON
    string of one. :meth:`assets` reads the files from it.
    """

    create_path: ClassVar[str]
    status_path: ClassVar[str]
    flags: ClassVar[Mapping[int, State]] = FLAGS
    results_field: ClassVar[str] = "response"
    camel_case = True

    def body(self, model_id: str, params: Input) -> dict[str, Any]:
        """The create body; products that name the model in the body add it here."""
        return wire.input_to_wire(params, camel_case=self.camel_case)

    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        self.checked_model(model_id, params)
        body = self.body(model_id, params)
        if callback_url:
            body["callBackUrl"] = callback_url
        return Request("POST", self.create_path, body=body)

    def status_request(self, task_id: str) -> Request:
        return Request("GET", self.status_path, query={"taskId": task_id})

    def record(self, task_id: str, data: Any) -> SuccessFlagRecord:
        return wire.structure(data, SuccessFlagRecord, task_id=task_id)

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        record = self.record(task_id, data)
        state = self.flags.get(record.success_flag)
        if state is None:
            raise ProtocolError(
                f"unknown successFlag {record.success_flag!r}", task_id=task_id, payload=data
            )
        return TaskStatus.of(
            task_id,
            state,
            progress=record.progress,
            fail_code=record.error_code,
            fail_message=record.error_message,
            raw=data,
        )

    def extract_results(self, task_id: str, data: Any) -> Results:
        record = self.record(task_id, data)
        if self.flags.get(record.success_flag) is not State.SUCCEEDED:
            raise ProtocolError(
                f"task has no results with successFlag {record.success_flag}", task_id=task_id
            )
        field = self.results_field
        found = record.response if field == "response" else _member(data, field)
        if not isinstance(found, Mapping):
            raise ProtocolError(
                f"succeeded task has no {field} object", task_id=task_id, payload=data
            )
        return Results(task_id=task_id, assets=self.assets(task_id, found), raw=data)

    @abstractmethod
    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        """The product's result files from the record's ``response`` object."""


def _member(data: Any, name: str) -> Any:
    """``data[name]``, a JSON string of an object read as that object (some families nest
    their results as text, as the market's resultJson)."""
    value = data.get(name) if isinstance(data, Mapping) else None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value
