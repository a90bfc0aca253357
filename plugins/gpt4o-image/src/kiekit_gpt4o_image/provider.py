"""4o Image (GPT-Image-1): generate images from text, edit given images (with a mask), or make
variants of them.

Wire facts (kie-api.md §3.1, from KIE's generate-4-o-image / get-4-o-image-details /
get-4-o-image-download-url pages; the guide's §2.1 for the examples):

- ``POST /api/v1/gpt4o-image/generate`` with a camelCase body and **no model field**: the API is
  one model, so kiekit names it after the path segment, ``gpt4o-image``. ``size`` is the only
  required field; a prompt may be left out when input images (``filesUrl``) are given.
- ``GET /api/v1/gpt4o-image/record-info`` reports ``successFlag`` 0–3 beside a ``status`` word
  (GENERATING / SUCCESS / CREATE_TASK_FAILED / GENERATE_FAILED), ``progress`` as a *string*
  "0.00"–"1.00", and the images at ``response.resultUrls`` (kept 14 days).
- ``POST /api/v1/gpt4o-image/download-url`` ``{taskId, url}`` → a direct link valid 20 minutes;
  see :meth:`Gpt4oImageProvider.download_url_request`.

KIE's own pages disagree on spellings, so the reader is liberal: the guide's status example has
``successFlag: "1"`` (a string) and ``response.result_urls`` (snake_case), the quickstart page
shows a record with only the ``status`` word and no ``successFlag``, and the guide's example
carries no ``taskId``. All of these read; a ``status`` word that contradicts ``successFlag`` is
a protocol error rather than a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen
from kiekit.plugin import (
    Asset,
    Input,
    MediaKind,
    Model,
    ProtocolError,
    Rate,
    Request,
    SuccessFlagProvider,
    SuccessFlagRecord,
    ValidationError,
    assets,
    choice,
    flag,
    is_http_url,
    text,
    url,
    urls,
)

__all__ = [
    "DOWNLOAD_URL_PATH",
    "MODEL_ID",
    "STATUS_WORDS",
    "Gpt4oImage",
    "Gpt4oImageProvider",
]

MODEL_ID = "gpt4o-image"
CREATE_PATH = "/api/v1/gpt4o-image/generate"
STATUS_PATH = "/api/v1/gpt4o-image/record-info"
DOWNLOAD_URL_PATH = "/api/v1/gpt4o-image/download-url"

SIZES = ("1:1", "3:2", "2:3")
MAX_FILES = 5

# The record's ``status`` word and the successFlag it stands for (§3.1).
STATUS_WORDS: Mapping[str, int] = {
    "GENERATING": 0,
    "SUCCESS": 1,
    "CREATE_TASK_FAILED": 2,
    "GENERATE_FAILED": 3,
}


@frozen
class Gpt4oImage(Input):
    """Input of ``gpt4o-image``. None leaves KIE's default (one variant, no enhancement).

    The deprecated single-image ``fileUrl`` is left out on purpose: ``files_url`` replaces it.
    """

    prompt: str | None = text(default=None, required=False)
    size: str = choice(*SIZES, required=True)
    files_url: tuple[str, ...] | None = urls(default=None, max_items=MAX_FILES, media="image")
    mask_url: str | None = url(default=None)
    n_variants: int | None = choice(1, 2, 4, default=None)  # KIE's default: 1
    is_enhance: bool | None = flag(default=None)  # KIE's default: false
    upload_cn: bool | None = flag(default=None)
    enable_fallback: bool | None = flag(default=None)  # KIE's default: false
    # "takes effect when enableFallback is true" (KIE's default: FLUX_MAX); accepted alone too
    fallback_model: str | None = choice("GPT_IMAGE_1", "FLUX_MAX", default=None)

    def check(self) -> None:
        if self.n_variants is not None and type(self.n_variants) is not int:
            # kiekit's choice() lets 2.0 pass for 2 (they compare equal); KIE's nVariants is
            # an integer, and JSON would carry 2.0
            raise ValidationError("n_variants", f"must be 1, 2 or 4; got {self.n_variants!r}")
        # "Either fileUrl/filesUrl or prompt must be provided" (generate-4-o-image)
        if not (self.prompt and self.prompt.strip()) and not self.files_url:
            raise ValidationError("prompt", "give a prompt, input images (files_url), or both")
        if self.mask_url is not None and not self.files_url:
            # the mask marks what to change in an image being edited. KIE adds that "when the
            # filesUrl contains more than one image, this parameter is not available": it is
            # then not used, which is not refused here (see the README).
            raise ValidationError("mask_url", "needs the image to edit in files_url")


class Gpt4oImageProvider(SuccessFlagProvider):
    name = "gpt4o-image"
    models = (Model(MODEL_ID, Gpt4oImage, MediaKind.IMAGE),)
    create_path = CREATE_PATH
    status_path = STATUS_PATH
    status_rate_per_task = Rate(3, 1.0)  # "Max query rate 3/s per task" (§3.1, §8)

    def record(self, task_id: str, data: Any) -> SuccessFlagRecord:
        if not isinstance(data, dict):
            return super().record(task_id, data)  # the core names the misfit
        word = data.get("status")
        known = STATUS_WORDS.get(word) if isinstance(word, str) else None
        filled = dict(data)
        if filled.get("taskId") is None:
            filled["taskId"] = task_id  # the guide's abbreviated example has no taskId
        if filled.get("successFlag") is None and known is not None:
            filled["successFlag"] = known  # the quickstart page's record has only the word
        found = super().record(task_id, filled)
        state = self.flags.get(found.success_flag)  # an unknown flag is the core's to report
        if known is not None and state is not None and state is not self.flags[known]:
            raise ProtocolError(
                f"status {word!r} contradicts successFlag {found.success_flag}",
                task_id=task_id,
                payload=data,
            )
        return found

    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        # record-info documents response.resultUrls; the guide (and KIE's quickstart page)
        # show response.result_urls, the callback's spelling (§3.1, §6.2)
        found = response.get("resultUrls")
        if found is None:
            found = response.get("result_urls")
        return assets(found, MediaKind.IMAGE, task_id=task_id)

    # -- the extra endpoint: a fresh direct link ----------------------------------------------

    def download_url_request(self, task_id: str, url: str) -> Request:
        """The call that turns one of a finished task's image URLs into a direct download link,
        valid 20 minutes (KIE's answer to cross-origin download problems). Send it with
        ``client.call(request, task_id=task_id)`` and read the answer with
        :meth:`parse_download_url`."""
        if not isinstance(task_id, str) or not task_id.strip():
            raise ValidationError("task_id", "must be a task id")
        if not is_http_url(url):
            raise ValidationError("url", f"must be an http(s) URL; got {url!r}")
        return Request("POST", DOWNLOAD_URL_PATH, body={"taskId": task_id, "url": url})

    def parse_download_url(self, data: Any, *, task_id: str | None = None) -> str:
        """The link from download-url's ``data``: a URL string (§3.1). The quickstart page's
        sketch reads ``data.downloadUrl`` instead; that is accepted too."""
        link = data.get("downloadUrl") if isinstance(data, dict) else data
        if not isinstance(link, str) or not is_http_url(link):
            raise ProtocolError(
                "download-url answered no http(s) URL", task_id=task_id, payload=data
            )
        return link
