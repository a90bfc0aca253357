"""``kie models``: the model ids installed plugins serve (the market catalogue's included), and
one model's input fields, as ``Provider.input_fields`` describes them."""

from __future__ import annotations

import json

import pytest
from attrs import frozen
from kiekit import Input
from kiekit.cli import main
from kiekit.errors import ValidationError
from kiekit.fields import InputField, choice, describe, integer, items, text, urls
from kiekit.plugin import MarketProvider, MediaKind, Model


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_list_holds_typed_ids_and_the_market_catalogue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0
    served = {row["model"]: row["served_by"] for row in json.loads(out)["models"]}
    assert served["flux-kontext-pro"] == "kiekit-flux-kontext"
    assert served["nano-banana-pro"] == "kiekit-market"  # a catalogue id, behind "*"
    assert served["kling-3.0/video"] == "kiekit-kling"  # declared exactly: the typed plugin's
    assert sum(d == "kiekit-market" for d in served.values()) > 100
    assert not any("*" in model for model in served)


def test_a_pattern_or_a_part_of_an_id_filters_the_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "models", "veo3*")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "veo3", "veo3/1080p", "veo3/4k", "veo3/extend", "veo3_fast", "veo3_lite",
    ]  # fmt: skip
    code, out, _ = run(capsys, "models", "banana")
    assert "nano-banana-pro" in out.split()
    code, out, err = run(capsys, "models", "zz*qq")  # no match: an empty list, as kie tasks
    assert (code, out) == (0, "")
    assert "no model id matches 'zz*qq'" in err


def test_a_catalogue_models_fields_with_types_limits_and_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "models", "nano-banana-pro")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "nano-banana-pro  (kiekit-market)"
    assert lines[1].split() == ["prompt", "string", "required", "at", "most", "10000", "characters"]
    assert "image_input    urls" in lines[2]
    assert "one of 1K, 2K, 4K; default 1K" in out

    code, out, _ = run(capsys, "models", "nano-banana-pro", "--json")
    fields = {f["name"]: f for f in json.loads(out)["fields"]}
    assert fields["image_input"]["type"] == "urls"
    assert fields["image_input"]["max_length"] == 8
    assert fields["resolution"]["choices"] == ["1K", "2K", "4K"]


def test_a_required_fields_default_on_kies_page_is_shown_as_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """KIE's page for seedream/4.5-edit marks aspect_ratio required and shows 1:1 as its
    default; "required … default 1:1" read as filled in for you (an outside tester's finding),
    yet leaving it out is refused. An optional field's default stays a default."""
    code, out, _ = run(capsys, "models", "seedream/4.5-edit")
    assert code == 0
    line = next(line for line in out.splitlines() if line.split()[0] == "aspect_ratio")
    assert line.split()[2] == "required"
    assert line.endswith("e.g. 1:1")
    assert "default" not in line

    code, out, _ = run(capsys, "models", "seedream/4.5-edit", "--json")
    fields = {f["name"]: f for f in json.loads(out)["fields"]}
    assert (fields["aspect_ratio"]["default"], fields["aspect_ratio"]["example"]) == (None, "1:1")
    code, out, _ = run(capsys, "models", "nano-banana-pro", "--json")
    resolution = {f["name"]: f for f in json.loads(out)["fields"]}["resolution"]
    assert (resolution["required"], resolution["default"]) == (False, "1K")


def test_a_typed_models_fields_come_from_its_input_class(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "models", "flux-kontext-pro", "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["served_by"] == "kiekit-flux-kontext"
    fields = {f["name"]: f for f in answer["fields"]}
    assert fields["prompt"]["required"] is True
    tolerance = fields["safety_tolerance"]
    assert (tolerance["type"], tolerance["minimum"], tolerance["maximum"]) == ("integer", 0, 6)
    assert fields["input_image"]["wire"] == "inputImage"
    code, out, _ = run(capsys, "models", "grok-imagine/text-to-video")
    assert 'one of "6", "7"' in out  # strings, as the field takes them


def test_a_chat_model_and_an_unlisted_id_say_what_they_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "models", "gpt-5-2")
    assert code == 0
    assert 'kie chat gpt-5-2 "PROMPT"' in out
    code, out, _ = run(capsys, "models", "acme/brand-new-model")
    assert code == 0
    assert "no plugin lists this id" in out
    code, _, err = run(capsys, "models", "flux-kontext-pr0")  # a near miss: did you mean
    assert code == 2
    assert "did you mean 'flux-kontext-pro'" in err


