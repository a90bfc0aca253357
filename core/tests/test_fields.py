"""Declarative input fields: validators that name the field, CLI coercion, make_input."""

from __future__ import annotations

import math
import re
from typing import Any

import attrs
import pytest
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st
from kiekit import Input, ValidationError
from kiekit.fields import (
    Spec,
    choice,
    coerce,
    flag,
    integer,
    make_input,
    number,
    spec_of,
    text,
    url,
    urls,
)


@frozen
class Everything(Input):
    """One field of every kind, as a plugin would declare them."""

    prompt: str = text(max_length=20)
    mode: str | None = choice("fast", "slow", default=None)
    count: int | None = integer(1, 4, default=None)
    strength: float | None = number(0.0, 1.0, default=None)
    loud: bool | None = flag(default=None)
    image: str | None = url(default=None)
    images: tuple[str, ...] | None = urls(default=None, min_items=1, max_items=3)
    note: str | None = text(default=None, required=False)
    seed: int | None = choice(7, 42, default=None)


@frozen
class AllRequired(Input):
    prompt: str = text()
    mode: str = choice("a", "b", required=True)
    count: int = integer(1, 9, required=True)
    strength: float = number(0, 1, required=True)
    image: str = url(required=True)
    images: tuple[str, ...] = urls(required=True)


@frozen
class Ranged(Input):
    """A rule across two fields lives in check()."""

    prompt: str = text()
    low: int | None = integer(default=None)
    high: int | None = integer(default=None)

    def check(self) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValidationError("low", "must not exceed high")


def spec(cls: type[Any], name: str) -> Spec:
    found = spec_of(attrs.fields_dict(cls)[name])
    assert found is not None
    return found


def make(**values: Any) -> Everything:
    return Everything(**{"prompt": "a cat", **values})


BAD_VALUES = [
    ("prompt", None),
    ("prompt", "   "),
    ("prompt", "x" * 21),
    ("prompt", 5),
    ("mode", "medium"),
    ("mode", True),
    ("count", 0),
    ("count", 5),
    ("count", 2.5),
    ("count", "2"),
    ("count", True),
    ("strength", -0.1),
    ("strength", 1.5),
    ("strength", "0.5"),
    ("strength", math.nan),
    ("count", 10**400),  # ints too large for a float: OverflowError, naming no field
    ("strength", 10**400),
    ("strength", -(10**400)),
    ("loud", "yes"),
    ("loud", 1),
    ("image", "ftp://x/a.png"),
    ("image", "not a url"),
    ("image", "https://"),
    ("image", "https://x/a b.png"),
    ("images", "https://x/a.png"),
    ("images", ["https://x/1", "https://x/2", "https://x/3", "https://x/4"]),
    ("images", 7),
    ("images", {"https://x/1": 1}),  # a mapping is not reduced to its keys
    ("note", ["a list"]),
    ("seed", 8),
    ("seed", "42"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=lambda v: repr(v)[:20])
def test_validator_names_the_field(name: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        make(**{name: value})

    assert info.value.field == name
    assert str(info.value).startswith(name)


@frozen
class Lenient(Input):
    """Fields that take the other forms of their values KIE takes (kie-api.md §2.2)."""

    seconds: str | None = choice("6", "10", default=None, numerals=True)
    count: int | None = integer(1, 4, default=None, numerals=True)
    strength: float | None = number(0.0, 1.0, default=None, numerals=True)
    batch: int | None = choice(1, 2, 4, default=None, whole_floats=True)
    length: int | None = choice(5, 10, numerals=True, default=5)
    hook: str | None = url(default=None, empty_is_none=True)


@pytest.mark.parametrize(
    ("name", "given", "kept"),
    [
        ("seconds", 6, "6"),
        ("seconds", " 10 ", "10"),
        ("seconds", "06", "6"),
        ("count", "3", 3),
        ("count", " 4 ", 4),
        ("strength", "0.5", 0.5),
        ("strength", " 1 ", 1.0),
        ("batch", 2.0, 2),
        ("length", "10", 10),
        ("length", None, 5),
        ("hook", "", None),
    ],
)
def test_another_form_kie_takes_is_kept_in_the_documented_one(
    name: str, given: Any, kept: Any
) -> None:
    value = getattr(Lenient(**{name: given}), name)
    assert (value, type(value)) == (kept, type(kept))


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("seconds", 6.0),  # a float is no numeral
        ("seconds", 7),
        ("seconds", True),
        ("seconds", "6.0"),
        ("count", "5"),  # read, then out of range
        ("count", "2.0"),
        ("count", "--2"),
        ("count", "٣"),  # other scripts' digits, which int() takes
        ("count", 2.0),  # not whole_floats
        ("count", "9" * 5000),  # past Python's 4300 digits: int() raised ValueError
        ("strength", "nan"),
        ("strength", "inf"),
        ("strength", "1e-1"),
        ("strength", "²"),
        ("batch", "2"),  # not numerals
        ("batch", 2.5),
        ("hook", "  "),
    ],
)
def test_what_no_reading_makes_valid_is_still_refused(name: str, given: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Lenient(**{name: given})
    assert info.value.field == name


def test_an_empty_optional_url_list_is_not_given() -> None:
    assert make(images=[]).images is None
    assert make(images=()).images is None  # KIE's schema-driven clients send [] (§2.4)


def test_a_bad_list_item_is_named_with_its_index() -> None:
    with pytest.raises(ValidationError) as info:
        make(images=["https://x/ok.png", "file:///etc/passwd"])

    assert info.value.field == "images[1]"
    assert "images" in str(info.value)


# 'café' from a latin-1 file on a UTF-8 system: Python reads the byte as a lone surrogate,
# which JSON escapes and KIE's end cannot read back as a character
@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"prompt": "caf\udce9"}, "prompt"),
        ({"note": "\ud800"}, "note"),
        ({"image": "https://x/caf\udce9.png"}, "image"),
        ({"images": ["https://x/ok.png", "https://x/\udcff.png"]}, "images[1]"),
    ],
)
def test_text_that_is_not_utf8_is_refused_naming_the_field(
    values: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError, match="is not valid UTF-8 text") as info:
        make(**values)
    assert info.value.field == named


