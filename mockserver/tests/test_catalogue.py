"""KIE's market catalogue as data (market_models/catalogue.json): its form, and every entry
served as KIE serves the model — validated with a 422 naming the field, a real result file of
the entry's type."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock.families.market_models import MODELS, catalogue
from kiekit_mock.families.market_models.base import result_object

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

DOCUMENT = catalogue.read()
EVERY_ENTRY = {entry["id"]: entry for entry in DOCUMENT["models"]}
# Entries the catalogue checks itself; the others name a module of their own (grok, kling, sora)
ENTRIES = {name: entry for name, entry in EVERY_ENTRY.items() if entry["fields"]}
# The ids issue 13 names: real KIE served every one of them
NAMED_IN_ISSUE_13 = (
    "nano-banana-2",
    "nano-banana-pro",
    "seedream/5-lite-text-to-image",
    "bytedance/seedance-2",
    "bytedance/seedance-2-fast",
    "gpt-image-2-text-to-image",
    "gpt-image-2-image-to-image",
    "qwen2/text-to-image",
    "qwen2/image-edit",
    "wan/2-7-image",
    "wan/2-7-image-pro",
    "wan/2-7-image-to-video",
    "wan/2-7-r2v",
    "wan/2-7-videoedit",
    "happyhorse/text-to-video",
    "happyhorse/image-to-video",
    "happyhorse/reference-to-video",
    "happyhorse/video-edit",
)
MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpg": b"\xff\xd8\xff",
    "mp3": b"ID3",
    "wav": b"RIFF",
}
INPUT_URL = "https://example.com/in.png"  # only ever a string to the mock: nothing fetches it


def minimal_input(entry: dict[str, Any]) -> dict[str, Any]:
    """The smallest input the entry calls valid: each required field with a plain value, and
    the first of the fields it needs one of."""
    fields = entry["fields"]
    needed = [f for f, spec in fields.items() if spec.get("required")]
    one_of = entry.get("requires_one_of", [])[:1]
    return {field: plain_value(fields[field]) for field in needed + one_of}


def plain_value(spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if "enum" in spec:
        return spec["enum"][0]
    return {
        "string": "a lighthouse at dawn",
        "boolean": True,
        "integer": spec.get("min", 1),
        "number": spec.get("min", 1),
        "url": INPUT_URL,
        "urls": [INPUT_URL],
        "texts": ["a lighthouse"],
        "objects": [{"text": "hello", "voice": "Rachel"}],
        "list": [1] * spec.get("min_items", 1),
    }[kind]


def _text_entry(document: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = next(
        e for e in document["models"] if e["id"] == "elevenlabs/speech-to-text"
    )
    return entry


# -- the document's form -----------------------------------------------------------------------


def test_the_catalogue_is_well_formed_and_covers_the_models_kie_served() -> None:
    assert catalogue.problems(DOCUMENT) == []
    assert len(EVERY_ENTRY) >= 130
    assert set(NAMED_IN_ISSUE_13) <= set(ENTRIES)
    assert set(EVERY_ENTRY) == set(MODELS)  # every entry is served, and nothing else is


def test_entries_checked_by_a_module_agree_with_it() -> None:
    for name, entry in EVERY_ENTRY.items():
        model = MODELS[name]
        assert model.kind == entry["kind"], name
        expected = (
            entry["file"]
            if model.result_ext
            else {"image": "jpg", "video": "mp4", "audio": "mp3", "text": "json"}[model.kind]
        )
        assert expected == entry["file"], name


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda d: d["models"].append(copy.deepcopy(d["models"][0])),
            "nano-banana-pro: listed twice",
        ),
        (lambda d: d["models"][0].update(kind="picture"), "nano-banana-pro.kind"),
        (lambda d: d["models"][0].update(file="mp4"), "nano-banana-pro.file"),
        (lambda d: d["models"][0].update(source=""), "nano-banana-pro.source"),
        (lambda d: d["models"][0].update(colour="red"), "unknown key 'colour'"),
        (lambda d: d["models"][0]["fields"].update(x={"type": "text"}), "nano-banana-pro.x: type"),
        (
            lambda d: d["models"][0]["fields"].update(x={"type": "string", "enum": []}),
            "nano-banana-pro.x: enum",
        ),
        (
            lambda d: d["models"][0]["fields"].update(x={"type": "integer", "min": 5, "max": 1}),
            "nano-banana-pro.x: min 5 is above max 1",
        ),
        (
            lambda d: d["models"][0]["fields"].update(x={"type": "urls", "max_items": 0}),
            "nano-banana-pro.x: max_items",
        ),
        (lambda d: d["models"][0].update(id="has space"), "models[0].id"),
        (lambda d: d["models"][0].update(count_field="prompt_x"), "nano-banana-pro.count_field"),
        (lambda d: d["models"][0].update(requires_one_of=["prompt"]), ".requires_one_of"),
        (lambda d: d["models"][0].update(results=0), "nano-banana-pro.results"),
        (
            lambda d: d["models"][0]["fields"].update(x={"type": "boolean", "min_length": 2}),
            "nano-banana-pro.x: min_length",
        ),
        (
            lambda d: d["models"][0]["fields"].update(x={"type": "string", "missing": "gone"}),
            "nano-banana-pro.x: missing",
        ),
        (
            lambda d: d["models"][0]["fields"].update(x={"type": "objects", "items": {}}),
            "nano-banana-pro.x: items must be an object",
        ),
        (
            lambda d: d["models"][0]["fields"].update(
                x={"type": "objects", "items": {"url": {"type": "link"}}}
            ),
            "nano-banana-pro.x: items.url: type",
        ),
        (
            lambda d: d["models"][0]["fields"].update(
                x={"type": "urls", "items": {"url": {"type": "url"}}}
            ),
            "nano-banana-pro.x: items (an entry's members) is on an objects field",
        ),
        # a text model documents its resultObject; a model of files has none
        (lambda d: _text_entry(d).pop("result"), "elevenlabs/speech-to-text.result"),
        (lambda d: _text_entry(d).update(result=[]), "elevenlabs/speech-to-text.result"),
        (lambda d: d["models"][0].update(result={"a": 1}), "nano-banana-pro.result: only"),
        # a refused id is no served one, names one KIE serves, and says where it comes from
        (lambda d: d["refused"][0].update(id="nano-banana-pro"), "refused[0].id"),
        (lambda d: d["refused"][0].update(use="nano-banana-9"), "refused[0].use"),
        (lambda d: d["refused"][0].update(source=""), "refused[0].source"),
        (lambda d: d["refused"].append({"id": "x"}), "refused[2]: must be an object"),
    ],
)
def test_a_malformed_entry_is_named(break_it: Any, expected: str) -> None:
    document = copy.deepcopy(DOCUMENT)
    break_it(document)
    found = catalogue.problems(document)
    assert any(expected in problem for problem in found), found


def test_each_text_model_answers_its_own_value_not_another_model_s(kie: Kie) -> None:
    """kie-api.md §2.2: a text model's resultJson is {"resultObject": …}; a transcription
    answers a transcript, a Sora character task a character id, each as its entry says."""
    values = {}
    inputs: list[tuple[str, dict[str, Any]]] = [
        ("elevenlabs/speech-to-text", {"audio_url": "https://example.com/a.mp3"}),
        ("omnihuman-1-5/human-identification", {"image_url": INPUT_URL}),
        ("sora-2-characters", {"character_file_url": ["https://example.com/v.mp4"]}),
    ]
    for model, given in inputs:
        task_id = kie.create(model, **given)
        values[model] = json.loads(kie.record(task_id)["resultJson"])["resultObject"]
        assert values[model] == result_object(EVERY_ENTRY[model]["result"], task_id)
    transcript = values["elevenlabs/speech-to-text"]
    assert set(transcript) == {"text", "language_code", "language_probability", "words"}
    assert values["omnihuman-1-5/human-identification"] == {"subject_status": 1}
    assert values["sora-2-characters"]["character_id"].startswith("char_")


# -- every entry, served -------------------------------------------------------------------------


@pytest.mark.parametrize("model", sorted(ENTRIES))
def test_each_catalogue_model_runs_and_serves_a_real_file_of_its_type(
    make_mock: MakeMock, model: str
) -> None:
    entry = ENTRIES[model]
    _, kie = make_mock(strict_models=True)  # known: strict mode serves it too
    task_id = kie.create(model, **minimal_input(entry))
    record = kie.record(task_id)
    assert record["state"] == "success", record
    result = json.loads(record["resultJson"])
    if entry["kind"] == "text":  # the value the entry documents, for this task (§2.2)
        assert result == {"resultObject": result_object(entry["result"], task_id)}
        return
    urls = result["resultUrls"]
    assert len(urls) == entry.get("results", 1)
    for url in urls:
        assert url.endswith("." + entry["file"])
        body = kie.fetch(url).body
        if entry["file"] == "mp4":
            assert body[4:8] == b"ftyp"
        else:
            assert body.startswith(MAGIC[entry["file"]])


@pytest.mark.parametrize(
    ("model", "given", "files"),
    [
        ("nano-banana-2", {}, ["jpg"]),  # the page's default output_format
        ("nano-banana-2", {"output_format": "png"}, ["png"]),
        ("qwen2/text-to-image", {"output_format": "jpeg"}, ["jpg"]),
        ("qwen/image-edit", {"num_images": "3"}, ["png"] * 3),
        ("wan/2-7-image", {}, ["png"] * 4),  # n defaults to 4 (the page)
        ("wan/2-7-image", {"n": 2}, ["png"] * 2),
    ],
)
def test_the_input_chooses_the_files_type_and_number_where_the_page_says(
    kie: Kie, model: str, given: dict[str, Any], files: list[str]
) -> None:
    task_id = kie.create(model, **(minimal_input(ENTRIES[model]) | given))
    urls = json.loads(kie.record(task_id)["resultJson"])["resultUrls"]
    assert [url.rpartition(".")[2] for url in urls] == files
    for url in urls:
        assert kie.fetch(url).body.startswith(MAGIC[files[0]])


@pytest.mark.parametrize(
    "model",
    sorted(m for m, e in ENTRIES.items() if any(s.get("required") for s in e["fields"].values())),
)
def test_a_required_field_left_out_is_a_422_naming_it(kie: Kie, model: str) -> None:
    entry = ENTRIES[model]
    given = minimal_input(entry)
    field = next(f for f, s in entry["fields"].items() if s.get("required"))
    del given[field]
    answer = kie.post("/api/v1/jobs/createTask", {"model": model, "input": given}).json()
    assert (answer["code"], answer["msg"]) == (422, f"{field} cannot be empty")


@pytest.mark.parametrize(
    "model", ["seedream/5-lite-text-to-image", "seedream/5-lite-image-to-image"]
)
def test_seedream_5_lite_without_quality_is_refused_in_kies_words(kie: Kie, model: str) -> None:
    given = minimal_input(ENTRIES[model])
    del given["quality"]
    answer = kie.post("/api/v1/jobs/createTask", {"model": model, "input": given}).json()
    assert answer["msg"] == "This field is required"  # kie-api.md §2.4 (APICITY)


NOT_ALLOWED = "is not within the range of allowed options"
NINE = ["https://x.test/a.png"] * 9
REFS = "reference_image_urls"
PAIR: list[dict[str, Any]] = [{}, {}]
URLS = "image_input must contain valid http(s) URLs"
OBJECTS = "video_list must be an array of objects"
STRINGS = f"{REFS} must be an array of strings"


def _at(field: str, index: int) -> str:
    """A list's entry at fault, named by its place (its index)."""
    return f": {field}[{index}] is not one"