@frozen
class Sample(Input):
    prompt: str = text(max_length=100)
    count: int | None = integer(1, 4, default=2)
    size: str | None = choice("S", "M", default="M", wire="sizeName")
    refs: tuple[str, ...] | None = urls(default=None, max_items=3)


class SampleProvider(MarketProvider):
    name = "sample"
    models = (Model("acme/sample", Sample, MediaKind.IMAGE),)


def test_any_provider_describes_its_attrs_input_by_default() -> None:
    assert (
        SampleProvider().input_fields("acme/sample")
        == describe(Sample)
        == (
            InputField("prompt", "string", required=True, max_length=100),
            InputField("count", "integer", minimum=1, maximum=4, default=2),
            InputField("size", "string", choices=("S", "M"), wire="sizeName", default="M"),
            InputField("refs", "urls", max_length=3),
        )
    )


@frozen
class Shot(Input):
    prompt: str = text(max_length=50)
    seconds: int = integer(1, 9, required=True)


@frozen
class Either(Input):
    required_one_of = (("image_urls", "task_id"),)

    image_urls: tuple[str, ...] | None = urls(default=None, max_items=2)
    task_id: str | None = text(default=None, required=False)
    shots: tuple[Shot, ...] | None = items(Shot, default=None, max_items=3)


def test_a_one_of_group_and_an_entry_s_fields_are_described() -> None:
    image_urls, task_id, shots = describe(Either)
    assert (image_urls.required, image_urls.one_of) == (False, ("image_urls", "task_id"))
    assert task_id.one_of == ("image_urls", "task_id")
    assert shots.one_of == ()
    assert shots.entry == (
        InputField("prompt", "string", required=True, max_length=50),
        InputField("seconds", "integer", required=True, minimum=1, maximum=9),
    )


def test_a_one_of_group_is_enforced_naming_its_first_field() -> None:
    with pytest.raises(ValidationError) as neither:
        Either()
    assert (neither.value.field, str(neither.value)) == (
        "image_urls",
        "image_urls: give one of image_urls or task_id",
    )
    with pytest.raises(ValidationError, match="give one of"):
        Either(image_urls=(), task_id="")  # empty is not given
    assert Either(task_id="t1").task_id == "t1"


def test_a_one_of_group_naming_no_field_is_a_declaration_error() -> None:
    @frozen
    class Wrong(Input):
        required_one_of = (("image_urls", "nope"),)

        image_urls: tuple[str, ...] | None = urls(default=None)

    with pytest.raises(TypeError, match="must name two or more of its fields"):
        Wrong(image_urls=("https://e.com/a.png",))


@pytest.mark.parametrize(
    ("model", "rows"),
    [
        (
            "grok-imagine/image-to-video",  # a typed plugin's pair
            [
                ["image_urls", "urls", "one", "of", "give", "image_urls", "or", "task_id;"],
                ["task_id", "string", "one", "of", "give", "image_urls", "or", "task_id"],
            ],
        ),
        (
            "pixverse-v6/extend",  # a catalogue entry's requires_one_of
            [
                ["taskId", "string", "one", "of", "give", "video_url", "or", "taskId"],
                ["video_url", "url", "one", "of", "give", "video_url", "or", "taskId"],
            ],
        ),
    ],
)
def test_a_field_of_a_one_of_pair_is_not_shown_as_plain_optional(
    model: str, rows: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "models", model)
    assert code == 0
    shown = [line.split() for line in out.splitlines()[1:]]
    for row in rows:
        assert any(line[: len(row)] == row for line in shown), (row, out)
    code, out, _ = run(capsys, "models", model, "--json")
    fields = {f["name"]: f for f in json.loads(out)["fields"]}
    group = fields[rows[0][0]]["one_of"]
    assert sorted(group) == sorted([rows[0][0], rows[1][0]])
    assert fields[rows[0][0]]["required"] is False