def test_optional_fields_accept_none_and_keep_kies_defaults() -> None:
    value = make()

    assert [a.name for a in attrs.fields(Everything) if getattr(value, a.name) is not None] == [
        "prompt"
    ]


def test_good_values_pass_and_url_lists_become_tuples() -> None:
    value = make(
        mode="slow",
        count=4,
        strength=1,
        loud=False,
        image="https://x/a.png",
        images=["http://x/1.png"],
        note="",
        seed=42,
    )

    assert value.images == ("http://x/1.png",)
    assert value.strength == 1


def test_inputs_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        make().prompt = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["prompt", "mode", "count", "strength", "image", "images"])
def test_required_fields_missing_are_named(name: str) -> None:
    values: dict[str, Any] = {
        "prompt": "p",
        "mode": "a",
        "count": 1,
        "strength": 0.5,
        "image": "https://x/a.png",
        "images": ["https://x/b.png"],
    }
    del values[name]

    with pytest.raises(ValidationError) as info:
        make_input(AllRequired, values)

    assert info.value.field == name


@pytest.mark.parametrize("name", ["prompt", "mode", "count", "strength", "image", "images"])
def test_required_fields_given_none_are_named(name: str) -> None:
    values: dict[str, Any] = {
        "prompt": "p",
        "mode": "a",
        "count": 1,
        "strength": 0.5,
        "image": "https://x/a.png",
        "images": ["https://x/b.png"],
        name: None,
    }

    with pytest.raises(ValidationError) as info:
        make_input(AllRequired, values)

    assert info.value.field == name


def test_rules_across_fields_name_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        make_input(Ranged, {"prompt": "p", "low": 5, "high": 1})

    assert info.value.field == "low"


def test_a_default_outside_the_choices_is_a_declaration_error() -> None:
    with pytest.raises(TypeError):
        choice("a", "b", default="c")


