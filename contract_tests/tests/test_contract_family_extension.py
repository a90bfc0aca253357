"""A third party's new API family through the contract: a plugin and its mock family extension
(entry point ``kiekit_mock.families``), no fork. The family, KIE Avatar, hands out a video and
its thumbnail (``TaskSpec.result_exts=("mp4", "jpg")``), which the provider returns as an
``AssetRole.EXTRA`` image, as plugin-authors.md says: the correct plugin passes the whole
``ProviderContract``, and each planted bug fails exactly the tests that should catch it, with a
message that names the culprit (found by an outside plugin author; their plugin, trimmed)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Outcomes = dict[str, dict[str, str]]  # test class → contract test → outcome
RunContract = Callable[..., tuple[Outcomes, str]]  # conftest.run_contract
FailureReport = Callable[[str, str, str], str]  # conftest.failure_report

FAMILY = """
from typing import Any

from aiohttp import web
from kiekit_mock.extension import (
    FamilyExtension, TaskSnapshot, TaskSpec, Transition, account_of, dumps, invalid,
    json_body, ok, optional_callback_url, optional_enum, optional_int, optional_url,
    origin_of, poll_task, required_str, runtime, status_words,
)

FAMILY = "kie-avatar"
CREATE_PATH = "/api/v1/avatar/generate"
STATUS_PATH = "/api/v1/avatar/record-info"
ROUTES = web.RouteTableDef()
WORDS = {"waiting": "QUEUED", "queuing": "QUEUED", "generating": "RENDERING",
         "success": "DONE", "fail": "ERROR"}


def record(task: TaskSnapshot) -> dict[str, Any]:
    word = WORDS[task.state]
    code, msg = task.failure(501, "avatar rendering failed")
    urls = task.result_urls()
    return {
        "taskId": task.task_id,
        "status": word,
        "progress": {"QUEUED": 0, "RENDERING": 50, "DONE": 100, "ERROR": 0}[word],
        "output": {"videoUrl": urls[0], "thumbnailUrl": urls[1]} if urls else None,
        "error": {"code": code, "message": msg} if word == "ERROR" else None,
    }


def callback_payload(transition: Transition) -> dict[str, Any]:
    task = transition.task
    if task.prompt == "a callback bug":
        raise ValueError("callback shape bug")
    rec = record(task)
    return {"code": 200, "msg": "ok", "data": {"task": {"id": task.task_id, **rec}}}


@ROUTES.post(CREATE_PATH)
async def generate(request: web.Request) -> web.Response:
    body = await json_body(request)
    model = required_str(body, "model")
    if model != "kie-avatar/v1":
        raise invalid("model is not within the range of allowed options")
    prompt = required_str(body, "prompt", 5000)
    if optional_url(body, "imageUrl") is None:
        raise invalid("imageUrl is required")
    optional_enum(body, "resolution", ("480p", "720p"))
    optional_int(body, "seed", 0, 2_147_483_647)
    spec = TaskSpec(
        family=FAMILY, model=model, request_body=body,
        callback_url=optional_callback_url(body, "callBackUrl"), param_json=dumps(body),
        prompt=prompt, cost=6.0, result_ext="mp4", result_count=2,
        result_exts=("mp4", "jpg"),  # the video, then its thumbnail
        aspect_ratio=None, origin=origin_of(request),
    )
    return ok({"taskId": runtime(request).store.create(account_of(request), spec).task_id})


@ROUTES.get(STATUS_PATH)
async def record_info(request: web.Request) -> web.Response:
    return ok(record(poll_task(request, FAMILY, callback_payload).task))


