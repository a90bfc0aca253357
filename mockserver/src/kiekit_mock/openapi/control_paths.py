"""The mock's own routes: its OpenAPI document and the /_mock/ control routes (not KIE's)."""

from __future__ import annotations

from typing import Any, get_args

from ..callbacks import MAX_WAIT as CALLBACK_WAIT
from ..changes import TOPICS
from ..changes_http import MAX_WAIT
from ..clock import MAX_SCALE, MIN_SCALE
from ..config import CALLBACK_TAMPERS
from ..control import MAX_CLOCK_ADVANCE
from ..families import task_families
from ..faults import RULE_FIELDS as FAULT_FIELDS
from ..inspector import PAGE
from ..limits import SETTING_FIELDS as LIMIT_FIELDS
from ..requestlog import REQUEST_KINDS
from ..rules import FAILING_KINDS, MAX_SECONDS, OUTCOME_KINDS, Rule
from ..scenario import FORMAT, MEDIA_TYPE_PATTERN
from ..state import State
from .operation import json_response, plain
from .schema import (
    INT,
    STRING,
    Schema,
    boolean,
    enum,
    nullable,
    number,
    obj,
    required_text,
    strict,
)

SCENARIO_SUMMARY = strict(
    {
        "tasks": {
            "type": "array",
            "items": strict(
                {
                    "taskId": STRING,
                    "createPath": STRING,
                    "host": {"type": ["string", "null"]},
                    "model": {"type": ["string", "null"]},
                    "statusPath": {"type": ["string", "null"]},
                    "answers": INT,
                    "followUps": INT,
                }
            ),
        },
        "files": INT,
        # HAR entries of the API whose answers could not be read: nothing of them is replayed
        "skipped": {
            "type": "array",
            "items": strict(
                {
                    "index": INT,
                    "method": STRING,
                    "host": {"type": ["string", "null"]},
                    "path": STRING,
                    "reason": STRING,
                }
            ),
        },
    }
)
# controlwire.refuse: a bad value is HTTP 400 naming the field; unknown ids 404; ended task 409
CONTROL_ERROR = strict({"error": STRING, "field": STRING})
OBJECT: Schema = {"type": "object"}
OBJECTS: Schema = {"type": "array", "items": OBJECT}
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
HAR = obj(
    {
        "log": obj(
            {
                "entries": {
                    "type": "array",
                    "items": obj(
                        {
                            "startedDateTime": STRING,
                            "request": obj({"method": STRING, "url": STRING}, ["method", "url"]),
                            "response": obj({"status": INT, "content": obj({})}, ["status"]),
                        },
                        ["request", "response"],
                    ),
                }
            },
            ["entries"],
        )
    },
    ["log"],
)
SCENARIO = obj(
    {
        "format": {"const": FORMAT},
        "tasks": {
            "type": "array",
            "items": obj(
                {
                    "taskId": STRING,
                    "createPath": STRING,
                    "model": nullable(STRING),
                    "createAnswer": {"type": "object"},
                    "statusPath": nullable(STRING),
                    "answers": {"type": "array", "items": {"type": "object"}},
                    "host": nullable(STRING),
                    "followUps": nullable(
                        {
                            "type": "array",
                            "items": obj(
                                {"method": STRING, "path": STRING, "answer": {"type": "object"}},
                                ["method", "path", "answer"],
                            ),
                        }
                    ),
                },
                ["taskId", "createPath", "createAnswer"],
            ),
        },
        "files": {
            "type": "array",
            "items": obj(
                {
                    "name": STRING,
                    "url": STRING,
                    "contentType": {"type": "string", "pattern": MEDIA_TYPE_PATTERN},
                    # what base64.b64decode(validate=True) takes (contentEncoding only annotates)
                    "base64": nullable(
                        {"type": "string", "contentEncoding": "base64", "pattern": BASE64}
                    ),
                },
                ["name", "url", "contentType"],
            ),
        },
    },
    ["format"],
)


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): json_response(CONTROL_ERROR, "what is wrong, and the field")
        for status in statuses
    }


