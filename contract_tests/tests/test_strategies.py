"""The strategies keep their promises: valid values pass the field's spec, invalid ones fail it
naming the field, whatever the spec; generated documents are JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from attrs import frozen
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from kiekit import Input, ValidationError
from kiekit.fields import (
    Kind,
    OpenInput,
    Spec,
    choice,
    flag,
    integer,
    items,
    make_input,
    text,
    texts,
    urls,
)
from kiekit.registry import Registry, installed
from kiekit_contract import (
    EXTRA_FIELD_PREFIX,
    FAIL_MARKER,
    invalid_entry_fields,
    invalid_open_fields,
    invalid_values,
    json_values,
    like,
    one_field_changed,
    open_inputs,
    prompt_text,
    smallest_input,
    valid_entries,
    valid_inputs,
    valid_values,
)
from kiekit_contract.strategies import boundary_inputs, input_specs, smallest_value


@frozen
class Shot(Input):
    """An entry as Kling's multi_prompt holds: text and a bounded integer."""

    prompt: str = text(max_length=30)
    duration: int = integer(1, 12, required=True)


@frozen
class Element(Input):
    """An entry with its own rule (exactly one of two lists) and a list of strings."""

    name: str = text()
    images: tuple[str, ...] | None = urls(default=None, min_items=2, max_items=4)
    videos: tuple[str, ...] | None = urls(default=None, min_items=1, max_items=1)
    tags: tuple[str, ...] | None = texts(default=None, max_items=2, max_length=10)

    def check(self) -> None:
        if (self.images is None) == (self.videos is None):
            raise ValidationError("images", "give images or one video, exactly one of the two")


@frozen
class Scene(Input):
    """An entry whose entries are lists of entries: the strategies recurse."""

    title: str | None = text(default=None, required=False, wire="Title")
    shots: tuple[Shot, ...] = items(Shot, min_items=1, max_items=2, required=True)


ENTRY_CLASSES = (Shot, Element, Scene)
LIST_KINDS: tuple[Kind, ...] = ("urls", "texts", "items")


@st.composite
def specs(draw: st.DrawFn, kinds: tuple[Kind, ...] | None = None) -> Spec:
    kind: Kind = draw(
        st.sampled_from(kinds or ("text", "choice", "int", "float", "bool", "url", *LIST_KINDS))
    )
    required = draw(st.booleans())
    if kind == "text":
        limit = draw(st.none() | st.integers(1, 300))
        pattern = draw(st.none() | st.sampled_from((r"\w+", r"[a-z]{2,8}", r"v\d+(\.\d+)?")))
        return Spec("text", required=required, max_length=limit, pattern=pattern)
    if kind == "choice":
        options = st.text(min_size=1, max_size=6) | st.integers(-5, 30)
        choices = draw(st.lists(options, min_size=1, max_size=5, unique=True))
        return Spec("choice", required=required, choices=tuple(choices))
    if kind in ("int", "float"):
        low = draw(st.none() | st.integers(-100, 100))
        high = draw(st.none() | st.integers(low if low is not None else -100, 200))
        return Spec(kind, required=required, minimum=low, maximum=high)
    if kind in LIST_KINDS:
        low = draw(st.none() | st.integers(0, 3))
        high = draw(st.none() | st.integers(max(1, low or 0), 7))
        of: Any = None
        if kind == "texts":
            of = Spec("text", required=True, max_length=draw(st.none() | st.integers(1, 300)))
        elif kind == "items":
            of = draw(st.sampled_from(ENTRY_CLASSES))
        return Spec(kind, required=required, min_length=low, max_length=high, of=of)
    return Spec(kind, required=required)


@settings(max_examples=200)
@given(spec=specs(), data=st.data())
def test_valid_values_pass_the_spec(spec: Spec, data: st.DataObject) -> None:
    spec.check("field", data.draw(valid_values(spec)))


@settings(max_examples=300)
@given(spec=specs(), data=st.data())
def test_invalid_values_fail_the_spec_naming_the_field(spec: Spec, data: st.DataObject) -> None:
    value = data.draw(invalid_values(spec))
    with pytest.raises(ValidationError) as caught:
        spec.check("field", value)
    assert caught.value.field == "field" or caught.value.field.startswith("field[")


# -- lists of strings and of objects ------------------------------------------------------------


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(("texts", "items")), data=st.data())
def test_valid_lists_keep_within_their_counts_and_hold_valid_entries(
    spec: Spec, data: st.DataObject
) -> None:
    value = data.draw(valid_values(spec))
    assert type(value) is tuple
    low = spec.min_length if spec.min_length is not None else int(spec.required)
    assert low <= len(value) <= (spec.max_length if spec.max_length is not None else max(low, 3))
    for entry in value:
        if spec.kind == "items":
            assert type(entry) is spec.of  # made by the class: its own check() passed
        else:
            assert isinstance(entry, str)
            assert entry.strip()
            assert isinstance(spec.of, Spec)
            if spec.of.max_length is not None:
                assert len(entry) <= spec.of.max_length


