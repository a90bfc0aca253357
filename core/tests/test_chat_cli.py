"""``kie chat MODEL "hello"`` on the embedded mock, with the installed kiekit-chat plugin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kiekit import cli

pytest.importorskip("kiekit_chat")  # the command is core's; the models come from the plugin
pytest.importorskip("kiekit_mock")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_chat_streams_the_answer_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "chat", "gpt-5-2", "hello", "--mock")
    assert code == 0
    assert out == "Echo from gpt-5-2: hello\n"
    assert "gpt-5-2; " in err
    assert "credits" in err


def test_chat_json_no_stream_with_system_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["chat", "claude-sonnet-4-6", "hi there", "--mock", "--no-stream", "--json"]
    argv += ["--system", "be kind", "--option", "thinking=true", "--option", "max_tokens=64"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    reply = json.loads(out)
    assert (reply["ok"], reply["command"]) == (True, "chat")  # as every command's --json
    assert reply["text"] == "Echo from claude-sonnet-4-6: hi there"
    assert reply["thinking"]
    assert reply["usage"]["input_tokens"] > 0
    assert reply["credits"] > 0


def test_bad_options_are_one_line_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["chat", "gemini-2.5-flash", "hi", "--mock", "--option", 'response_format={"a": 1}']
    code, out, err = run(capsys, *argv, "--option", "google_search=true")
    assert code == 2
    assert out == ""
    assert err == "kie: error: response_format: cannot be combined with tools or google_search\n"


def test_a_failing_stream_is_a_typed_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "chat", "gpt-5-4", "hi [mock:fail] you", "--mock")
    assert code == 1
    assert out == "Echo \n"  # what came before the error event, its line ended
    assert err.splitlines()[-1] == (
        "kie: error: KIE error 500: Server error: the mock was asked to fail this chat"
    )


def test_a_task_model_is_sent_to_kie_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "chat", "flux-kontext-pro", "hi", "--mock")
    assert code == 2
    assert "is a task model, not a chat model: use submit or kie run" in err


def test_providers_tags_chat_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "providers")
    assert code == 0
    assert "  gpt-5-2  [text, chat, streaming]" in out.splitlines()


def test_images_go_with_the_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["chat", "gpt-5-2", "what is it", "--mock", "--image", "https://example.com/a.png"]
    code, out, _ = run(capsys, *argv, "--image", "https://example.com/b.png")
    assert code == 0
    assert out == "Echo from gpt-5-2: what is it (and 2 images)\n"
    code, _, err = run(capsys, "chat", "gpt-5-2", "what is it", "--mock", "--image", "a.png")
    assert code == 2
    assert err == (  # said as the option's, not as an internal path of the message
        "kie: error: --image: a.png: no such file (give an image file, an http(s) or "
        "data:image URL)\n"
    )
    long = "a" * 300 + ".png"  # a name no file system takes: is_file() raised ENAMETOOLONG
    code, _, err = run(capsys, "chat", "gpt-5-2", "what is it", "--mock", "--image", long)
    assert code == 2
    assert err.startswith("kie: error: --image: aaa")
    assert err.endswith("… (304 characters): File name too long\n")


def test_a_local_image_file_goes_inline_as_kie_run_takes_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`kie run --image ./photo.png` takes a local file, so a newcomer tries the same here."""
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    code, out, _ = run(capsys, "chat", "gpt-5-2", "what is it", "--mock", "--image", str(photo))
    assert (code, out) == (0, "Echo from gpt-5-2: what is it (and 1 image)\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    code, _, err = run(capsys, "chat", "gpt-5-2", "what is it", "--mock", "--image", str(notes))
    assert code == 2
    assert "kie: error: --image: is not an image (PNG, JPEG, WebP, GIF, BMP, TIFF or HEIC)" in err


def test_a_local_image_is_judged_by_its_content_as_kie_run_judges_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A photo saved without an extension is an image, and a text named .png is not (it was
    sent inline as image/png, and paid for, in an outside tester's run)."""
    from kiekit.cli import chat

    photo = tmp_path / "photo"
    photo.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(32))
    assert chat._image_url(str(photo)).startswith("data:image/webp;base64,UklGR")
    code, out, _ = run(capsys, "chat", "gpt-5-2", "what", "--mock", "--image", str(photo))
    assert (code, out) == (0, "Echo from gpt-5-2: what (and 1 image)\n")
    fake = tmp_path / "notimg.png"
    fake.write_text("just some text")
    code, out, err = run(capsys, "chat", "gpt-5-5", "what", "--mock", "--image", str(fake))
    assert (code, out) == (2, "")
    assert err.startswith("kie: error: --image: is not an image")


def test_an_image_under_home_without_a_home_directory_is_one_error_naming_the_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container user (HOME unset, no passwd entry) quoting ``~``: pathlib's RuntimeError
    was a traceback."""
    pwd = pytest.importorskip("pwd")
    monkeypatch.delenv("HOME", raising=False)

    def no_entry(uid: int) -> None:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    code, out, err = run(capsys, "chat", "gpt-5-2", "what is it", "--mock", "--image", "~/x.png")
    assert (code, out) == (2, "")
    said = "kie: error: --image: ~/x.png: no home directory to expand ~ to; give the full path"
    assert err == said + "\n"


@pytest.mark.parametrize("model", ["gpt-5-2", "claude-sonnet-4-6", "gpt-5-4"])
def test_a_two_megabyte_photo_goes_inline_to_the_embedded_mock(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: str
) -> None:
    """An ordinary phone photo (~2 MB) inline is ~2.7 MB of JSON: more than the mock's 1 MiB
    for task routes, well within what a chat route takes (the three chat wire shapes)."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(2 * 2**20))
    code, out, err = run(capsys, "chat", model, "what is it", "--mock", "--image", str(photo))
    assert code == 0, err
    assert out.endswith("what is it (and 1 image)\n")


def test_a_mistyped_chat_model_is_one_error_with_the_close_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["chat", "gemini-2.5-flsh", "hi", "--mock"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kie: error: no installed provider offers model 'gemini-2.5-flsh'")
    assert "did you mean 'gemini-2.5-flash'" in err
    assert "sent as is" not in err  # no warning contradicting the refusal


WEATHER = json.dumps(
    [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
)


@pytest.mark.parametrize("stream", [[], ["--no-stream"]], ids=["stream", "whole"])
def test_a_tool_call_is_printed_one_line_each_and_in_json(
    capsys: pytest.CaptureFixture[str], stream: list[str]
) -> None:
    """The answer KIE charged for is the call: printed where a script reads it, not an empty
    line (found by an outside tester driving an agent through the CLI)."""
    argv = ["chat", "gpt-5-2", "weather? [mock:tool]", "--mock", "--option", f"tools={WEATHER}"]
    code, out, _ = run(capsys, *argv, *stream)
    assert code == 0
    assert out == 'tool_call get_weather {"city": "mock"}\n'
    name, arguments = out.split(" ", 2)[1:]
    assert (name, json.loads(arguments)) == ("get_weather", {"city": "mock"})
    code, out, _ = run(capsys, *argv, *stream, "--json")
    (call,) = json.loads(out)["tool_calls"]
    assert call["id"].startswith("call_")
    assert (call["name"], call["arguments"]) == ("get_weather", {"city": "mock"})


def test_json_says_no_tool_calls_as_an_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "chat", "gpt-5-2", "hello", "--mock", "--json")
    assert (code, json.loads(out)["tool_calls"]) == (0, [])


@pytest.mark.parametrize(("credits", "said"), [(0.000015, "0.000015"), (1234567.25, "1234567.25")])
def test_the_summary_line_says_the_credits_charged_as_kie_said(credits: float, said: str) -> None:
    """``:g`` wrote 1.5e-05 and 1.23457e+06: an exponent, or six digits of the sum."""
    from kiekit.chat import ChatReply
    from kiekit.cli.chat import _summary

    assert _summary(ChatReply("hi", "gpt-5-2", credits=credits)) == f"gpt-5-2; {said} credits"


def test_json_keeps_the_answer_so_far_of_a_cut_stream(capsys: pytest.CaptureFixture[str]) -> None:
    """Cut mid-answer, the text that came was received and charged: ``--json`` keeps it in
    the error object (it printed only the error, in an outside tester's run)."""
    code, out, _ = run(capsys, "chat", "gpt-5-2", "a [mock:drop] b", "--mock", "--json")
    assert code == 1
    answer = json.loads(out)
    assert (answer["ok"], answer["error"]["type"]) == (False, "TransportError")
    assert "received and charged" in answer["error"]["message"]
    assert answer["error"]["partial"]["text"] == "Echo "
    assert answer["error"]["partial"]["model"] == "gpt-5-2"


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes | None) -> None:
    import io
    import sys
    import types

    given = None if data is None else types.SimpleNamespace(buffer=io.BytesIO(data))
    monkeypatch.setattr(sys, "stdin", given)


def test_a_dash_reads_the_prompt_from_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # larger than Linux's 128 KiB cap on one argument, and a character across two slices
    prompt = "summarise this: " + "я" * 100_000
    _stdin(monkeypatch, prompt.encode())
    code, out, _ = run(capsys, "chat", "gpt-5-2", "-", "--mock", "--json")
    assert code == 0
    assert json.loads(out)["text"] == f"Echo from gpt-5-2: {prompt}"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "PROMPT: is empty: standard input held no text (nothing was sent)"),
        (b" \n", "PROMPT: is empty: standard input held no text (nothing was sent)"),
        (None, "PROMPT: - reads standard input, which is closed"),
        (b"caf\xe9 au lait", "PROMPT: standard input is not UTF-8 text (its byte 4 is 0xe9"),
    ],
)
def test_a_bad_standard_input_is_refused_naming_the_prompt(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: bytes | None,
    said: str,
) -> None:
    _stdin(monkeypatch, data)
    code, out, err = run(capsys, "chat", "gpt-5-2", "-", "--mock", "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert (error["type"], error["field"]) == ("ValidationError", "PROMPT")
    assert error["message"].startswith(said)
    assert "mock KIE server" not in err  # refused before any server was started


def test_a_bad_byte_past_the_first_slice_is_placed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiekit.cli.chat import _SLICE

    _stdin(monkeypatch, "я".encode() * (_SLICE // 2) + b"ok\xff")
    code, out, _ = run(capsys, "chat", "gpt-5-2", "-", "--mock", "--json")
    assert code == 2
    assert f"its byte {_SLICE + 3} is 0xff" in json.loads(out)["error"]["message"]