@frozen
class Named(Input):
    name: str = text(pattern=r"\w+", pattern_hint="letters, digits or _")
    tag: str | None = text(default=None, required=False, pattern=r"v\d+")


@pytest.mark.parametrize(
    ("fields", "named", "says"),
    [
        ({"name": "big dog"}, "name", "must be letters, digits or _; got 'big dog'"),
        ({"name": "dog", "tag": "v1x"}, "tag", "must be text matching v\\d+; got 'v1x'"),
        ({"name": "dog", "tag": ""}, "tag", "must be text matching"),
    ],
)
def test_text_that_does_not_match_its_pattern_in_full_is_refused_naming_the_field(
    fields: dict[str, Any], named: str, says: str
) -> None:
    with pytest.raises(ValidationError) as info:
        make_input(Named, fields)
    assert info.value.field == named
    assert says in str(info.value)


def test_text_matching_its_pattern_passes() -> None:
    assert make_input(Named, {"name": "dog_2", "tag": "v12"}) == Named(name="dog_2", tag="v12")


@pytest.mark.parametrize(
    "declare", [lambda: text(pattern="(unclosed"), lambda: Spec("int", pattern="x")]
)
def test_a_bad_pattern_is_a_declaration_error(declare: Any) -> None:
    with pytest.raises((TypeError, re.error)):
        declare()


# -- make_input ------------------------------------------------------------------------------------


def test_make_input_builds_the_class() -> None:
    value = make_input(Everything, {"prompt": "p", "count": 2})

    assert value == Everything(prompt="p", count=2)


def test_make_input_rejects_an_unknown_name_naming_it() -> None:
    with pytest.raises(ValidationError) as info:
        make_input(Everything, {"prompt": "p", "aspectRatio": "1:1"})

    assert info.value.field == "aspectRatio"
    assert "aspectRatio" in str(info.value)
    assert "prompt" in str(info.value)  # and says what the inputs are


def test_make_input_names_a_missing_required_field() -> None:
    with pytest.raises(ValidationError) as info:
        make_input(Everything, {"count": 2})

    assert info.value.field == "prompt"


def test_make_input_from_text_coerces_command_line_strings() -> None:
    value = make_input(
        Everything,
        {
            "prompt": "a cat",
            "mode": "fast",
            "count": "3",
            "strength": "0.25",
            "loud": "TRUE",
            "images": "https://x/1.png, https://x/2.png",
            "seed": "42",
        },
        from_text=True,
    )

    assert value == Everything(
        prompt="a cat",
        mode="fast",
        count=3,
        strength=0.25,
        loud=True,
        images=("https://x/1.png", "https://x/2.png"),
        seed=42,
    )


@pytest.mark.parametrize(
    ("name", "junk"),
    [("count", "three"), ("count", "2.5"), ("strength", "half"), ("loud", "maybe"), ("seed", "8")],
)
def test_make_input_from_text_junk_is_reported_naming_the_field(name: str, junk: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_input(Everything, {"prompt": "p", name: junk}, from_text=True)

    assert info.value.field == name


# -- coerce ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("loud", "true", True),
        ("loud", "False", False),
        ("loud", " true ", True),
        ("count", "5", 5),
        ("count", "-2", -2),
        ("strength", "5", 5.0),
        ("strength", "0.5", 0.5),
        ("images", "a,b", ["a", "b"]),
        ("images", " https://x/1 , ,https://x/2 ", ["https://x/1", "https://x/2"]),
        ("images", "https://x/1", ["https://x/1"]),
        # the JSON array kie's own messages suggest (--input FIELD='["URL1", "URL2"]'): it was
        # cut at its commas, and its first entry refused as '["URL1"'
        ("images", '["https://x/1", "https://x/a,b.png"]', ["https://x/1", "https://x/a,b.png"]),
        ("images", ' ["https://x/1"]', ["https://x/1"]),
        ("mode", "fast", "fast"),
        ("seed", "7", 7),
        ("prompt", "5", "5"),
        ("prompt", "true", "true"),
        ("image", "https://x/a,b.png", "https://x/a,b.png"),
    ],
)
def test_coerce_reads_cli_strings(name: str, raw: str, expected: Any) -> None:
    result = coerce(spec(Everything, name), raw)

    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "raw"),
    [("loud", "yes"), ("loud", "1"), ("count", "five"), ("count", "1e3"), ("strength", "x")],
)
def test_coerce_leaves_junk_as_a_string_for_the_validator(name: str, raw: str) -> None:
    assert coerce(spec(Everything, name), raw) == raw


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": "3.5"}, "count: must be an integer; got the string '3.5'"),
        ({"strength": "x"}, "strength: must be a number; got the string 'x'"),
        ({"prompt": 5}, "prompt: must be a string; got 5"),
        ({"count": "9" * 100}, "count: must be an integer; got the string '" + "9" * 58 + "…"),
    ],
)
def test_a_value_of_the_wrong_type_is_shown_cut_short(fields: dict[str, Any], message: str) -> None:
    """'3.5' (text, from a command line) and 3.5 need different fixes: the value says which."""
    with pytest.raises(ValidationError) as info:
        make(**fields)
    assert str(info.value) == message