@given(entry=valid_entries(Element))
def test_valid_entries_pass_their_classs_own_rule(entry: Element) -> None:
    assert (entry.images is None) != (entry.videos is None)
    assert make_input(Element, {a: getattr(entry, a) for a in ("name", "images", "videos")})


@given(entry=valid_entries(Scene))
def test_valid_entries_recurse_into_lists_of_entries(entry: Scene) -> None:
    assert 1 <= len(entry.shots) <= 2
    assert all(type(shot) is Shot and 1 <= shot.duration <= 12 for shot in entry.shots)


@settings(max_examples=100)
@given(of=st.sampled_from(ENTRY_CLASSES), data=st.data())
def test_invalid_entry_fields_name_the_entry_field(of: type[Input], data: st.DataObject) -> None:
    fields = data.draw(invalid_entry_fields(of))
    with pytest.raises(ValidationError) as caught:
        make_input(of, fields)
    assert caught.value.field.split("[")[0] in fields


SHOTS = Spec("items", min_length=1, max_length=2, of=Shot)
IDS = Spec("texts", min_length=1, max_length=3, of=Spec("text", required=True, max_length=5))


def _refusal(spec: Spec, value: Any) -> str | None:
    """The field spec.check names for ``value``, or None if it passes."""
    try:
        spec.check("field", value)
    except ValidationError as exc:
        return exc.field
    return None


def _shows(strategy: st.SearchStrategy[Any], condition: Any) -> Any:
    """An example of ``strategy`` meeting ``condition``: proof that the strategy draws such
    values at all (hypothesis.find searches for one)."""
    quick = settings(max_examples=2000, database=None, phases=[Phase.generate])  # no shrinking
    return find(strategy, condition, settings=quick)


@pytest.mark.parametrize(
    ("spec", "what", "condition"),
    [
        (SHOTS, "not a list", lambda v: not isinstance(v, (list, tuple))),
        (SHOTS, "JSON text of a list", lambda v: isinstance(v, str) and v.startswith("[{")),
        (SHOTS, "a lone entry", lambda v: isinstance(v, dict)),
        (SHOTS, "too few", lambda v: isinstance(v, list) and len(v) == 0),
        (SHOTS, "too many", lambda v: isinstance(v, list) and len(v) > 2),
        (
            SHOTS,
            "one entry with one bad field",
            lambda v: (_refusal(SHOTS, v) or "").endswith("].duration"),
        ),
        (SHOTS, "one entry that is no object", lambda v: _refusal(SHOTS, v) in ("field[0]",)),
        (IDS, "a lone string", lambda v: isinstance(v, str)),
        (IDS, "not a list", lambda v: isinstance(v, int)),
        (IDS, "too few", lambda v: isinstance(v, list) and len(v) == 0),
        (IDS, "too many", lambda v: isinstance(v, list) and len(v) > 3),
        (IDS, "a blank string", lambda v: isinstance(v, list) and ("" in v or " " in v)),
        (
            IDS,
            "a string too long",
            lambda v: isinstance(v, list) and any(isinstance(s, str) and len(s) > 5 for s in v),
        ),
        (IDS, "not a string", lambda v: isinstance(v, list) and any(type(s) is int for s in v)),
    ],
    ids=lambda p: (
        p.kind if isinstance(p, Spec) else p.replace(" ", "-") if isinstance(p, str) else ""
    ),
)
def test_invalid_lists_cover_every_way_to_be_wrong(spec: Spec, what: str, condition: Any) -> None:
    found = _shows(invalid_values(spec), condition)
    assert _refusal(spec, found) is not None, f"{what}: {found!r} passes the spec"


def test_the_smallest_lists_hold_the_smallest_entries() -> None:
    assert smallest_value(SHOTS) == (Shot(prompt="a lighthouse at dawn", duration=1),)
    assert smallest_value(IDS) == ("a lig",)
    SHOTS.check("field", smallest_value(SHOTS))
    IDS.check("field", smallest_value(IDS))


def test_the_strategies_of_a_field_or_class_are_made_once() -> None:
    """Drawn from in every example of a property test: made again each time, hypothesis worked
    out each new one's properties again (most of the contract's time in its pure tests). The
    same Spec or class gets the same strategy; an equal Spec of other values its own (a choice
    of 1 equals a choice of True, but draws an int)."""
    spec = Spec("choice", choices=(1, 2))
    assert valid_values(spec) is valid_values(spec)
    assert invalid_values(spec) is invalid_values(spec)
    assert valid_entries(Shot) is valid_entries(Shot)
    assert valid_inputs(Scene) is valid_inputs(Scene)
    flags = Spec("choice", choices=(True, False))
    assert flags == Spec("choice", choices=(1, 0))  # attrs equality: 1 == True
    assert find(valid_values(flags), lambda _: True) is True
    assert type(find(valid_values(Spec("choice", choices=(1, 0))), lambda _: True)) is int