def ctl(
    summary: str,
    answer: Schema,
    *,
    status: int = 200,
    errors: tuple[int, ...] = (),
    body: Schema | None = None,
    ids: tuple[str, ...] = (),
    query: dict[str, Schema] | None = None,
    required_query: tuple[str, ...] = (),
    optional_body: bool = False,
) -> dict[str, Any]:
    """A control route: JSON in and out, real HTTP statuses (controlwire.py). Query parameters
    are optional but those in ``required_query``; ``optional_body``: no body reads as {}
    (read_object), a change of nothing."""
    responses = {str(status): json_response(answer)} | _errors(*errors)
    if status == 201:  # an account answers 200 when it existed already
        responses["200"] = json_response(answer)
    operation = plain(
        summary,
        responses,
        tag="mock",
        body=body,
        path_params=dict.fromkeys(ids, STRING) or None,
        query=query,
        optional_query=True,
    )
    for parameter in operation.get("parameters", ()):
        if parameter["name"] in required_query:
            parameter["required"] = True
    if optional_body:
        operation["requestBody"]["required"] = False
    return operation


def closed(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """A control body: unknown fields are refused (controlwire.refuse_unknown)."""
    return obj(properties, required) | {"additionalProperties": False}


def _any_of(names: frozenset[str] | set[str]) -> dict[str, Schema]:
    return {name: {} for name in sorted(names)}


def _mode(name: str, *, polls: Schema, seconds: Schema) -> Schema:
    """A lifecycle object naming `mode` = name, with the fields that make that mode."""
    needed = [field for field, rule in (("polls", polls), ("seconds", seconds)) if rule != _UNSET]
    return {
        "required": ["mode", *needed],
        "properties": {
            "mode": {"const": name},
            "manual": _NOT_MANUAL,
            "polls": polls,
            "seconds": seconds,
        },
    }


TASK = strict({"task": OBJECT})
# Outcome.parse: a kind, or an object whose kind defaults to "success" when left out (so `{}`
# is a success); code (an int, or one written in ASCII digits) and msg may be null, kind not;
# only a failing kind (fail, moderation, create_failed) has a code or a message.
_FAILING = FAILING_KINDS
# a KIE error code (controlwire.kie_error_code, kie-api.md §7): 200 would read as a success
_CODE: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": 400, "maximum": 599},
        {"type": "string", "pattern": "^0*[45][0-9][0-9]$"},
    ]
}
_SUCCEEDING = closed({"code": {"type": "null"}, "msg": {"type": "null"}})
_SUCCEEDING["properties"]["kind"] = enum(k for k in OUTCOME_KINDS if k not in _FAILING)
_FAILURE = closed({"code": _CODE, "msg": required_text()}, ("kind",))
_FAILURE["properties"]["kind"] = enum(_FAILING)
OUTCOME = {"anyOf": [enum(OUTCOME_KINDS), _SUCCEEDING, _FAILURE]}
_UNSET: Schema = {"enum": [0, None]}  # a count or a length left out: 0, null or absent
_NOT_MANUAL: Schema = {"enum": [False, None]}
_SOME_POLLS: Schema = {"type": "integer", "minimum": 1}
_SOME_SECONDS: Schema = {"type": "number", "exclusiveMinimum": 0}
# Lifecycle.from_json: the shorthand words, or {polls?, seconds?, manual?, mode?} where `mode`
# (what GET answers) must be the one the other fields make — one branch per mode.
LIFECYCLE = {
    "anyOf": [
        enum(("immediate", "manual")),
        closed(
            {
                "polls": {"type": "integer", "minimum": 0},
                "seconds": {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
                "mode": enum(("immediate", "polls", "seconds", "polls+seconds", "manual", "timed")),
                "manual": boolean(),
            }
        )
        | {
            "anyOf": [
                {  # manual: said by `manual: true`, by `mode: "manual"`, or by both
                    "anyOf": [
                        {"required": ["manual"], "properties": {"manual": {"const": True}}},
                        {"required": ["mode"], "properties": {"mode": {"const": "manual"}}},
                    ],
                    "properties": {  # and no polls or seconds: it ends only when stepped
                        "manual": {"enum": [True, None]},
                        "mode": {"enum": ["manual", None]},
                        "polls": _UNSET,
                        "seconds": _UNSET,
                    },
                },
                {"properties": {"mode": {"type": "null"}, "manual": _NOT_MANUAL}},
                _mode("immediate", polls=_UNSET, seconds=_UNSET),
                _mode("polls", polls=_SOME_POLLS, seconds=_UNSET),
                _mode("seconds", polls=_UNSET, seconds=_SOME_SECONDS),
                _mode("polls+seconds", polls=_SOME_POLLS, seconds=_SOME_SECONDS),
                {  # timed: polls or seconds, at least one of them
                    "required": ["mode"],
                    "properties": {"mode": {"const": "timed"}, "manual": _NOT_MANUAL},
                    "anyOf": [
                        {"required": ["polls"], "properties": {"polls": _SOME_POLLS}},
                        {"required": ["seconds"], "properties": {"seconds": _SOME_SECONDS}},
                    ],
                },
            ]
        },
    ]
}
NAME: Schema = {"type": "string", "minLength": 1}
# Rule.from_json's checks, said as a schema (null is absent): matchers are non-empty strings,
# prompt_regex a Python regular expression, at least one of outcome/lifecycle, not both an
# api_key and an account_id.
RULE = closed(
    {
        "outcome": OUTCOME,
        "lifecycle": LIFECYCLE,
        "model": NAME,
        "family": NAME,
        "prompt_contains": NAME,
        "prompt_regex": NAME | {"format": "regex"},
        "account_id": NAME,
        "api_key": NAME,
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "seed": INT,
        "times": {"type": "integer", "minimum": 1},
    }
) | {
    "anyOf": [
        {"required": [aspect], "properties": {aspect: {"not": {"type": "null"}}}}
        for aspect in ("outcome", "lifecycle")
    ],
    "not": {
        "required": ["api_key", "account_id"],
        "properties": {"api_key": STRING, "account_id": STRING},
    },
}
assert set(RULE["properties"]) == set(Rule.__dataclass_fields__) | {"api_key"}


def _rule() -> Schema:
    """RULE with the families the mock knows now (extensions are found when it starts)."""
    families = {"family": enum(task_families())}
    return RULE | {"properties": RULE["properties"] | families}


RULES = strict({"rules": OBJECTS})
JOURNAL = strict(
    {
        "count": INT,
        "requests": OBJECTS,
        "more": boolean(),
        "first_seq": INT,
        "last_seq": INT,
        "dropped": INT,
        "held": INT,
        "forgotten": INT,
        "matched": nullable(INT),  # counted only when asked (count=1)
        "instance": STRING,
    }
)
FLAG = enum(("0", "1", "false", "true"))
SEQ: Schema = {"type": "integer", "minimum": -1}
COUNT: Schema = {"type": "integer", "minimum": 1}
MOMENT: Schema = {"type": "number", "minimum": 0}  # mock-clock seconds, or a length of time
CHANGES = strict(
    {"token": STRING, "instance": STRING, "topics": strict(dict.fromkeys(TOPICS, STRING))}
)
TEXT_PAGE = {"description": "the inspector page", "content": {"text/html": {"schema": STRING}}}
NO_FILE = {"description": "no such file", "content": {"text/plain": {"schema": STRING}}}
ACCOUNT = strict({"account": OBJECT})
CLOCK = strict({"now": {"type": "number"}, "now_ms": INT, "scale": {"type": "number"}})
POSITIVE_INT = nullable({"type": "integer", "minimum": 1})
# POST /_mock/reset: no body (or {}) resets the whole mock; an account, only that account
ONE_ACCOUNT = closed({"api_key": NAME, "account_id": NAME}) | {
    "not": {
        "required": ["api_key", "account_id"],
        "properties": {"api_key": STRING, "account_id": STRING},
    }
}
FORGOTTEN = dict.fromkeys(("tasks", "callbacks", "requests", "rules", "faults", "uploads"), INT)
UPLOADED = strict(
    {
        "account_id": STRING,
        "file_path": STRING,
        "file_name": STRING,
        "mime_type": STRING,
        "size": INT,
        "uploaded_at": MOMENT,
    }
)
RESET = strict(
    {"reset": {"const": True}, "account": strict({"account_id": STRING} | FORGOTTEN)},
    required=("reset",),
)


def _paged(operation: dict[str, Any]) -> dict[str, Any]:
    """An answer that is one page of a list: X-Total-Count says how many fit, every page."""
    total = {"description": "how many fit the filters, every page together", "schema": INT}
    operation["responses"]["200"]["headers"] = {"X-Total-Count": total}
    return operation


def _control() -> dict[str, dict[str, Any]]:
    """control.py (H2), faults_http.py, limits_http.py, callbacks_http.py (H3)."""
    by_account = {"account_id": STRING, "api_key": NAME}
    return {
        "/_mock/tasks": {
            "get": ctl(
                "Tasks, in creation order (`limit`: the newest n, after skipping `offset`)",
                strict({"total": INT, "tasks": OBJECTS}),
                errors=(400,),
                query=by_account
                | {
                    # "" is no filter; a name the mock does not know is a 400
                    "family": enum(["", *task_families()]),
                    "state": enum(["", *get_args(State)]),
                    "limit": COUNT,
                    "offset": {"type": "integer", "minimum": 0},
                },
            )
        },
        "/_mock/tasks/{task_id}": {"get": ctl("One task", TASK, errors=(404,), ids=("task_id",))},
        "/_mock/tasks/{task_id}/outcome": {
            "put": ctl(
                "How a task ends", TASK, errors=(400, 404, 409), body=OUTCOME, ids=("task_id",)
            )
        },
        "/_mock/tasks/{task_id}/lifecycle": {
            "put": ctl(
                "When a task ends", TASK, errors=(400, 404, 409), body=LIFECYCLE, ids=("task_id",)
            )
        },
        "/_mock/tasks/{task_id}/advance": {
            "post": ctl("One state on", TASK, errors=(404, 409), ids=("task_id",))
        },
        "/_mock/tasks/{task_id}/complete": {
            "post": ctl("To the end now", TASK, errors=(404, 409), ids=("task_id",))
        },
        "/_mock/health": {
            "get": ctl(
                "Up: what a CI job polls after starting the mock (its version, instance, "
                "task families)",
                strict(
                    {
                        "status": enum(["ok"]),
                        "version": STRING,
                        "instance": STRING,
                        "families": {"type": "array", "items": STRING},
                    }
                ),
            )
        },
        "/_mock/families": {
            "get": ctl(
                "The task families this mock serves (extensions' too)",
                strict({"families": {"type": "array", "items": STRING}}),
            )
        },
        "/_mock/rules": {
            "get": ctl("Outcome and lifecycle rules", RULES),
            "post": ctl(
                "Add a rule", strict({"rule": OBJECT}), status=201, errors=(400,), body=_rule()
            ),
            "delete": ctl("Forget the added rules", RULES),
        },
        "/_mock/rules/{rule_id}": {
            "delete": ctl(
                "Forget one rule", strict({"removed": INT}), errors=(404,), ids=("rule_id",)
            )
        },
        "/_mock/clock": {
            "get": ctl("The mock clock", CLOCK),
            "put": ctl(
                "Set the clock's speed: `scale` mock seconds per real second from now on (the "
                "time passed stays; the whole mock's clock, every job's on a shared mock)",
                CLOCK,
                errors=(400,),
                body=closed(
                    {"scale": {"type": "number", "minimum": MIN_SCALE, "maximum": MAX_SCALE}},
                    ("scale",),
                ),
            ),
        },
        "/_mock/clock/advance": {
            "post": ctl(
                "Move the clock on",
                CLOCK,
                errors=(400,),
                body=closed(
                    {"seconds": {"type": "number", "minimum": 0, "maximum": MAX_CLOCK_ADVANCE}},
                    ("seconds",),
                ),
            )
        },
        "/_mock/journal": {
            "get": ctl(
                "Requests received",
                JOURNAL,
                errors=(400,),
                query=by_account
                | {
                    "path": STRING,
                    "method": STRING,
                    "task_id": STRING,
                    "kind": enum(REQUEST_KINDS),
                    "since": MOMENT,
                    "until": MOMENT,
                    "after": SEQ,
                    "before": {"type": "integer", "minimum": 0},
                    "limit": COUNT,
                    "count": FLAG,
                    "bodies": FLAG,
                },
            ),
            "delete": ctl("Forget the journal (seqs go on from where they were)", JOURNAL),
        },
        "/_mock/journal/{seq}": {
            "get": ctl(
                "One request in full, by its seq",
                strict({"request": OBJECT, "instance": STRING}),
                errors=(404,),
                ids=("seq",),
            )
        },
        "/_mock/changes": {
            "get": ctl(
                "The change token; with `since` and `wait`, a long-poll until it moves",
                CHANGES,
                errors=(400,),
                query={
                    "since": STRING,
                    "wait": {"type": "number", "minimum": 0, "maximum": MAX_WAIT},
                },
            )
        },
        "/_mock/journal/check": {
            "get": ctl(
                "A client-behaviour check over the journal (read `passed`); `api_key` or "
                "`account_id`: over that account's requests only",
                OBJECT,
                errors=(400,),
                query=by_account
                | {
                    "check": enum(("created_once", "no_duplicate_creates", "no_poll_faster_than")),
                    "task_id": STRING,
                    "window": MOMENT,
                    "seconds": MOMENT,
                },
                required_query=("check",),
            )
        },
        "/_mock/accounts": {
            "get": ctl("Accounts", strict({"accounts": OBJECTS})),
            "post": ctl(
                "Open or change an account (by key; answers its id, never the key)",
                ACCOUNT,
                status=201,
                errors=(400,),
                body=closed(
                    {
                        "api_key": {"type": "string", "minLength": 1},
                        "credits": nullable(number(0)["anyOf"][0]),
                        "max_creates_per_10s": POSITIVE_INT,
                    },
                    ("api_key",),
                ),
            ),
        },
        "/_mock/accounts/{account_id}": {
            "get": ctl("One account", ACCOUNT, errors=(404,), ids=("account_id",)),
            "patch": ctl(
                "Change an account",
                ACCOUNT,
                errors=(400, 404),
                ids=("account_id",),
                body=closed(
                    {
                        "credits": nullable(number(0)["anyOf"][0]),
                        "max_creates_per_10s": POSITIVE_INT,
                    }
                ),
            ),
        },
        "/_mock/uploads": {
            "get": ctl(
                "The upload host's files (a reset forgets them); `api_key` or `account_id`: "
                "that account's only",
                strict({"count": INT, "uploads": {"type": "array", "items": UPLOADED}}),
                errors=(400,),
                query=by_account,
            )
        },
        "/_mock/reset": {
            "post": ctl(
                "Forget tasks, uploaded files, rules, accounts' changes, the journal; the clock "
                "back to its starting speed; given an account (its api_key or account_id), "
                "only that account's (the clock is left as it is)",
                RESET,
                errors=(400,),
                optional_body=True,
                body=ONE_ACCOUNT,
            )
        },
        "/_mock/faults": {
            "get": ctl("Fault rules", OBJECTS),
            "post": ctl(
                "Add a fault rule (HTTP- or KIE-level; it answers the upload host's requests too)",
                OBJECT,
                status=201,
                errors=(400,),
                body=closed(_any_of(FAULT_FIELDS), ("kind",)),
            ),
            "delete": ctl("Forget every fault rule", OBJECT),
        },
        "/_mock/faults/{rule_id}": {
            "delete": ctl("Forget one fault rule", OBJECT, errors=(404,), ids=("rule_id",))
        },
        "/_mock/limits": {
            "get": ctl("KIE's documented rate limits (null: off)", OBJECT),
            "put": ctl(
                "Turn limits on/off",
                OBJECT,
                errors=(400,),
                optional_body=True,
                body=closed(
                    {"documented": boolean()} | dict.fromkeys(sorted(LIMIT_FIELDS), POSITIVE_INT)
                ),
            ),
        },
        "/_mock/limits/windows": {
            "get": ctl("The rate windows holding requests now", strict({"windows": OBJECTS})),
            "delete": ctl("Empty the rate windows", OBJECT),
        },
        "/_mock/callbacks": {
            "get": _paged(
                ctl(
                    "Callbacks sent (or refused), in the order owed (`limit`: the newest n, "
                    "after skipping `offset`), once the deliveries in flight that the filters "
                    "select have ended, or `timeout` seconds passed (default: the callback "
                    "timeout, 15 s); `wait=0`: at once",
                    OBJECTS,
                    errors=(400,),
                    query=by_account
                    | {
                        "task_id": STRING,  # "": any task
                        "wait": enum(("0", "1", "false", "true")),
                        "timeout": {"type": "number", "minimum": 0, "maximum": CALLBACK_WAIT},
                        "limit": COUNT,
                        "offset": {"type": "integer", "minimum": 0},
                    },
                )
            ),
            "delete": ctl("Forget the callbacks", OBJECT),
        },
        "/_mock/callbacks/settings": {
            "get": ctl("How callbacks are sent", OBJECT),
            "put": ctl(
                "Signing, duplicates, tampering (409: tampering while unsigned)",
                OBJECT,
                errors=(400, 409),
                optional_body=True,
                body=closed(
                    {
                        "hmac_key": nullable({"type": "string", "minLength": 1}),
                        "copies": {"type": "integer", "minimum": 1, "maximum": 10},
                        "tamper": nullable(enum(CALLBACK_TAMPERS)),
                        "stale_seconds": {"type": "integer", "minimum": 1},
                    }
                ),
            ),
        },
    }


def paths() -> dict[str, dict[str, Any]]:
    return _control() | {
        PAGE: {"get": plain("The inspector page", {"200": TEXT_PAGE}, tag="mock")},
        PAGE + "/{name}": {
            "get": plain(
                "A file of the inspector page (its scripts, style sheet and icon)",
                {
                    "200": {
                        "description": "the file",
                        "content": {
                            kind: {"schema": STRING}
                            for kind in ("text/javascript", "text/css", "image/svg+xml")
                        },
                    },
                    "404": NO_FILE,
                },
                tag="mock",
                path_params={"name": STRING},
            )
        },
        "/openapi.json": {
            "get": plain(
                "This document",
                {"200": json_response({"type": "object"}, "the OpenAPI 3.1 document")},
                tag="mock",
            )
        },
        "/_mock/scenarios": {
            "post": plain(
                "Load a recorded session (a HAR file's JSON, or a scenario from `har`)",
                {
                    "200": json_response(SCENARIO_SUMMARY, "what will be replayed"),
                    "400": json_response(CONTROL_ERROR, "not a HAR or scenario"),
                    "413": json_response(CONTROL_ERROR, "a body over 256 MiB"),
                },
                tag="mock",
                body={"oneOf": [HAR, SCENARIO]},
            ),
            "delete": plain(
                "Forget every loaded scenario",
                {"200": json_response(strict({"cleared": INT}))},
                tag="mock",
            ),
        },
        "/_mock/har-files/{name}": {
            "get": plain(
                "A result file of a replayed session",
                {
                    "200": {
                        "description": "the recorded bytes, or a stand-in of the same type",
                        "content": {"*/*": {"schema": {"type": "string"}}},
                    },
                    "404": {
                        "description": "no such file",
                        "content": {"text/plain": {"schema": STRING}},
                    },
                },
                tag="mock",
                path_params={"name": STRING},
            )
        },
    }
