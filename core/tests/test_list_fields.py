"""List fields beyond URLs: ``texts`` (strings) and ``items`` (small objects, each an Input of
its own, as Kling's ``multi_prompt`` shots and Sora's storyboard ``shots``)."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st
from kiekit import Input, ValidationError
from kiekit.fields import (
    OpenInput,
    Spec,
    choice,
    coerce,
    entry_class,
    entry_spec,
    flag,
    integer,
    items,
    make_input,
    spec_of,
    text,
    texts,
    urls,
)
from kiekit.wire import input_to_wire


@frozen
class Shot(Input):
    prompt: str = text(max_length=10)
    duration: int = integer(1, 12, required=True)
    camera_move: str | None = choice("pan", "zoom", default=None)


@frozen
class Named(Input):
    """An entry with its own cross-field rule and an explicit wire name."""

    scene: str = text(wire="Scene")
    image_urls: tuple[str, ...] | None = urls(default=None, max_items=1)
    silent: bool | None = flag(default=None)

    def check(self) -> None:
        if self.scene == "forbidden":
            raise ValidationError("scene", "is a forbidden scene")


@frozen
class Board(Input):
    prompt: str = text()
    shots: tuple[Shot, ...] | None = items(Shot, default=None, min_items=1, max_items=3)
    scenes: tuple[Named, ...] | None = items(Named, default=None)
    ids: tuple[str, ...] | None = texts(default=None, max_items=3, max_length=8)
    tags: tuple[str, ...] | None = texts(default=None, min_items=1)


@frozen
class NeedsShots(Input):
    shots: tuple[Shot, ...] = items(Shot, required=True)
    ids: tuple[str, ...] = texts(required=True)


def spec(name: str) -> Spec:
    found = spec_of(attrs.fields_dict(Board)[name])
    assert found is not None
    return found


def board(**values: Any) -> Board:
    return Board(**{"prompt": "p", **values})


def refused(**values: Any) -> str:
    with pytest.raises(ValidationError) as info:
        make_input(Board, {"prompt": "p", **values})
    assert str(info.value).startswith(info.value.field + ": ")
    return info.value.field


# -- declaration ---------------------------------------------------------------------------------


def test_the_specs_are_real_and_say_what_an_entry_is() -> None:
    assert spec("shots") == Spec("items", min_length=1, max_length=3, of=Shot)
    assert entry_class(spec("shots")) is Shot
    assert spec("ids") == Spec("texts", max_length=3, of=Spec("text", required=True, max_length=8))
    assert entry_spec(spec("ids")).max_length == 8


@pytest.mark.parametrize("of", [str, dict, OpenInput, Shot(prompt="p", duration=1), None])
def test_items_of_anything_but_an_input_class_is_a_declaration_error(of: Any) -> None:
    with pytest.raises(TypeError):
        items(of)


def test_a_texts_spec_needs_the_spec_of_one_string() -> None:
    with pytest.raises(TypeError):
        Spec("texts")
    with pytest.raises(TypeError):
        entry_class(Spec("urls"))
    with pytest.raises(TypeError):
        entry_spec(Spec("urls"))


# -- items ---------------------------------------------------------------------------------------


def test_entries_may_be_objects_or_mappings_and_are_kept_as_a_tuple_of_the_class() -> None:
    value = board(shots=[Shot(prompt="a", duration=2), {"prompt": "b", "duration": 3}])

    assert value.shots == (Shot(prompt="a", duration=2), Shot(prompt="b", duration=3))
    assert all(type(shot) is Shot for shot in value.shots or ())


def test_a_mapping_entry_may_use_an_explicit_wire_name() -> None:
    value = make_input(Board, {"prompt": "p", "scenes": [{"Scene": "a"}, {"scene": "b"}]})

    assert value == board(scenes=[Named(scene="a"), Named(scene="b")])


@pytest.mark.parametrize(
    ("shots", "field"),
    [
        ([{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": 13}], "shots[1].duration"),
        ([{"prompt": "a"}], "shots[0].duration"),
        ([{"prompt": " ", "duration": 1}], "shots[0].prompt"),
        ([{"prompt": "x" * 11, "duration": 1}], "shots[0].prompt"),
        ([{"prompt": "a", "duration": 1, "camera_move": "tilt"}], "shots[0].camera_move"),
        ([{"prompt": "a", "duration": 1, "colour": "red"}], "shots[0].colour"),
        ([{"prompt": "a", "duration": 1}, "a shot"], "shots[1]"),
        ([{"prompt": "a", "duration": 1}, None], "shots[1]"),
        ([Named(scene="a")], "shots[0]"),  # an entry of another class
        ([], "shots"),  # min_items=1
        ([{"prompt": "a", "duration": 1}] * 4, "shots"),  # max_items=3
        ("[]", "shots"),  # text is read as JSON on the command line only
        ({"prompt": "a", "duration": 1}, "shots"),  # a lone entry is not a list of one
        (3, "shots"),
    ],
)
def test_a_bad_entry_is_named_by_its_place(shots: Any, field: str) -> None:
    assert refused(shots=shots) == field
    with pytest.raises(ValidationError) as direct:  # calling the class: the same names
        board(shots=shots)
    assert direct.value.field == field


def test_an_entrys_own_rule_is_named_by_its_place() -> None:
    assert refused(scenes=[{"scene": "ok"}, {"scene": "forbidden"}]) == "scenes[1].scene"
    assert refused(scenes=[{"scene": "a", "image_urls": ["ftp://x"]}]) == "scenes[0].image_urls[0]"


def test_the_validator_reads_mappings_too() -> None:
    # the contract kit and the converter's fallback both call Spec.check on raw mappings
    spec("shots").check("shots", [{"prompt": "a", "duration": 1}])
    with pytest.raises(ValidationError) as info:
        spec("shots").check("shots", [{"prompt": "a", "duration": 1}, {"prompt": "a"}])
    assert info.value.field == "shots[1].duration"


def test_a_required_items_field_is_named_when_missing_or_none() -> None:
    for values in ({"ids": ["a"]}, {"ids": ["a"], "shots": None}):
        with pytest.raises(ValidationError) as info:
            make_input(NeedsShots, values)
        assert info.value.field == "shots"


def test_a_list_fields_default_must_be_none() -> None:
    from kiekit.fields import _field

    with pytest.raises(TypeError):
        _field(Spec("items", of=Shot), ())
    with pytest.raises(TypeError):
        _field(Spec("texts", of=Spec("text", required=True)), ())


@frozen
class Frame(Input):
    image_url: str = text()
    hold_seconds: int | None = integer(0, 5, default=None)
    url_override: str | None = text(default=None, required=False, wire="frame_URL")


@frozen
class Camel(Input):
    """A camelCase family's input with a nested list (the legacy families spell keys so)."""

    prompt: str = text()
    key_frames: tuple[Frame, ...] | None = items(Frame, default=None)


