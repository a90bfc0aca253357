"""The strategies keep their promises: valid values pass the field's spec, invalid ones fail it
naming the field, whatever the spec; generated documents are JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kiekit import Input, ValidationError
from kiekit.fields import OpenInput, Spec
from kiekit.registry import Registry, installed
from kiekit_contract import (
    EXTRA_FIELD_PREFIX,
    FAIL_MARKER,
    invalid_open_fields,
    invalid_values,
    json_values,
    like,
    one_field_changed,
    open_inputs,
    prompt_text,
    smallest_input,
    valid_inputs,
    valid_values,
)


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    kind = draw(st.sampled_from(("text", "choice", "int", "float", "bool", "url", "urls")))
    required = draw(st.booleans())
    if kind == "text":
        return Spec("text", required=required, max_length=draw(st.none() | st.integers(1, 300)))
    if kind == "choice":
        options = st.text(min_size=1, max_size=6) | st.integers(-5, 30)
        choices = draw(st.lists(options, min_size=1, max_size=5, unique=True))
        return Spec("choice", required=required, choices=tuple(choices))
    if kind in ("int", "float"):
        low = draw(st.none() | st.integers(-100, 100))
        high = draw(st.none() | st.integers(low if low is not None else -100, 200))
        return Spec(kind, required=required, minimum=low, maximum=high)
    if kind == "urls":
        low = draw(st.none() | st.integers(0, 3))
        high = draw(st.none() | st.integers(max(1, low or 0), 7))
        return Spec("urls", required=required, min_length=low, max_length=high)
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


@given(text=prompt_text())
def test_prompts_are_never_blank_and_never_ask_the_mock_to_fail(text: str) -> None:
    assert text.strip()
    assert FAIL_MARKER not in text
    assert text.isprintable() or all(c.isprintable() or c.isspace() for c in text)


def _installed_models() -> list[Any]:
    registry = Registry()
    return [registry.provider(item.model).model(item.model) for item in installed()]


@pytest.mark.parametrize("model", _installed_models(), ids=lambda m: m.id)
def test_installed_models_get_inputs(model: Any) -> None:
    try:
        assert isinstance(smallest_input(model), model.input)
    except ValidationError:
        # documented: when cross-field rules want more than the required fields, the plugin
        # gives the contract an example input instead
        assert model.input.check is not Input.check, "only Input.check may refuse it"

    # cross-field rules reject many draws by design ("rejected, not repaired"): slow is fine
    # here, never making an input is not (hypothesis then raises Unsatisfiable)
    @settings(max_examples=20, suppress_health_check=[HealthCheck.filter_too_much])
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
