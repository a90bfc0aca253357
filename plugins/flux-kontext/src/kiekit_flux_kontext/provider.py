"""Flux Kontext: generate an image from text, or edit one given as ``input_image``.

Wire facts (kie-api.md §3.2; the guide's §2.2 for the aspect ratios and defaults):
``POST /api/v1/flux/kontext/generate`` with a camelCase body naming the model in ``model``;
``GET /api/v1/flux/kontext/record-info`` reports ``successFlag`` 0–3 and, on success,
``response.resultImageUrl`` (kept 14 days) and ``response.originImageUrl`` (kept 10 minutes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen
from kiekit.plugin import (
    Asset,
    AssetRole,
    Input,
    MediaKind,
    Model,
    SuccessFlagProvider,
    ValidationError,
    asset,
    choice,
    flag,
    integer,
    text,
    url,
)

ASPECT_RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16", "16:21")
EDIT_SAFETY_MAX = 2  # safetyTolerance is 0–6 for generation but 0–2 for edits (§3.2)


@frozen
class FluxKontext(Input):
    """Input of ``flux-kontext-pro`` and ``flux-kontext-max``. None leaves KIE's default."""

    prompt: str = text()
    input_image: str | None = url(default=None)
    aspect_ratio: str | None = choice(*ASPECT_RATIOS, default=None)  # KIE's default: 16:9
    output_format: str | None = choice("jpeg", "png", default=None)  # KIE's default: jpeg
    enable_translation: bool | None = flag(default=None)  # KIE's default: true
    prompt_upsampling: bool | None = flag(default=None)
    safety_tolerance: int | None = integer(0, 6, default=None)  # KIE's default: 2
    upload_cn: bool | None = flag(default=None)
    watermark: str | None = text(default=None, required=False)

    def check(self) -> None:
        if (
            self.input_image is not None
            and self.safety_tolerance is not None
            and self.safety_tolerance > EDIT_SAFETY_MAX
        ):
            raise ValidationError(
                "safety_tolerance",
                f"must be 0–{EDIT_SAFETY_MAX} when editing an image (input_image is set); "
                f"got {self.safety_tolerance}",
            )


class FluxKontextProvider(SuccessFlagProvider):
    name = "flux-kontext"
    models = (
        Model("flux-kontext-pro", FluxKontext, MediaKind.IMAGE),
        Model("flux-kontext-max", FluxKontext, MediaKind.IMAGE),
    )
    create_path = "/api/v1/flux/kontext/generate"
    status_path = "/api/v1/flux/kontext/record-info"

    def body(self, model_id: str, params: Input) -> dict[str, Any]:
        return {"model": model_id, **super().body(model_id, params)}

    def assets(self, task_id: str, response: Mapping[str, Any]) -> tuple[Asset, ...]:
        found = [
            asset(response.get("resultImageUrl"), MediaKind.IMAGE, task_id=task_id, label="result")
        ]
        origin = response.get("originImageUrl")
        if origin:  # the unprocessed original; its link lasts only 10 minutes (§3.2, §8)
            extra = AssetRole.EXTRA
            found.append(
                asset(origin, MediaKind.IMAGE, task_id=task_id, label="origin", role=extra)
            )
        return tuple(found)
