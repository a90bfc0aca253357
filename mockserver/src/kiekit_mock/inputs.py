"""Input files KIE cannot fetch: the mock's own upload links whose file is gone.

The mock owns the upload host, so it knows when an input URL of a create names one of its files
that is gone: past its 3 days (kie-api.md §1, §8), let go past ``upload_limit``, or never
uploaded. KIE fetches a task's inputs and reports one it cannot fetch (§7): the 4o Image and Veo
creates refuse it at once with code 451 ("failed to fetch/download input image", §7); on other
families the task fails, with code 400 and "image fetch failure" (§7: Flux reports it in its
callback) in the family's own failure shape (``TaskSnapshot.failure``). URLs on any other host
keep being taken on trust, as before: the families check only that an input is an http(s) URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .envelope import ErrorAnswer
from .rules import Outcome
from .state import TaskSpec
from .uploads import UploadStore

# §7: code 451 "failed to fetch/download input image" is listed for 4o, Veo and Veo 4K; Veo 4K
# takes a task id, not a file. [INF] the wording is the mock's: KIE's is not recorded.
REFUSED_AT_CREATE = frozenset({"gpt4o-image", "veo"})
REFUSAL_CODE = 451
REFUSAL_MSG = "Failed to fetch the input image"
# §7: code 400 "image fetch failure" (Veo/Flux/4o; Flux's callback); for another family's
# failed task [INF] the same code and words, in that family's failure shape
FAILURE = Outcome("fail", code=400, msg="image fetch failure")


def checker(store: UploadStore, now: Callable[[], float]) -> Callable[[TaskSpec], Outcome | None]:
    """What a new task's inputs decide (Store.input_check): None when every input is fine,
    the failing outcome when one is gone; an ErrorAnswer (451) for a family that refuses such
    a create, raised before anything is charged."""

    def check(spec: TaskSpec) -> Outcome | None:
        at = now()
        if not any(store.gone(url, at) for url in _urls(spec.request_body)):
            return None
        if spec.family in REFUSED_AT_CREATE:
            raise ErrorAnswer(REFUSAL_CODE, REFUSAL_MSG)
        return FAILURE

    return check


def _urls(value: object) -> Iterator[str]:
    """Every http(s) URL of a create body, however deeply nested (market `input` objects,
    lists of `image_urls`)."""
    if isinstance(value, str):
        if value.startswith(("http://", "https://")):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _urls(item)


__all__ = ["FAILURE", "REFUSAL_CODE", "REFUSAL_MSG", "REFUSED_AT_CREATE", "checker"]
