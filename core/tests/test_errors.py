"""The exception tree: body codes → typed errors, fields, retryability, and no secrets in text."""

from __future__ import annotations

import pickle

import kiekit
import pytest
from kiekit import errors
from kiekit.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    FeatureDisabledError,
    GenerationFailedError,
    InputFetchError,
    InsufficientCreditsError,
    KeyQuotaExceededError,
    KieError,
    MaintenanceError,
    NotFoundError,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    ServerError,
    TaskFailedError,
    TransportError,
    UnknownModelError,
    UnprocessableError,
    ValidationError,
    WaitTimeoutError,
    api_error,
    http_error,
)

# kie-api.md §7: every body code the adapters must tell apart.
DOCUMENTED = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    404: NotFoundError,
    422: UnprocessableError,
    429: RateLimitedError,
    433: KeyQuotaExceededError,
    451: InputFetchError,
    455: MaintenanceError,
    500: ServerError,
    501: GenerationFailedError,
    505: FeatureDisabledError,
    550: QueueFullError,
}
RETRYABLE = {429, 455, 500, 550}


@pytest.mark.parametrize(("code", "cls"), sorted(DOCUMENTED.items()))
def test_each_documented_body_code_maps_to_its_class(code: int, cls: type[ApiError]) -> None:
    error = api_error(code, "KIE says no", task_id="task-9")

    assert type(error) is cls
    assert isinstance(error, ApiError)
    assert isinstance(error, KieError)
    assert error.code == code
    assert error.kie_message == "KIE says no"
    assert error.task_id == "task-9"
    assert error.retryable is (code in RETRYABLE)
    assert str(code) in str(error)
    assert "KIE says no" in str(error)


@pytest.mark.parametrize("code", [401, 402, 422, 400, 404, 433, 451, 501, 505])
def test_caller_faults_are_not_retryable(code: int) -> None:
    assert api_error(code, "x").retryable is False


def test_network_faults_and_timeouts_are_retryable() -> None:
    assert TransportError("reset").retryable is True
    assert DownloadError("reset", url="https://x/a.png").retryable is True
    assert WaitTimeoutError("t1", 900, "running").retryable is True


@pytest.mark.parametrize("error", [ProtocolError("junk"), TaskFailedError("t", "500", "boom")])
def test_unreadable_answers_and_failed_tasks_are_not_retryable(error: KieError) -> None:
    # retrying a failed task would pay for it again; junk stays junk
    assert error.retryable is False


@pytest.mark.parametrize("code", [502, 503, 531, 599])
def test_undocumented_5xx_body_code_is_a_retryable_server_error(code: int) -> None:
    error = api_error(code, "upstream hiccup")

    assert type(error) is ServerError
    assert error.code == code
    assert error.retryable is True


@pytest.mark.parametrize("code", [403, 405, 408, 413, 499, 600, 0])
def test_other_undocumented_codes_are_plain_api_errors(code: int) -> None:
    error = api_error(code, "odd")

    assert type(error) is ApiError
    assert error.code == code
    assert error.retryable is False


def test_missing_message_still_reads() -> None:
    error = api_error(401, None)

    assert isinstance(error, AuthenticationError)
    assert "401" in str(error)


def test_http_404_is_not_found() -> None:
    error = http_error(404, "Not Found", task_id="t7")

    assert type(error) is NotFoundError
    assert error.http_status == 404
    assert error.task_id == "t7"
    assert "404" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_a_retryable_server_error(status: int) -> None:
    error = http_error(status, "Bad Gateway")

    assert type(error) is ServerError
    assert error.http_status == status
    assert error.retryable is True


def test_http_429_from_a_proxy_is_rate_limited() -> None:
    error = http_error(429, "Too Many Requests")

    assert type(error) is RateLimitedError
    assert error.retryable is True


def test_body_code_errors_report_http_200() -> None:
    assert api_error(422, "x").http_status == 200