EXTENSION = FamilyExtension(
    name=FAMILY, routes=ROUTES, callback_payload=callback_payload,
    status_paths={CREATE_PATH: STATUS_PATH},
    read_state=status_words("status", {"QUEUED": "queuing", "RENDERING": "generating",
                                       "DONE": "success", "ERROR": "fail"}),
)
"""

PLUGIN = '''
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen
from kiekit.plugin import (
    AssetRole, Input, MediaKind, Model, ProtocolError, Provider, Request, Results, State,
    TaskStatus, asset, choice, integer, text, url, wire,
)
from kiekit_contract import ProviderContract

STATES = {"QUEUED": State.QUEUED, "RENDERING": State.RUNNING, "DONE": State.SUCCEEDED,
          "ERROR": State.FAILED}


@frozen
class AvatarInput(Input):
    prompt: str = text(max_length=5000)
    image_url: str = url(required=True)
    resolution: str | None = choice("480p", "720p", default=None)
    seed: int | None = integer(0, 2_147_483_647, default=None)


class Avatar(Provider):
    name = "kie-avatar"
    camel_case = True
    models = (Model("kie-avatar/v1", AvatarInput, MediaKind.VIDEO),)

    def build_request(self, model_id, params, *, callback_url=None):
        self.checked_model(model_id, params)
        body = {"model": model_id, **wire.input_to_wire(params, camel_case=True)}
        if callback_url is not None:
            body["callBackUrl"] = callback_url
        return Request("POST", "/api/v1/avatar/generate", body=body)

    def status_request(self, task_id):
        return Request("GET", "/api/v1/avatar/record-info", query={"taskId": task_id})

    def parse_status(self, task_id, data):
        if not isinstance(data, Mapping):
            raise ProtocolError("record is not an object", payload=data)
        word = data.get("status")
        state = STATES.get(word) if isinstance(word, str) else None
        if state is None:
            raise ProtocolError(f"unknown avatar status {word!r}", payload=data)
        progress = data.get("progress")
        number = isinstance(progress, (int, float)) and not isinstance(progress, bool)
        error = data.get("error") if isinstance(data.get("error"), Mapping) else {}
        code = error.get("code")
        return TaskStatus.of(
            task_id, state, progress=progress / 100 if number else None,
            fail_code=None if code is None else str(code), fail_message=error.get("message"),
            raw=data,
        )

    def extract_results(self, task_id, data):
        output = data.get("output") if isinstance(data, Mapping) else None
        if not isinstance(output, Mapping):
            raise ProtocolError("a DONE record without output", payload=data)
        video = output.get("videoUrl")
        if not isinstance(video, str) or not video:
            raise ProtocolError("output.videoUrl missing", payload=data)
        found = [asset(video, self.models[0].output, task_id=task_id)]
        thumb = output.get("thumbnailUrl")
        if isinstance(thumb, str) and thumb:
            found.append(
                asset(thumb, MediaKind.IMAGE, task_id=task_id, label="thumb",
                      role=AssetRole.EXTRA)
            )
        return Results(task_id=task_id, assets=tuple(found), raw=data)

    def callback_task_id(self, payload):
        data = payload.get("data")
        task = data.get("task") if isinstance(data, Mapping) else None
        found = task.get("id") if isinstance(task, Mapping) else None
        return found if isinstance(found, str) else None


class DropsThumb(Avatar):
    """Keeps the video alone: the thumbnail KIE hands out (and bills) is never saved."""

    def extract_results(self, task_id, data):
        results = super().extract_results(task_id, data)
        return attrs.evolve(results, assets=results.assets[:1])


class DeclaresImage(Avatar):
    """Declares that the model makes images: the user gets its MP4 labelled an image."""

    models = (Model("kie-avatar/v1", AvatarInput, MediaKind.IMAGE),)


class FalsySeed(Avatar):
    """Drops seed=0, the field's lower bound (`if params.seed:`): KIE draws a random seed."""

    def build_request(self, model_id, params, *, callback_url=None):
        request = super().build_request(model_id, params, callback_url=callback_url)
        body = {k: v for k, v in request.body.items() if not (k == "seed" and v == 0)}
        return attrs.evolve(request, body=body)


