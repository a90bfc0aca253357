"""What travels through the broker: a job and where its files go, and the job's result.

Plain JSON (Celery's json serializer): the job as read from the jobs file, the output folder
as an absolute path on the workers, the timeout and the poll interval. Never the API key: each
worker reads its own from its environment.

The task's four arguments are those of every kiekit since the Celery batch came; what came
later travels as a message header, which a worker of an older kiekit ignores (a fifth argument
made its task raise TypeError, failing every job of a batch sent during a rolling upgrade).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import evolve

from kiekit._numbers import finite
from kiekit.batch import Job, JobResult
from kiekit.errors import ValidationError

TASK_NAME = "kiekit.run_job"
# When the batch began (its journal's clock): a job it held back is answered from its row
# (celery_app.run_job_task). A header, so that an older worker runs the job all the same.
REFUSED_SINCE_HEADER = "kiekit_refused_since"
# The run's id: a worker writes it with the task id of a create it made (Entry.run), so the
# run's summary counts each task it paid for once, whichever worker finished the job
# (collect.made_by_run). A header too: an older worker ignores it (and writes none).
RUN_HEADER = "kiekit_run"
# A key of a worker's answer, never of results.jsonl: the job's task was found in a row taken
# over from a holder that was gone (JobResult.taken_from_gone). An older sender ignores it.
TAKEN_FROM_GONE = "taken_from_gone"


def task_options(
    job: Job,
    out_dir: str,
    timeout: float | None,
    poll_interval: float | None,
    since: float,
    run: str | None = None,
) -> dict[str, Any]:
    """``send_task``'s arguments for one job: the four arguments every worker's task takes,
    and the batch's start and its run's id in headers."""
    headers: dict[str, Any] = {REFUSED_SINCE_HEADER: since}
    if run is not None:
        headers[RUN_HEADER] = run
    return {"args": [job_message(job), out_dir, timeout, poll_interval], "headers": headers}


def job_message(job: Job) -> dict[str, Any]:
    message = {"line": job.line, "id": job.id, "model": job.model, "input": dict(job.input)}
    if job.callback_url is not None:  # a key an older worker ignores (it sends no callback)
        message["callback_url"] = job.callback_url
    return message


def job_from_message(message: object) -> Job:
    """The job of a message; a malformed one raises ValidationError naming the field."""
    if not isinstance(message, Mapping):
        raise ValidationError(
            "job", "must be a JSON object {line, id, model, input, callback_url?}"
        )
    line, job_id, model, params = (message.get(k) for k in ("line", "id", "model", "input"))
    if isinstance(line, bool) or not isinstance(line, int):
        raise ValidationError("job.line", "must be a line number")
    if not isinstance(job_id, str) or not job_id:
        raise ValidationError("job.id", "must be a non-empty string")
    if not isinstance(model, str) or not model:
        raise ValidationError("job.model", "must be a model id")
    if not isinstance(params, Mapping):
        raise ValidationError("job.input", "must be a JSON object")
    callback = message.get("callback_url")
    if callback is not None and not isinstance(callback, str):
        raise ValidationError("job.callback_url", "must be an http(s) URL")
    return Job(line, job_id, model, dict(params), callback)


def run_of(value: object) -> str | None:
    """The run's id a message carries; None from a kiekit that sends none, or one that is not
    a short text (only counting reads it: never a reason to refuse the job)."""
    if isinstance(value, str) and 0 < len(value) <= 64:
        return value
    return None


def refused_since_of(value: object) -> float | None:
    """The batch's start a message carries; None from a kiekit that sends none. ValidationError
    naming the header when it is not a number."""
    if value is None:
        return None
    number = finite(value)
    if number is None:
        raise ValidationError(REFUSED_SINCE_HEADER, "must be a number (the batch's start)")
    return number


def answer_of(result: JobResult) -> dict[str, Any]:
    """A worker's answer: the job's result as JSON, and whether its task was taken over from
    a holder that was gone (:data:`TAKEN_FROM_GONE`, only when so)."""
    answer = result.to_json()
    if result.taken_from_gone:
        answer[TAKEN_FROM_GONE] = True
    return answer


def result_from_answer(job: Job, answer: object) -> JobResult:
    """A worker's answer as a JobResult: its JSON result, or the exception its task raised
    (Celery hands those back as values), reported against the job."""
    if isinstance(answer, Mapping):
        result = JobResult.from_json(answer)
        gone = answer.get(TAKEN_FROM_GONE) is True
        return evolve(result, taken_from_gone=True) if gone else result
    if isinstance(answer, BaseException):
        message = str(answer) or type(answer).__name__
        error = {"type": type(answer).__name__, "message": message}
    else:
        error = {"type": "WorkerError", "message": f"a worker answered {type(answer).__name__}"}
    return JobResult(job.line, job.id, "error", model=job.model, error=error)