# -- properties: inside the spec passes, outside fails ---------------------------------------------


@given(st.integers(min_value=1, max_value=4))
def test_integers_inside_the_range_pass(value: int) -> None:
    assert make(count=value).count == value


@given(st.integers().filter(lambda n: not 1 <= n <= 4))
def test_integers_outside_the_range_fail(value: int) -> None:
    with pytest.raises(ValidationError, match=r"^count"):
        make(count=value)


@given(st.floats(min_value=0.0, max_value=1.0) | st.integers(min_value=0, max_value=1))
def test_numbers_inside_the_range_pass(value: float) -> None:
    assert make(strength=value).strength == value


@given(st.floats().filter(lambda x: not 0.0 <= x <= 1.0))
def test_numbers_outside_the_range_fail(value: float) -> None:
    """NaN and the infinities are outside every range (and are not JSON either)."""
    with pytest.raises(ValidationError, match=r"^strength"):
        make(strength=value)


@given(st.text(max_size=20).filter(lambda s: bool(s.strip())))
def test_text_within_the_limit_passes(value: str) -> None:
    assert make(prompt=value).prompt == value


@given(st.text(min_size=21))
def test_text_over_the_limit_fails(value: str) -> None:
    with pytest.raises(ValidationError, match=r"^prompt"):
        make(prompt=value)


@given(st.sampled_from(["fast", "slow"]))
def test_listed_choices_pass(value: str) -> None:
    assert make(mode=value).mode == value


@given(
    st.one_of(st.text(), st.integers(), st.booleans()).filter(lambda v: v not in ("fast", "slow"))
)
def test_unlisted_choices_fail(value: Any) -> None:
    with pytest.raises(ValidationError, match=r"^mode"):
        make(mode=value)


http_urls = st.builds(
    "{}://{}/{}".format,
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,5})?(:[0-9]{2,5})?", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9._~/-]{0,30}", fullmatch=True),
)


@given(http_urls, st.lists(http_urls, min_size=1, max_size=3))
def test_http_urls_pass(one: str, many: list[str]) -> None:
    value = make(image=one, images=many)

    assert (value.image, value.images) == (one, tuple(many))


@given(st.text().filter(lambda s: not s.startswith(("http://", "https://"))))
def test_anything_but_an_http_url_fails(value: str) -> None:
    with pytest.raises(ValidationError, match=r"^image"):
        make(image=value)


@given(st.lists(http_urls, min_size=4, max_size=8))
def test_too_many_urls_fail(value: list[str]) -> None:
    with pytest.raises(ValidationError, match=r"^images"):
        make(images=value)


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()))
def test_flags_accept_only_booleans(value: Any) -> None:
    if value is None:
        assert make(loud=value).loud is None
        return
    with pytest.raises(ValidationError, match=r"^loud"):
        make(loud=value)