TASK = "5f488be792eafad4b066e21e5bc472c7"
QUEUED = {"taskId": TASK, "status": "QUEUED", "progress": 0, "output": None, "error": None}
DONE = QUEUED | {
    "status": "DONE", "progress": 100,
    "output": {"videoUrl": f"https://tempfile.example/{TASK}-0.mp4",
               "thumbnailUrl": f"https://tempfile.example/{TASK}-1.jpg"},
}
ERROR = QUEUED | {"status": "ERROR", "error": {"code": 501, "message": "rendering failed"}}


class Contract(ProviderContract):
    check_entry_points = False
    max_examples = 10
    documented_statuses = (
        (QUEUED, State.QUEUED),
        (QUEUED | {"status": "RENDERING", "progress": 45}, State.RUNNING, 0.45),
        (DONE, State.SUCCEEDED),
        (ERROR, State.FAILED),
    )
    example_inputs = {"kie-avatar/v1": {"prompt": "a talking fox",
                                        "image_url": "https://example.com/fox.png"}}


class TestAvatar(Contract):
    provider = Avatar()


class TestDropsThumb(Contract):
    provider = DropsThumb()


class TestDeclaresImage(Contract):
    provider = DeclaresImage()


class TestCallbackBuilderRaises(Contract):
    """The mock family's callback_payload raises for this prompt: the provider is not to blame."""

    provider = Avatar()
    example_inputs = {"kie-avatar/v1": {"prompt": "a callback bug",
                                        "image_url": "https://example.com/fox.png"}}


# Random draws, new on every run (no derandomize): the bound is tried all the same
class TestFalsySeed1(Contract):
    provider = FalsySeed()
    derandomize = False


class TestFalsySeed2(TestFalsySeed1):
    pass


class TestFalsySeed3(TestFalsySeed1):
    pass


class TestFalsySeedDerandomized(Contract):
    provider = FalsySeed()