@pytest.mark.parametrize(
    "error",
    [
        api_error(402, "Credits insufficient", task_id="abc123"),
        TransportError("connection reset", task_id="abc123"),
        ProtocolError("unknown state", task_id="abc123"),
        TaskFailedError("abc123", "422", "Invalid prompt"),
        WaitTimeoutError("abc123", 901.2, "running"),
        DownloadError("HTTP 403", url="https://cdn/x.png", task_id="abc123"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_str_includes_the_task_id(error: KieError) -> None:
    """Nothing paid for is lost with the traceback: the id is in the text a user sees."""
    assert "abc123" in str(error)
    assert error.task_id == "abc123"


def test_str_without_task_id_has_no_placeholder() -> None:
    assert str(TransportError("connection reset")) == "connection reset"


def test_task_failed_error_carries_the_fail_code_and_message() -> None:
    error = TaskFailedError("abc123", "422", "Invalid prompt: nsfw")

    assert error.fail_code == "422"
    assert error.fail_message == "Invalid prompt: nsfw"
    assert "422" in str(error)
    assert "Invalid prompt: nsfw" in str(error)


def test_task_failed_error_without_reason_says_so() -> None:
    error = TaskFailedError("abc123", None, None)

    assert error.fail_code is None
    assert "abc123" in str(error)


@pytest.mark.parametrize(
    ("fail_code", "code"), [("422", 422), ("500", 500), ("SENSITIVE_WORD", "SENSITIVE_WORD"),
                            (None, None), ("", None)],
)  # fmt: skip
def test_task_failed_error_answers_code_as_every_kie_error_does(
    fail_code: str | None, code: int | str | None
) -> None:
    """The README promises `code` on every error: a handler `except KieError as e: log(e.code)`
    crashed on a failed task (AttributeError; the music QA's finding 3). Its ``code`` is KIE's
    failCode as the number it spells (as a refused call's), ``fail_code`` stays as it came."""
    error = TaskFailedError("abc123", fail_code, "no")

    assert error.code == code
    assert error.fail_code == fail_code
    assert pickle.loads(pickle.dumps(error)).code == code  # noqa: S301 - our own bytes


@pytest.mark.parametrize(
    "error",
    [
        TransportError("connection reset"),
        ValidationError("prompt", "is required"),
        WaitTimeoutError("t1", 3.0, None),
        DownloadError("HTTP 403", url="https://cdn/x.png"),
        KieError("anything"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_error_without_a_kie_code_answers_code_none(error: KieError) -> None:
    assert error.code is None


def test_an_api_error_code_is_kie_body_code() -> None:
    assert api_error(402, "top up").code == 402


def test_wait_timeout_error_keeps_the_wait_facts() -> None:
    error = WaitTimeoutError("abc123", 62.4, "running")

    assert error.waited == 62.4
    assert error.last_state == "running"
    assert "62" in str(error)
    assert "running" in str(error)


def test_validation_error_names_the_field_and_is_a_value_error() -> None:
    error = ValidationError("aspect_ratio", "must be one of 1:1, 16:9")

    assert error.field == "aspect_ratio"
    assert isinstance(error, ValueError)
    assert str(error).startswith("aspect_ratio")


def test_unknown_model_error_lists_what_is_installed() -> None:
    error = UnknownModelError("nope", ["b-model", "a-model"])

    assert isinstance(error, LookupError)
    assert error.model == "nope"
    assert "a-model, b-model" in str(error)


def test_download_error_carries_the_url() -> None:
    error = DownloadError("HTTP 403", url="https://cdn/x.png")

    assert error.url == "https://cdn/x.png"
    assert isinstance(error, TransportError)


def test_every_error_class_is_exported_and_a_kie_error() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]

    assert classes
    for cls in classes:
        assert issubclass(cls, KieError)
        assert cls.__name__ in errors.__all__
        assert getattr(kiekit, cls.__name__) is cls


@pytest.mark.parametrize(
    "error",
    [
        api_error(429, "slow down", task_id="t1"),
        TaskFailedError("t1", "422", "Invalid prompt"),
        WaitTimeoutError("t1", 900.0, "running"),
        DownloadError("HTTP 403", url="https://cdn/x.png", task_id="t1"),
        ValidationError("prompt", "is required"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_survive_pickling_to_and_from_worker_processes(error: KieError) -> None:
    """multiprocessing / ProcessPoolExecutor hand exceptions back pickled: a task id must
    not be lost on the way, nor the unpickling itself fail."""
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.task_id == error.task_id