# -- wire-name aliases and free-form input -------------------------------------------------------


def test_wire_names_are_accepted_only_in_the_family_spelling() -> None:
    from kiekit.fields import make_input as build

    @frozen
    class Legacy(Input):
        aspect_ratio: str | None = choice("1:1", "16:9", default=None)

    assert build(Legacy, {"aspectRatio": "1:1"}, camel_case=True) == Legacy(aspect_ratio="1:1")
    with pytest.raises(ValidationError) as info:
        build(Legacy, {"aspectRatio": "1:1"}, camel_case=False)
    assert info.value.field == "aspectRatio"
    with pytest.raises(ValidationError) as twice:
        build(Legacy, {"aspectRatio": "1:1", "aspect_ratio": "1:1"}, camel_case=True)
    assert twice.value.field == "aspect_ratio"


def test_open_input_reads_command_line_values_as_json() -> None:
    from kiekit.fields import OpenInput
    from kiekit.fields import make_input as build

    made = build(
        OpenInput,
        {"prompt": "a fox", "n": "2", "hd": "true", "ratio": "16:9", "urls": '["https://a/b"]'},
        from_text=True,
    )
    assert isinstance(made, OpenInput)
    assert made.values == {
        "prompt": "a fox",
        "n": 2,
        "hd": True,
        "ratio": "16:9",
        "urls": ["https://a/b"],
    }


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"x": float("nan")}, "x"),
        ({"y": object()}, "y"),
        ({"": 1}, "input"),
        ({"prompt": "caf\udce9"}, "prompt"),  # not UTF-8 text: a lone surrogate
        ({"shots": [{"text": "ok"}, {"text": "\udcff"}]}, "shots[1].text"),
    ],
)
def test_open_input_rejects_what_is_not_json(values: dict[Any, Any], named: str) -> None:
    from kiekit.fields import OpenInput

    with pytest.raises(ValidationError) as info:
        OpenInput(values=values)
    assert info.value.field == named


def test_open_input_goes_on_the_wire_as_given() -> None:
    from kiekit.fields import OpenInput
    from kiekit.wire import input_to_wire

    values = {"prompt": "p", "image_input": ["https://a/b"], "resolution": "2K"}
    assert input_to_wire(OpenInput(values=values), camel_case=True) == values


@pytest.mark.parametrize("value", [2.0, True, "2"])
def test_an_integer_enum_takes_only_integers(value: Any) -> None:
    from kiekit.fields import Spec

    with pytest.raises(ValidationError) as info:
        Spec("choice", choices=(1, 2, 4)).check("n_variants", value)
    assert info.value.field == "n_variants"
    assert "'2'" not in str(info.value) or value == "2"  # options print as repr: 2, never '2'


def test_open_input_keeps_its_own_copy() -> None:
    from kiekit.fields import OpenInput

    given: dict[str, Any] = {"prompt": "x", "tags": ["a"]}
    made = OpenInput(values=given)
    given["seed"] = float("nan")
    given["tags"].append("b")
    assert made.values == {"prompt": "x", "tags": ["a"]}
    hash(made)  # a frozen input stays hashable


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_python_only_json_constants_stay_text(text: str) -> None:
    from kiekit.fields import read_json_text

    assert read_json_text(text) == text


def test_typed_values_are_not_read_as_text() -> None:
    from kiekit.fields import OpenInput
    from kiekit.fields import make_input as build

    made = build(OpenInput, {"n": "2"}, from_text=True, typed={"prompt": "1984"})
    assert isinstance(made, OpenInput)
    assert made.values == {"n": 2, "prompt": "1984"}


def test_input_that_is_not_a_mapping_names_input() -> None:
    from kiekit.fields import OpenInput
    from kiekit.fields import make_input as build

    with pytest.raises(ValidationError) as info:
        build(OpenInput, '{"prompt": "x"}')  # type: ignore[arg-type]
    assert info.value.field == "input"