@pytest.mark.parametrize(
    ("model", "field", "value", "msg"),
    [
        ("nano-banana-pro", "resolution", "8K", f"resolution {NOT_ALLOWED}"),
        ("nano-banana-pro", "image_input", NINE, "image_input cannot contain more than 8 items"),
        ("seedream/5-lite-text-to-image", "quality", "ultra", f"quality {NOT_ALLOWED}"),
        ("gpt-image-2-image-to-image", "input_urls", "x", "input_urls must be an array of URLs"),
        ("gpt-image-2-text-to-image", "nsfw_checker", "yes", "nsfw_checker must be a boolean"),
        ("bytedance/seedance-2", "duration", "six", "duration must be an integer"),
        ("wan/2-7-videoedit", "video_url", "not a url", "video_url must be a valid http(s) URL"),
        ("qwen2/text-to-image", "prompt", "x" * 801, "prompt cannot exceed 800 characters"),
        ("seedream/5-lite-text-to-image", "prompt", "ab", "prompt must be at least 3 characters"),
        ("wan/2-7-image", "n", 13, "n must be between 1 and 12"),
        ("wan/2-7-image", "color_palette", [1, 2], "color_palette must contain at least 3 items"),
        ("bytedance/seedance-2", REFS, ["a", 1], f"{STRINGS}{_at(REFS, 1)}"),
        ("nano-banana-pro", "image_input", [NINE[0], "a.png"], f"{URLS}{_at('image_input', 1)}"),
        ("gemini-omni-video", "video_list", ["clip"], f"{OBJECTS}{_at('video_list', 0)}"),
        ("elevenlabs/text-to-dialogue-v3", "stability", 0.7, f"stability {NOT_ALLOWED}"),
        ("kling/v2-1-pro", "duration", "7", f"duration {NOT_ALLOWED}"),
        ("pixverse-v6/text-to-video", "duration", 16, "duration must be between 1 and 15"),
        ("minimax-h3/text-to-video", "duration", 3, "duration must be between 4 and 15"),
        ("google/gemini-3-1-flash-tts", "speakers", "Puck", "speakers must be an array of objects"),
        ("gemini-omni-video", "video_list", PAIR, "video_list cannot contain more than 1 items"),
    ],
)  # fmt: skip
def test_a_wrong_value_is_a_422_naming_the_field(
    kie: Kie, model: str, field: str, value: Any, msg: str
) -> None:
    given = minimal_input(ENTRIES[model]) | {field: value}
    answer = kie.post("/api/v1/jobs/createTask", {"model": model, "input": given}).json()
    assert (answer["code"], answer["msg"]) == (422, msg)


@pytest.mark.parametrize(
    ("model", "first"),
    [("wan/2-7-r2v", "reference_image"), ("minimax-h3/image-to-video", "first_frame_url")],
)
def test_one_of_the_alternatives_is_needed(kie: Kie, model: str, first: str) -> None:
    entry = ENTRIES[model]
    given = minimal_input(entry)
    assert set(given) & set(entry["requires_one_of"])
    for field in entry["requires_one_of"]:
        given.pop(field, None)
    answer = kie.post("/api/v1/jobs/createTask", {"model": model, "input": given}).json()
    assert answer["code"] == 422
    assert answer["msg"].startswith(f"{first} cannot be empty")


def test_fields_the_entry_does_not_name_pass_unchecked(kie: Kie) -> None:
    """The entry lists what KIE documents; a field KIE added since must not be refused."""
    given = minimal_input(ENTRIES["nano-banana-2"]) | {"brand_new_option": {"any": "thing"}}
    task_id = kie.create("nano-banana-2", **given)
    assert kie.record(task_id)["state"] == "success"