def test_a_field_required_but_in_one_case_is_not_shown_as_plain_optional(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Kling 3.0's prompt was listed "optional", though every single-shot video needs one and
    is refused without it (QA mjrunway, 6): the listing says so, and names the case."""
    code, out, _ = run(capsys, "models", "kling-3.0/video")
    assert code == 0
    said = " ".join(out.split())
    assert "prompt string required unless multi-shot (multi_shots with multi_prompt)" in said
    assert "multi_prompt objects required unless single shot (multi_shots false)" in said
    code, out, _ = run(capsys, "models", "kling-3.0/video", "--json")
    fields = {f["name"]: f for f in json.loads(out)["fields"]}
    prompt = fields["prompt"]
    assert (prompt["required"], prompt["required_unless"]) == (
        False,
        "multi-shot (multi_shots with multi_prompt)",
    )
    assert fields["image_urls"]["required_unless"] is None


def test_required_unless_naming_no_optional_field_is_a_declaration_error() -> None:
    @frozen
    class Wrong(Input):
        required_unless = {"prompt": "never"}  # noqa: RUF012 - a class's declaration

        prompt: str = text()  # required always: no case to leave it out

    with pytest.raises(TypeError, match="must name an optional field"):
        describe(Wrong)


def test_a_list_of_objects_shows_what_one_entry_holds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "kling-3.0/video")  # a typed plugin's entry class
    assert code == 0
    shown = [line.split() for line in out.splitlines()]
    assert "multi_prompt[].prompt string required at most 500 characters" in " ".join(out.split())
    assert ["multi_prompt[].duration", "integer", "required", "1", "to", "12"] in shown
    assert ["kling_elements", "objects", "optional", "at", "least", "1", "entry"] in shown

    code, out, _ = run(capsys, "models", "gemini-omni-video", "--json")  # the catalogue's items
    fields = {f["name"]: f for f in json.loads(out)["fields"]}
    entry = {member["name"]: member["type"] for member in fields["video_list"]["entry"]}
    assert entry == {"url": "url", "start": "number", "ends": "number"}

    code, out, _ = run(capsys, "models", "elevenlabs/text-to-dialogue-v3")  # nothing known
    assert "an entry's fields are not known to kiekit" in out


def test_models_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "models" in capsys.readouterr().out


def test_a_word_no_id_holds_is_no_match_and_limits_print_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Found by an outside tester: `kie models midjourney` said "sent as is" with exit 0; a
    2147483647 limit printed as 2.14748e+09."""
    code, out, err = run(capsys, "models", "zzqq")
    assert (code, out) == (0, "")  # no match: an empty list, as kie tasks --model gives
    assert "no model id matches 'zzqq'" in err
    assert "--any-model" not in err  # not an option of this command
    code, out, _ = run(capsys, "models", "wan/2-7-image")
    assert code == 0
    assert "0 to 2147483647" in out


def test_a_model_of_a_plugin_not_installed_names_the_distribution_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kie models flux-kontext-pro` without kiekit-flux-kontext said "PATTERN: no model id
    matches", where `kie run` names the distribution (found by an outside tester)."""
    from kiekit import discovery, registry

    every = discovery.entry_points_of_group
    monkeypatch.setattr(
        discovery,
        "entry_points_of_group",
        lambda: [ep for ep in every() if ep.dist is None or ep.dist.name != "kiekit-flux-kontext"],
    )
    monkeypatch.setattr(registry, "default_registry", registry.Registry)
    code, _, err = run(capsys, "models", "flux-kontext-pro")
    assert code == 2
    assert "MODEL: no installed plugin lists 'flux-kontext-pro'" in err
    assert "kiekit-flux-kontext serves it: install kiekit-flux-kontext" in err
    assert "pip install ./plugins/flux-kontext" in err  # not a PyPI name: a true way
    assert "PATTERN" not in err


@pytest.mark.parametrize("json_output", [False, True])
def test_with_no_plugin_installed_the_list_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, json_output: bool
) -> None:
    """A core-only install said "PATTERN: no model id matches None" (exit 2) for a PATTERN never
    given (found by an outside tester): it says what `kie providers` says, and --json keeps its
    shape with no models."""
    from kiekit import discovery, registry

    monkeypatch.setattr(discovery, "entry_points_of_group", list)
    monkeypatch.setattr(registry, "default_registry", registry.Registry)
    code, out, err = run(capsys, "models", *(["--json"] if json_output else []))
    assert code == 0
    assert err == ""
    if json_output:
        assert json.loads(out) == {"ok": True, "command": "models", "models": []}
    else:
        assert out.startswith("no providers installed (try: ")
        assert "kiekit-flux-kontext" in out
        assert "None" not in out
    code, _, err = run(capsys, "models", "kling*")  # a pattern: no match, and why
    assert code == 0
    assert "no model id matches 'kling*': no providers installed (try: " in err