@frozen
class Typed(Input):
    duration: str | None = choice("6", "10", default=None)
    batch: int | None = choice(1, 2, 4, default=None)
    upsample: bool | None = flag(default=None)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"duration": 6}, "duration: must be a string such as '6' (got the number 6); one of"),
        ({"batch": "2"}, "batch: must be an integer such as 1 (got the string '2'); one of"),
        ({"batch": 2.0}, "batch: must be an integer such as 1 (got the number 2.0)"),
        ({"upsample": "true"}, "upsample: must be true or false (a boolean), not the string"),
        ({"duration": "7"}, "duration: must be one of '6', '10'; got '7'"),  # the right type
    ],
)
def test_a_value_of_the_wrong_type_says_which_type_is_wanted(
    fields: dict[str, Any], says: str
) -> None:
    """ "got 6" against '6' read as if 6 were allowed; "not 'true'" as if true were refused."""
    with pytest.raises(ValidationError) as info:
        Typed(**fields)
    assert str(info.value).startswith(says)


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("strenght", "; did you mean 'strength'?"),  # a slip
        ("no-te", "; did you mean 'note'?"),
        ("colour", ""),  # nothing close: no guess
    ],
)
def test_a_field_the_model_does_not_take_is_named_with_the_closest_one(key: str, says: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_input(Everything, {"prompt": "a cat", key: "x"})
    assert info.value.field == key
    assert str(info.value).startswith(f"{key}: is not an input of this model{says} (inputs: ")


def test_a_url_field_says_what_kind_of_file_it_takes() -> None:
    """`kie run` checks a local file against it before uploading (Suno's song is audio)."""
    from kiekit.fields import InputField, Spec, describe, text, url, urls

    @frozen
    class Cover(Input):
        prompt: str = text()
        upload_url: str = url(required=True, media="audio")
        refs: tuple[str, ...] | None = urls(default=None, media="image")
        video_url: str | None = url(default=None)

    media = {field.name: field.media for field in describe(Cover)}
    assert media == {"prompt": None, "upload_url": "audio", "refs": "image", "video_url": None}
    assert InputField("x", "url").media is None
    with pytest.raises(TypeError, match="only a url or urls field takes a media"):
        Spec("text", media="image")
    with pytest.raises(TypeError, match="media must be one of image, video, audio"):
        Spec("url", media="song")  # type: ignore[arg-type]


@frozen
class Numeral(Input):
    duration: int | None = choice(5, 10, default=None, numerals=True)
    seed: int | None = integer(0, 4_294_967_295, default=None)


@pytest.mark.parametrize("duration", ["7", 7, " 7 "])
def test_a_numeral_choice_out_of_its_values_says_the_value_not_the_type(duration: Any) -> None:
    """A Runway duration of 7 said "must be an integer such as 5 (got the string '7')" while
    "10" was taken: 7 is what is wrong (QA mjrunway, 6)."""
    with pytest.raises(ValidationError) as info:
        Numeral(duration=duration)
    assert info.value.field == "duration"
    assert str(info.value).startswith("duration: must be one of 5, 10; got ")


def test_a_bound_is_written_in_full() -> None:
    """``:g`` wrote Runway Aleph's seed bound as 4.29497e+09 (QA mjrunway, 6)."""
    with pytest.raises(ValidationError, match=r"must be at most 4294967295; got 4294967296"):
        Numeral(seed=4_294_967_296)


def test_an_upload_inside_a_json_value_says_to_upload_first() -> None:
    """`@./ref.png` inside a JSON list (Kling's kling_elements) said only "must be an http(s)
    URL": the command line uploads a top-level field's @file, not one in a JSON value
    (QA mjrunway, 6)."""
    with pytest.raises(ValidationError, match=r"kie upload FILE") as info:
        Linked(images=("@./ref.png",))
    assert info.value.field == "images[0]"
    with pytest.raises(ValidationError, match=r"kie upload FILE"):
        Linked(image="@./ref.png")


@frozen
class Linked(Input):
    images: tuple[str, ...] | None = urls(default=None)
    image: str | None = url(default=None)