def test_nested_mappings_take_the_familys_spelling() -> None:
    given = {"prompt": "p", "keyFrames": [{"imageUrl": "a", "holdSeconds": 2}]}
    value = make_input(Camel, given, camel_case=True)
    assert value == Camel(prompt="p", key_frames=(Frame(image_url="a", hold_seconds=2),))
    python_names = {"prompt": "p", "key_frames": [{"image_url": "a", "hold_seconds": 2}]}
    assert make_input(Camel, python_names, camel_case=True) == value
    # a snake_case family's wire names are the Python names: camelCase keys are unknown there
    with pytest.raises(ValidationError) as info:
        make_input(Camel, {"prompt": "p", "key_frames": [{"imageUrl": "a"}]})
    assert info.value.field == "key_frames[0].imageUrl"


def test_a_camel_case_familys_nested_error_names_the_python_field_and_its_place() -> None:
    given = {"prompt": "p", "keyFrames": [{"imageUrl": "a"}, {"holdSeconds": 9}]}
    with pytest.raises(ValidationError) as info:
        make_input(Camel, given, camel_case=True)
    assert info.value.field == "key_frames[1].image_url"


# -- texts ---------------------------------------------------------------------------------------


def test_texts_are_kept_as_a_tuple() -> None:
    assert board(ids=["a", "b"]).ids == ("a", "b")
    assert board(ids=("a",), tags=["x y"]).tags == ("x y",)
    assert board(ids=[]).ids == ()  # no min_items: an empty list is a list


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"ids": "a,b"}, "ids"),  # a lone string is not a list (the command line splits it)
        ({"ids": 5}, "ids"),
        ({"ids": {"a": 1}}, "ids"),
        ({"ids": ["a", " "]}, "ids[1]"),
        ({"ids": [""]}, "ids[0]"),
        ({"ids": ["a", 5]}, "ids[1]"),
        ({"ids": [None]}, "ids[0]"),
        ({"ids": ["x" * 9]}, "ids[0]"),  # max_length per string
        ({"ids": ["a", "b", "c", "d"]}, "ids"),  # max_items
        ({"tags": []}, "tags"),  # min_items
    ],
)
def test_a_bad_text_list_is_named(values: dict[str, Any], field: str) -> None:
    assert refused(**values) == field


def test_a_required_texts_field_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        make_input(NeedsShots, {"shots": [{"prompt": "a", "duration": 1}]})
    assert info.value.field == "ids"


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a,b", ["a", "b"]),
        (" a , ,b ", ["a", "b"]),
        ("one", ["one"]),
        ('["a", "b"]', ["a", "b"]),
        (' ["a,b", "c"] ', ["a,b", "c"]),  # JSON keeps a comma inside an entry
        ("", []),
        ("[not json", "[not json"),  # left for the validator, which names the field
        ('["a", 5]', ["a", 5]),  # the validator names ids[1]
    ],
)
def test_coerce_reads_texts_as_json_or_comma_separated(raw: str, expected: Any) -> None:
    assert coerce(spec("ids"), raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('[{"prompt": "a", "duration": 2}]', [{"prompt": "a", "duration": 2}]),
        ("[]", []),
        ("a shot", "a shot"),  # not JSON: left for the validator (or the class) to judge
        ('{"prompt": "a", "duration": 2}', '{"prompt": "a", "duration": 2}'),
        ("5", "5"),
        ("[NaN]", "[NaN]"),  # Python's JSON extensions are not JSON
    ],
)
def test_coerce_reads_items_as_a_json_array(raw: str, expected: Any) -> None:
    assert coerce(spec("shots"), raw) == expected