'''


LIFECYCLE = {
    "test_task_succeeds_and_files_download[Client]",
    "test_task_succeeds_and_files_download[AsyncClient]",
}
VALID = {"test_valid_inputs_are_accepted_by_the_mock"}
EXPECTED_FAILURES: dict[str, set[str]] = {
    "TestAvatar": set(),
    "TestDropsThumb": LIFECYCLE,
    "TestDeclaresImage": LIFECYCLE,
    "TestCallbackBuilderRaises": LIFECYCLE,
    "TestFalsySeed1": VALID,
    "TestFalsySeed2": VALID,
    "TestFalsySeed3": VALID,
    "TestFalsySeedDerandomized": VALID,
}


def run_plugins(
    pytester: pytest.Pytester,
    run_contract: RunContract,
    *args: str,
    family: str = FAMILY,
    plugin: str = PLUGIN,
) -> tuple[Outcomes, str]:
    """class → contract test → outcome, and the output, of one pytester session of the
    plugins, the family installed as a distribution (a ``.dist-info`` on the path). A
    subprocess, so the mock it starts loads the family from its entry point."""
    (pytester.path / "acme_avatar.py").write_text(family)
    info = pytester.path / "acme_avatar-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-avatar\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[kiekit_mock.families]\nkie-avatar = acme_avatar:EXTENSION\n"
    )
    pytester.makepyfile(test_avatar=plugin)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(pytester.path))
        return run_contract(*args)


def test_a_video_with_its_thumbnail_passes_and_each_bug_fails_its_tests(
    pytester: pytest.Pytester, run_contract: RunContract, failure_report: FailureReport
) -> None:
    """The correct plugin passes every contract test; a plugin that drops the thumbnail,
    declares the video model as making images, or drops seed=0 fails what should catch it,
    as does a family whose callback builder raises. seed=0 is caught with random draws too
    (derandomize = False), on every run: the bounds are tried first, as explicit examples.

    Each failure names its culprit: the dropped file by its slot in KIE's answer; the declared
    kind as before; the mock's family, not the provider's callback_task_id, for a callback
    builder that raised."""
    outcomes, out = run_plugins(pytester, run_contract, "--tb=short")
    assert set(outcomes) == set(EXPECTED_FAILURES)
    wrong = []
    for cls, tests in sorted(outcomes.items()):
        failed = {test for test, outcome in tests.items() if outcome == "failed"}
        if failed != EXPECTED_FAILURES[cls]:
            missed = sorted(EXPECTED_FAILURES[cls] - failed)
            extra = sorted(failed - EXPECTED_FAILURES[cls])
            wrong.append(f"{cls}: did not fail {missed}; failed unexpectedly {extra}")
    assert not wrong, "\n".join(wrong)

    lifecycle = "test_task_succeeds_and_files_download[Client]"
    dropped = failure_report(out, "TestDropsThumb", lifecycle)
    assert "extract_results left out files KIE hands out: output.thumbnailUrl (http" in dropped
    declared = failure_report(out, "TestDeclaresImage", lifecycle)
    assert "the asset is IMAGE but its media type is video/mp4 (http" in declared
    assert "is the model's output declared right?" in declared
    raised = failure_report(out, "TestCallbackBuilderRaises", lifecycle)
    assert "the mock's family sent no callback for task" in raised
    assert "its callback_payload raised ValueError: callback shape bug" in raised
    assert "callback_task_id" not in raised


# marketplug's two families: the contract fails the one that cannot answer a state, at that
# state, and takes the one with its own create answer key and status parameter
PENDING = "test_every_pending_state_reads_as_pending"


def _edited(source: str, *pairs: str) -> str:
    for old, new in zip(pairs[::2], pairs[1::2], strict=True):
        assert old in source, old
        source = source.replace(old, new)
    return source


def test_a_family_that_cannot_answer_queuing_fails_at_that_state(
    pytester: pytest.Pytester, run_contract: RunContract
) -> None:
    """marketplug's report: its extension mapped waiting, generating, success and fail, passed
    the contract, and answered 500 to every poll of ``kie run --mock`` at the middle stage."""
    family = _edited(FAMILY, '"queuing": "QUEUED", ', "")
    outcomes, out = run_plugins(
        pytester, run_contract, "-k", "TestAvatar", "--tb=short", family=family
    )
    failed = {test for test, outcome in outcomes["TestAvatar"].items() if outcome == "failed"}
    assert failed == {PENDING}
    assert "the status of a task the mock holds as 'queuing' could not be read" in out
    assert "kiekit_mock.extension.STATES" in out


OWN_IDS_FAMILY = (
    'ok({"taskId": runtime(request).store.create(account_of(request), spec).task_id})',
    'ok({"id": runtime(request).store.create(account_of(request), spec).task_id})',
    "poll_task(request, FAMILY, callback_payload)",
    'poll_task(request, FAMILY, callback_payload, param="id")',
)
OWN_IDS_PLUGIN = (
    'query={"taskId": task_id})',
    'query={"id": task_id})',
    "    def parse_status(self, task_id, data):",
    """    def parse_created(self, data):
        found = data.get("id") if isinstance(data, Mapping) else None
        if not isinstance(found, str) or not found:
            raise ProtocolError("create answer carries no id", payload=data)
        return found

    def parse_status(self, task_id, data):""",
)


def test_a_family_with_its_own_id_key_and_status_parameter_passes(
    pytester: pytest.Pytester, run_contract: RunContract
) -> None:
    """A create answering ``{"id": …}`` and a status route polled with ``?id=``
    (``poll_task(..., param="id")``), read by the provider's own ``parse_created`` and
    ``status_request``: every contract test passes, the id's own test included."""
    family = _edited(FAMILY, *OWN_IDS_FAMILY)
    plugin = _edited(PLUGIN, *OWN_IDS_PLUGIN)
    outcomes, out = run_plugins(
        pytester, run_contract, "-k", "TestAvatar", family=family, plugin=plugin
    )
    failed = {test for test, outcome in outcomes["TestAvatar"].items() if outcome == "failed"}
    assert not failed, out
    assert "test_status_request_names_the_task" in outcomes["TestAvatar"]
