"""Every contract test can fail: broken fake providers, each with one realistic bug, are run
through ``ProviderContract`` in a pytester session, and exactly the tests that should catch the
bug fail. A correct fake passes everything, so the failures are the bugs' doing.

The typed fakes speak the Flux Kontext API, which the mock emulates (kie-api.md §3.2); the
pattern fakes serve any market model id with a free-form input (``Model("*", OpenInput, None)``,
like kiekit-market) and are tested through the Grok ids the mock emulates (§2.4).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Outcomes = dict[str, dict[str, str]]  # test class → contract test → outcome
RunContract = Callable[..., tuple[Outcomes, str]]  # conftest.run_contract
FailureReport = Callable[[str, str, str], str]  # conftest.failure_report

FAKES = '''
import json

import attrs
from attrs import frozen
from hypothesis import Phase, settings
from kiekit import AssetRole, Input, MediaKind, Model, State, ValidationError
from kiekit.families.assets import asset
from kiekit.families.market import MarketProvider
from kiekit.families.success_flag import FLAGS, SuccessFlagProvider
from kiekit.fields import InputField, OpenInput, camel, choice, integer, text
from kiekit.models import Results, TaskStatus

from kiekit_contract import ProviderContract

# Reproducible, and quick to fail: no shrinking (this runs in its own process, see below).
settings.register_profile(
    "kiekit-meta", derandomize=True, database=None, phases=(Phase.explicit, Phase.generate)
)
settings.load_profile("kiekit-meta")


@frozen
class Edit(Input):
    prompt: str = text()
    aspect_ratio: str | None = choice("16:9", "1:1", "9:16", default=None)
    safety_tolerance: int | None = integer(0, 6, default=None)


@frozen
class Wide(Input):
    prompt: str = text()
    safety_tolerance: int | None = integer(0, 10, default=None)


@frozen
class Narrow(Input):
    prompt: str = text()
    aspect_ratio: str | None = choice("16:9", "1:1", "9:16", default=None)
    safety_tolerance: int | None = integer(0, 5, default=None)


@frozen
class LooksRequired(Input):
    prompt: str = text()
    aspect_ratio: str = choice("16:9", "1:1", "9:16")  # optional all the same: None if left out
    safety_tolerance: int | None = integer(0, 6, default=None)


@frozen
class DefaultUnsaid(Input):
    prompt: str = text()
    aspect_ratio: str | None = choice("16:9", "1:1", "9:16")  # type checkers: required
    safety_tolerance: int | None = integer(0, 6, default=None)


class Good(SuccessFlagProvider):
    name = "fake-flux"
    models = (Model("flux-kontext-pro", Edit, MediaKind.IMAGE),)
    create_path = "/api/v1/flux/kontext/generate"
    status_path = "/api/v1/flux/kontext/record-info"

    def body(self, model_id, params):
        return {"model": model_id, **super().body(model_id, params)}

    def assets(self, task_id, response):
        url, origin = response.get("resultImageUrl"), response.get("originImageUrl")
        found = [asset(url, MediaKind.IMAGE, task_id=task_id, label="result")]
        if origin:
            role = AssetRole.EXTRA
            found.append(asset(origin, MediaKind.IMAGE, task_id=task_id, label="origin", role=role))
        return tuple(found)


class DropsOriginal(Good):
    """Returns the result image alone: the original KIE hands out beside it
    (``response.originImageUrl``, kie-api.md §3.2) is never saved."""

    def assets(self, task_id, response):
        return super().assets(task_id, response)[:1]


class UnknownFlagIsRunning(Good):
    """An undocumented successFlag is read as 'still running' (the bug that polls forever)."""

    class Lenient(dict):
        def get(self, key, default=None):
            return super().get(key, State.RUNNING)

    flags = Lenient(FLAGS)


class CreateFailedIsPending(Good):
    """successFlag 2 (CREATE_TASK_FAILED) taken for a pending state."""

    flags = {**FLAGS, 2: State.QUEUED}


class WrongWireName(Good):
    """Sends the prompt as "text": KIE answers 422 "prompt cannot be empty"."""

    def body(self, model_id, params):
        body = super().body(model_id, params)
        body["text"] = body.pop("prompt")
        return body


class AspectRatioElsewhere(Good):
    """Sends the aspect ratio as "aspect_ratio" where KIE reads "aspectRatio": KIE ignores the
    key and makes its default framing, paid for, as if the field were dropped."""

    def body(self, model_id, params):
        body = super().body(model_id, params)
        if "aspectRatio" in body:
            body["aspect_ratio"] = body.pop("aspectRatio")
        return body


class ReadsProgress(Good):
    """Reads a 0-100 ``progress`` member (as Sora's records carry it) as its fraction."""

    scale = 100

    def parse_status(self, task_id, data):
        status = super().parse_status(task_id, data)
        value = data.get("progress")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return status
        return TaskStatus.of(
            task_id,
            status.state,
            progress=value / self.scale,
            fail_code=status.fail_code,
            fail_message=status.fail_message,
            raw=data,
        )


class ProgressOnAnotherScale(ReadsProgress):
    """Reads KIE's 0-100 progress as 0-1: a task at 45 % shows as done (1.0, clamped)."""

    scale = 1


class WiderThanKie(Good):
    """Declares safety_tolerance 0–10 where KIE allows 0–6: the mock refuses 7–10."""

    models = (Model("flux-kontext-pro", Wide, MediaKind.IMAGE),)


class NarrowerThanKie(Good):
    """Declares safety_tolerance 0–5 where KIE allows 0–6: a 6 KIE takes is refused here."""

    models = (Model("flux-kontext-pro", Narrow, MediaKind.IMAGE),)


class OptionalAnnotatedRequired(Good):
    """Writes a choice() field `str`, as if that made it required: mypy stays silent."""

    models = (Model("flux-kontext-pro", LooksRequired, MediaKind.IMAGE),)


class OptionalWithoutDefault(Good):
    """An optional choice() field that says no default=: mypy and pyright take it for
    required, and refuse an input without it that KIE takes."""

    models = (Model("flux-kontext-pro", DefaultUnsaid, MediaKind.IMAGE),)


class LenientInput(Good):
    """Silently drops an invalid field instead of refusing the input."""

    def make_input(self, model_id, values=None, **fields):
        if isinstance(values, Input):
            return super().make_input(model_id, values, **fields)
        merged = {**(values or {}), **fields}
        try:
            return super().make_input(model_id, merged)
        except ValidationError as exc:
            merged.pop(exc.field, None)
            return super().make_input(model_id, merged)


class IgnoresCallback(Good):
    """Builds every request without the caller's callback URL: their webhook never hears."""

    def build_request(self, model_id, params, *, callback_url=None):
        return super().build_request(model_id, params)


class DropsAspectRatio(Good):
    """Leaves the aspect ratio out of the body: KIE makes its default framing, paid for."""

    def body(self, model_id, params):
        body = super().body(model_id, params)
        body.pop("aspectRatio", None)
        return body


class LosesFailCode(Good):
    """Forgets KIE's errorCode when a task fails."""

    def parse_status(self, task_id, data):
        status = super().parse_status(task_id, data)
        return TaskStatus(
            task_id=task_id, state=status.state, fail_message=status.fail_message, raw=data
        )


class LosesFailMessage(Good):
    """Forgets KIE's errorMessage when a task fails (keeps the code)."""

    def parse_status(self, task_id, data):
        status = super().parse_status(task_id, data)
        return TaskStatus(task_id=task_id, state=status.state, fail_code=status.fail_code, raw=data)


class CallbackCrashes(Good):
    """Reads its callback's task id with bare indexing: a KeyError on another family's body."""

    def callback_task_id(self, payload):
        return payload["data"]["job"]["id"]


class FetchesInBuildRequest(Good):
    """Looks something up over HTTP while building the request (and swallows the error)."""

    def body(self, model_id, params):
        import urllib.request

        try:
            urllib.request.urlopen("http://127.0.0.1:9/lookup", timeout=1).read()
        except Exception:
            pass
        return super().body(model_id, params)


class ReadsAFileInParseStatus(Good):
    """Reads a settings file while mapping a status."""

    def parse_status(self, task_id, data):
        try:
            open("/etc/hostname").close()
        except Exception:
            pass
        return super().parse_status(task_id, data)


class NoResultFiles(Good):
    """Finds no files in a succeeded task."""

    def assets(self, task_id, response):
        return ()


class CrashesOnOddPayload(Good):
    """Reads the payload with bare indexing: KeyError/TypeError escape, not ProtocolError."""

    def parse_status(self, task_id, data):
        self.flags[data["successFlag"]]  # KeyError: unknown flag; TypeError: data is a list
        return super().parse_status(task_id, data)


class Impure(Good):
    """Puts a counter in every body, so the same input never builds the same request."""

    calls = 0

    def body(self, model_id, params):
        Impure.calls += 1
        return {**super().body(model_id, params), "watermark": f"n{Impure.calls}"}


RECORD = {
    "taskId": "t1",
    "paramJson": "{}",
    "completeTime": None,
    "createTime": "2025-06-06 10:25:00",
    "response": None,
    "successFlag": 0,
    "errorCode": None,
    "errorMessage": "",
}
DONE = {"originImageUrl": "https://e.example/o.jpg", "resultImageUrl": "https://e.example/r.jpg"}
DOCUMENTED = (
    (RECORD, State.RUNNING),
    (RECORD | {"successFlag": 1, "response": DONE}, State.SUCCEEDED),
    (RECORD | {"successFlag": 2, "errorCode": 400, "errorMessage": "flagged"}, State.FAILED),
    (RECORD | {"successFlag": 3, "errorCode": 501, "errorMessage": "failed"}, State.FAILED),
)


# Random examples per property test (the pure ones draw 4x as many), besides the explicit ones
# every run tries first (each bound, choice and optional field). Every planted bug is caught
# with 3 (the same outcomes, test by test, as with 10); 5 leaves a margin, for a fifth less CPU.
# A plugin's own suite keeps the default, 30.
EXAMPLES = 5


class Contract(ProviderContract):
    check_entry_points = False
    documented_statuses = DOCUMENTED
    max_examples = EXAMPLES


# the pending status with the progress it means: 45 of 0-100
WITH_PROGRESS = ((RECORD | {"progress": 45}, State.RUNNING, 0.45), *DOCUMENTED)


class AnyMarket(MarketProvider):
    name = "fake-any-market"
    models = (Model("*", OpenInput, None),)


class FlatBody(AnyMarket):
    """Spreads the input over the body, as the legacy families do: KIE finds no `input` (422)."""

    def build_request(self, model_id, params, *, callback_url=None):
        request = super().build_request(model_id, params, callback_url=callback_url)
        body = dict(request.body)
        body.update(body.pop("input"))
        return attrs.evolve(request, body=body)


class CamelCaseInput(AnyMarket):
    """Renames free-form fields to camelCase: KIE gets fields the user never wrote, and ignores
    them (aspect_ratio → aspectRatio), so only the as-given check can tell."""

    def build_request(self, model_id, params, *, callback_url=None):
        request = super().build_request(model_id, params, callback_url=callback_url)
        body = dict(request.body)
        body["input"] = {camel(key): value for key, value in body["input"].items()}
        return attrs.evolve(request, body=body)


class AlwaysImage(AnyMarket):
    """Calls every result an image, whatever the file (an mp4 of a video model included)."""

    def extract_results(self, task_id, data):
        results = super().extract_results(task_id, data)
        images = tuple(attrs.evolve(a, kind=MediaKind.IMAGE) for a in results.assets)
        return attrs.evolve(results, assets=images)


class DeclaredImages(AnyMarket):
    """Declares that every model makes images, a video model too (its tasks make MP4s): the
    user gets the MP4 labelled an image and saved as .bin."""

    models = (Model("*", OpenInput, MediaKind.IMAGE),)


class UncheckedCatalogue(AnyMarket):
    """Documents the choices of a field (as a catalogue does) but never checks them: KIE
    refuses the request the README promised would be refused before it was sent."""

    def input_fields(self, model_id):
        return (InputField("aspect_ratio", "string", choices=("1:1", "3:2")),)


class FirstFileOnly(AnyMarket):
    """Keeps the first of a task's files: the user pays for six images and gets one."""

    def extract_results(self, task_id, data):
        results = super().extract_results(task_id, data)
        return attrs.evolve(results, assets=results.assets[:1])


class LenientOpenInput(AnyMarket):
    """Drops a value that is not JSON instead of refusing the input."""

    def make_input(self, model_id, values=None, **fields):
        if isinstance(values, Input):
            return super().make_input(model_id, values, **fields)
        merged = {**(values or {}), **fields}
        try:
            return super().make_input(model_id, merged)
        except ValidationError as exc:
            merged.pop(exc.field, None)
            return super().make_input(model_id, merged)


MARKET_RECORD = {
    "taskId": "t1",
    "model": "grok-imagine/text-to-image",
    "state": "waiting",
    "param": json.dumps({"input": json.dumps({"prompt": "a fox"}), "model": "x"}),
    "resultJson": "",
    "failCode": None,
    "failMsg": None,
    "costTime": None,
    "completeTime": None,
    "createTime": 1776323915587,
}
RESULT_1, RESULT_2 = "https://e.example/r1.jpg", "https://e.example/r2.jpg"
MARKET_DOCUMENTED = (
    (MARKET_RECORD, State.QUEUED),
    (MARKET_RECORD | {"state": "generating"}, State.RUNNING),
    (
        MARKET_RECORD
        | {"state": "success", "resultJson": json.dumps({"resultUrls": [RESULT_1, RESULT_2]})},
        State.SUCCEEDED,
    ),
    (MARKET_RECORD | {"state": "fail", "failCode": "422", "failMsg": "flagged"}, State.FAILED),
)
T2I = "grok-imagine/text-to-image"
T2V = "grok-imagine/text-to-video"


class PatternContract(ProviderContract):
    check_entry_points = False
    documented_statuses = MARKET_DOCUMENTED
    max_examples = EXAMPLES
    pattern_models = {"*": (T2I, T2V)}
    example_inputs = {
        T2I: {"prompt": "a fox", "aspect_ratio": "1:1"},
        T2V: {"prompt": "a fox running", "duration": "6"},
    }


class TestGood(Contract):
    provider = Good()


class TestUnknownFlagIsRunning(Contract):
    provider = UnknownFlagIsRunning()


class TestCreateFailedIsPending(Contract):
    provider = CreateFailedIsPending()


class TestWrongWireName(Contract):
    provider = WrongWireName()


class TestAspectRatioElsewhere(Contract):
    provider = AspectRatioElsewhere()


class TestReadsProgress(Contract):
    provider = ReadsProgress()
    documented_statuses = WITH_PROGRESS


class TestProgressOnAnotherScale(Contract):
    provider = ProgressOnAnotherScale()
    documented_statuses = WITH_PROGRESS


class TestWiderThanKie(Contract):
    provider = WiderThanKie()
    max_examples = 30


class TestNarrowerThanKie(Contract):
    provider = NarrowerThanKie()


class TestOptionalAnnotatedRequired(Contract):
    provider = OptionalAnnotatedRequired()


class TestOptionalWithoutDefault(Contract):
    provider = OptionalWithoutDefault()


class TestLenientInput(Contract):
    provider = LenientInput()


class TestIgnoresCallback(Contract):
    provider = IgnoresCallback()


class TestDropsAspectRatio(Contract):
    provider = DropsAspectRatio()


class TestLosesFailCode(Contract):
    provider = LosesFailCode()


class TestNoResultFiles(Contract):
    provider = NoResultFiles()


class TestDropsOriginal(Contract):
    provider = DropsOriginal()


class TestOriginalLeftOutOnPurpose(Contract):
    provider = DropsOriginal()
    left_out_files = {"response.originImageUrl": "the result's own file, linked for 10 minutes"}


class TestCrashesOnOddPayload(Contract):
    provider = CrashesOnOddPayload()


class TestImpure(Contract):
    provider = Impure()


class TestLosesFailMessage(Contract):
    provider = LosesFailMessage()


class TestCallbackCrashes(Contract):
    provider = CallbackCrashes()


class TestFetchesInBuildRequest(Contract):
    provider = FetchesInBuildRequest()


class TestReadsAFileInParseStatus(Contract):
    provider = ReadsAFileInParseStatus()


class TestNothingDocumented(Contract):
    provider = Good()
    documented_statuses = ()


class TestOnlySuccessDocumented(Contract):
    provider = Good()
    documented_statuses = DOCUMENTED[1:2]


class TestNotInstalled(Contract):
    provider = Good()
    check_entry_points = True


class TestAnyMarket(PatternContract):
    provider = AnyMarket()


class TestFlatBody(PatternContract):
    provider = FlatBody()


class TestCamelCaseInput(PatternContract):
    provider = CamelCaseInput()


class TestAlwaysImage(PatternContract):
    provider = AlwaysImage()


class TestDeclaredImages(PatternContract):
    provider = DeclaredImages()


class TestUncheckedCatalogue(PatternContract):
    provider = UncheckedCatalogue()


class TestFirstFileOnly(PatternContract):
    provider = FirstFileOnly()


class TestLenientOpenInput(PatternContract):
    provider = LenientOpenInput()


class TestPatternUntested(PatternContract):
    provider = AnyMarket()
    pattern_models = {}
'''

CONTRACT_TESTS = {
    "test_models_are_declared",
    "test_entry_points_declare_the_models",
    "test_status_request_names_the_task",
    "test_every_pending_state_reads_as_pending",
    "test_valid_inputs_are_accepted_by_the_mock",
    "test_invalid_field_is_rejected_before_any_request",
    "test_field_checks_agree_with_the_mock",
    "test_documented_fields_are_checked_before_any_request",
    "test_task_succeeds_and_files_download[Client]",
    "test_task_succeeds_and_files_download[AsyncClient]",
    "test_failed_task_raises_task_failed_error[Client]",
    "test_failed_task_raises_task_failed_error[AsyncClient]",
    "test_documented_statuses_map_to_their_states",
    "test_documented_progress_is_read_on_its_scale",
    "test_undocumented_values_never_change_the_state",
    "test_undocumented_values_raise_only_protocol_error",
    "test_odd_payloads_raise_only_protocol_error",
    "test_callback_task_id_reads_any_json_or_returns_none",
    "test_pure_hooks_do_no_io",
}
LIFECYCLE = {
    "test_task_succeeds_and_files_download[Client]",
    "test_task_succeeds_and_files_download[AsyncClient]",
}
AGREE = "test_field_checks_agree_with_the_mock"  # the provider refuses what KIE (the mock) does
FAILURE = {
    "test_failed_task_raises_task_failed_error[Client]",
    "test_failed_task_raises_task_failed_error[AsyncClient]",
}

# class -> the contract tests its bug must fail (every other one passes)
EXPECTED_FAILURES: dict[str, set[str]] = {
    "TestGood": set(),
    "TestUnknownFlagIsRunning": {"test_undocumented_values_never_change_the_state"},
    "TestCreateFailedIsPending": {"test_documented_statuses_map_to_their_states"},
    "TestWrongWireName": {"test_valid_inputs_are_accepted_by_the_mock", AGREE}
    | LIFECYCLE
    | FAILURE,
    "TestAspectRatioElsewhere": {AGREE},
    "TestReadsProgress": set(),
    "TestProgressOnAnotherScale": {"test_documented_progress_is_read_on_its_scale"},
    "TestWiderThanKie": {"test_valid_inputs_are_accepted_by_the_mock", AGREE},
    "TestNarrowerThanKie": {AGREE},
    "TestOptionalAnnotatedRequired": {"test_models_are_declared"},
    "TestOptionalWithoutDefault": {"test_models_are_declared"},
    "TestLenientInput": {"test_invalid_field_is_rejected_before_any_request", AGREE},
    "TestIgnoresCallback": {"test_valid_inputs_are_accepted_by_the_mock"},
    "TestDropsAspectRatio": {"test_valid_inputs_are_accepted_by_the_mock"},
    "TestLosesFailCode": FAILURE,
    "TestNoResultFiles": LIFECYCLE | {"test_documented_statuses_map_to_their_states"},
    "TestDropsOriginal": LIFECYCLE,
    "TestOriginalLeftOutOnPurpose": set(),
    "TestCrashesOnOddPayload": {
        "test_undocumented_values_never_change_the_state",
        "test_undocumented_values_raise_only_protocol_error",
        "test_odd_payloads_raise_only_protocol_error",
    },
    "TestImpure": {"test_valid_inputs_are_accepted_by_the_mock"},
    "TestLosesFailMessage": FAILURE | {"test_documented_statuses_map_to_their_states"},
    "TestCallbackCrashes": {"test_callback_task_id_reads_any_json_or_returns_none"},
    "TestFetchesInBuildRequest": {"test_pure_hooks_do_no_io"},
    "TestReadsAFileInParseStatus": {"test_pure_hooks_do_no_io"},
    "TestNothingDocumented": {"test_documented_statuses_map_to_their_states"},
    "TestOnlySuccessDocumented": {"test_documented_statuses_map_to_their_states"},
    "TestNotInstalled": {"test_entry_points_declare_the_models"},
    "TestAnyMarket": set(),
    "TestFlatBody": {"test_valid_inputs_are_accepted_by_the_mock"} | LIFECYCLE | FAILURE,
    "TestCamelCaseInput": {"test_valid_inputs_are_accepted_by_the_mock"},
    "TestAlwaysImage": LIFECYCLE,
    "TestDeclaredImages": LIFECYCLE,
    "TestUncheckedCatalogue": {"test_documented_fields_are_checked_before_any_request"},
    "TestFirstFileOnly": LIFECYCLE | {"test_documented_statuses_map_to_their_states"},
    "TestLenientOpenInput": {"test_invalid_field_is_rejected_before_any_request"},
    "TestPatternUntested": {
        "test_models_are_declared",
        "test_documented_fields_are_checked_before_any_request",
        "test_valid_inputs_are_accepted_by_the_mock",
        "test_invalid_field_is_rejected_before_any_request",
        "test_pure_hooks_do_no_io",  # it has no example input to build a request of, either
        "test_status_request_names_the_task",  # nor a model to make a task of on the mock
        "test_every_pending_state_reads_as_pending",
        AGREE,
    }
    | LIFECYCLE
    | FAILURE,
}


# fakes whose create the mock refuses (valid-inputs fails, saying why): the tests of what comes
# after a create skip, naming it
CREATE_REFUSED = {"TestFlatBody", "TestWrongWireName"}
PENDING = "test_every_pending_state_reads_as_pending"


def test_each_bug_fails_exactly_the_contract_tests_that_should_catch_it(
    pytester: pytest.Pytester, run_contract: RunContract, failure_report: FailureReport
) -> None:
    pytester.makepyfile(test_fakes=FAKES)
    outcomes, out = run_contract("--tb=short")
    assert set(outcomes) == set(EXPECTED_FAILURES)
    wrong = []
    for cls, tests in sorted(outcomes.items()):
        assert set(tests) == CONTRACT_TESTS, f"{cls} ran {sorted(tests)}"
        failed = {test for test, outcome in tests.items() if outcome == "failed"}
        if failed != EXPECTED_FAILURES[cls]:
            missed = sorted(EXPECTED_FAILURES[cls] - failed)
            extra = sorted(failed - EXPECTED_FAILURES[cls])
            wrong.append(f"{cls}: did not fail {missed}; failed unexpectedly {extra}")
        skipped = {test for test, outcome in tests.items() if outcome == "skipped"}
        skips = set() if cls == "TestNotInstalled" else {"test_entry_points_declare_the_models"}
        if cls in CREATE_REFUSED:  # what comes after a create is not tested without one
            skips |= {"test_status_request_names_the_task", PENDING}
        if skipped != skips:
            wrong.append(f"{cls}: skipped {sorted(skipped)}")
    assert not wrong, "\n".join(wrong)

    # The plugin author learns which member of KIE's answer they did not read.
    dropped = failure_report(
        out, "TestDropsOriginal", "test_task_succeeds_and_files_download[Client]"
    )
    assert "extract_results left out files KIE hands out: response.originImageUrl (http" in dropped