def test_make_input_from_text_reads_both_list_kinds() -> None:
    given = {
        "prompt": "p",
        "shots": '[{"prompt": "a", "duration": "2"}, {"prompt": "b", "duration": 3}]',
        "ids": "x, y",
    }
    with pytest.raises(ValidationError) as info:  # JSON's "2" is a string, not an integer
        make_input(Board, given, from_text=True)
    assert info.value.field == "shots[0].duration"

    given["shots"] = '[{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": 3}]'
    assert make_input(Board, given, from_text=True) == board(
        shots=[Shot(prompt="a", duration=2), Shot(prompt="b", duration=3)], ids=["x", "y"]
    )


@pytest.mark.parametrize(("name", "junk"), [("shots", "[not json"), ("shots", "a"), ("ids", "[x")])
def test_junk_from_the_command_line_is_named(name: str, junk: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_input(Board, {"prompt": "p", name: junk}, from_text=True)
    assert info.value.field == name


# -- the wire ------------------------------------------------------------------------------------


def test_entries_go_on_the_wire_as_objects_with_wire_names() -> None:
    value = board(
        shots=[
            {"prompt": "a", "duration": 2, "camera_move": "pan"},
            {"prompt": "b", "duration": 3},
        ],
        scenes=[{"scene": "s", "image_urls": ["https://x/a.png"], "silent": False}],
        ids=["i"],
    )

    wire = input_to_wire(value, camel_case=False)

    assert wire == {
        "prompt": "p",
        "shots": [
            {"prompt": "a", "duration": 2, "camera_move": "pan"},
            {"prompt": "b", "duration": 3},  # None is left out inside entries too
        ],
        "scenes": [{"Scene": "s", "image_urls": ["https://x/a.png"], "silent": False}],
        "ids": ["i"],
    }
    assert type(wire["shots"]) is list
    assert json.loads(json.dumps(wire)) == wire


def test_nested_entries_are_spelt_like_their_parent() -> None:
    frames = (Frame(image_url="a", hold_seconds=0, url_override="u"), Frame(image_url="b"))
    value = Camel(prompt="p", key_frames=frames)

    assert input_to_wire(value, camel_case=True) == {
        "prompt": "p",
        "keyFrames": [{"imageUrl": "a", "holdSeconds": 0, "frame_URL": "u"}, {"imageUrl": "b"}],
    }
    assert input_to_wire(value, camel_case=False) == {
        "prompt": "p",
        "key_frames": [{"image_url": "a", "hold_seconds": 0, "frame_URL": "u"}, {"image_url": "b"}],
    }


@frozen
class Outer(Input):
    """Entries may hold lists of entries: names and the wire nest all the way down."""

    boards: tuple[Camel, ...] = items(Camel, required=True)


def test_lists_nest() -> None:
    given: dict[str, Any] = {
        "boards": [{"prompt": "p", "keyFrames": [{"imageUrl": "a"}, {"imageUrl": " "}]}]
    }
    with pytest.raises(ValidationError) as info:
        make_input(Outer, given, camel_case=True)
    assert info.value.field == "boards[0].key_frames[1].image_url"

    given["boards"][0]["keyFrames"][1] = {"imageUrl": "b"}
    value = make_input(Outer, given, camel_case=True)
    assert input_to_wire(value, camel_case=True) == given


# -- properties ----------------------------------------------------------------------------------

_SHOTS = st.builds(
    Shot, prompt=st.text("abc xyz", max_size=10).filter(str.strip), duration=st.integers(1, 12)
)


@given(shots=st.lists(_SHOTS, min_size=1, max_size=3), camel_case=st.booleans())
def test_entries_round_trip_through_the_wire(shots: list[Shot], camel_case: bool) -> None:
    value = board(shots=shots)
    wire = input_to_wire(value, camel_case=False)
    assert make_input(Board, wire) == value
    assert make_input(Board, json.loads(json.dumps(wire))) == value
    assert len(input_to_wire(value, camel_case=camel_case)["shots"]) == len(shots)


@given(
    ids=st.lists(st.text("abcdefgh_-0123456789", min_size=1, max_size=8), min_size=1, max_size=3)
)
def test_texts_round_trip_through_the_command_line(ids: list[str]) -> None:
    assert coerce(spec("ids"), ",".join(ids)) == ids
    assert coerce(spec("ids"), json.dumps(ids)) == ids
    board = make_input(Board, {"prompt": "p", "ids": ",".join(ids)}, from_text=True)
    assert isinstance(board, Board)
    assert board.ids == tuple(ids)