@given(text=prompt_text())
def test_prompts_are_never_blank_and_never_ask_the_mock_to_fail(text: str) -> None:
    assert text.strip()
    assert FAIL_MARKER not in text
    assert text.isprintable() or all(c.isprintable() or c.isspace() for c in text)


def _installed_models() -> list[Any]:
    registry = Registry()
    tasks = [item for item in installed() if "chat" not in item.capabilities]  # chat: no Input
    return [registry.provider(item.model).model(item.model) for item in tasks]


@pytest.mark.parametrize("model", _installed_models(), ids=lambda m: m.id)
def test_installed_models_get_inputs(model: Any) -> None:
    try:
        assert isinstance(smallest_input(model), model.input)
    except ValidationError:
        # documented: when cross-field rules want more than the required fields, the plugin
        # gives the contract an example input instead
        assert model.input.check is not Input.check, "only Input.check may refuse it"

    # cross-field rules reject many draws by design ("rejected, not repaired"), and lists of
    # objects are drawn entry by entry: slow is fine here, never making an input is not
    # (hypothesis then raises Unsatisfiable)
    @settings(
        max_examples=20,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(params=valid_inputs(model))
    def makes(params: Input) -> None:
        assert isinstance(params, model.input)

    makes()


def test_valid_inputs_respect_cross_field_rules() -> None:
    from kiekit_flux_kontext import FluxKontext

    @settings(max_examples=100)
    @given(params=valid_inputs(FluxKontext))
    def edits_stay_in_0_to_2(params: FluxKontext) -> None:
        if params.input_image is not None and params.safety_tolerance is not None:
            assert params.safety_tolerance <= 2

    edits_stay_in_0_to_2()


EXAMPLE = {"prompt": "a fox", "aspect_ratio": "1:1", "image_urls": ["https://example.com/a.png"]}


@given(params=open_inputs(EXAMPLE))
def test_open_inputs_keep_the_example_and_add_only_prefixed_json(params: OpenInput) -> None:
    assert {k: params.values[k] for k in EXAMPLE} == EXAMPLE
    extra = set(params.values) - set(EXAMPLE)
    assert all(key.startswith(EXTRA_FIELD_PREFIX) for key in extra)
    assert len(extra) <= 3
    text = json.dumps(dict(params.values), allow_nan=False)
    assert json.loads(text) == params.values


@given(params=open_inputs(EXAMPLE, extra=False))
def test_open_inputs_without_extras_are_the_example(params: OpenInput) -> None:
    assert params.values == EXAMPLE


@given(data=st.data())
def test_invalid_open_fields_are_refused_naming_the_field(data: st.DataObject) -> None:
    bad = data.draw(invalid_open_fields(list(EXAMPLE)))
    with pytest.raises(ValidationError) as caught:
        OpenInput({**EXAMPLE, bad.key: bad.value})
    assert caught.value.field == bad.field


RECORD = {"taskId": "t", "state": "success", "resultJson": '{"resultUrls": ["https://a/b.jpg"]}'}


@given(doc=json_values() | like(RECORD) | one_field_changed(RECORD))
def test_fuzzed_documents_are_json(doc: Any) -> None:
    assert json.loads(json.dumps(doc)) == doc


@given(doc=one_field_changed(RECORD))
def test_one_field_changed_keeps_the_others(doc: Any) -> None:
    assert isinstance(doc, dict)
    assert sum(doc.get(key, object()) != value for key, value in RECORD.items()) <= 1


@frozen
class Avatar(Input):
    prompt: str = text()
    resolution: str | None = choice("480p", "720p", default=None)
    seed: int | None = integer(0, 2_147_483_647, default=None)
    mirror: bool = flag(default=False)


def test_boundary_inputs_try_each_bound_choice_flag_and_the_example_as_given() -> None:
    base = make_input(Avatar, {"prompt": "a fox"})
    drawn = [p for p in boundary_inputs(base) if isinstance(p, Avatar)]
    found = [(p.resolution, p.seed, p.mirror) for p in drawn]
    assert found == [
        (None, None, False),  # the example: every optional field left out
        ("480p", None, False),
        ("720p", None, False),
        (None, 0, False),
        (None, 2_147_483_647, False),
        (None, None, True),
    ]


def test_number_fields_draw_their_bounds_early() -> None:
    """A plain st.integers(0, 2**31 - 1) seldom draws 0: a provider dropping seed=0 passed."""
    spec = input_specs(Avatar)["seed"]
    quick = settings(derandomize=True, database=None, max_examples=20, phases=[Phase.generate])
    for bound in (0, 2_147_483_647):

        def at_bound(value: Any, bound: int = bound) -> bool:
            return bool(value == bound)

        assert find(valid_values(spec), at_bound, settings=quick) == bound
