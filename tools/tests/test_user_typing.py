"""kiekit as a strict-typing application sees it: ``mypy --strict`` on a user's code, outside
the repository, against the installed distributions (their ``py.typed``).

Each snippet marks the lines mypy must report with ``# error: CODE``; every other line must
pass, so a fix that makes the checker loud everywhere fails too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

SNIPPETS = {
    # a module __getattr__ visible to type checkers makes every name exist, as Any
    "misspelled_names": """
        import kiekit
        import kiekit.transport
        from kiekit import Client, Clinet  # error: attr-defined
        from kiekit.chat import AsyncChatStream, ChatReplyy  # error: attr-defined
        from kiekit.transport import AiohttpTransport, AiohttpTransprt  # error: attr-defined
        from kiekit_mock.extension import ErrorAnswer, FamilyExtensionn  # error: attr-defined

        def handle(kie: Client, stream: AsyncChatStream) -> None:
            kie.sumbit("flux-kontext-pro", prompt="x")  # error: attr-defined

        client: int = kiekit.AsyncClinet  # error: attr-defined
        transports: list[type[object]] = [AiohttpTransport, kiekit.transport.MockTransport]
        answer: type[Exception] = ErrorAnswer
    """,
    # the static signature of a plugin's input class says what its runtime one does
    "input_signatures": """
        from kiekit.fields import OpenInput
        from kiekit_flux_kontext import FluxKontext
        from kiekit_grok_imagine import TextToImage

        FluxKontext()  # error: call-arg
        FluxKontext("a lighthouse at dawn")  # error: call-arg
        TextToImage(aspect_ratio="1:1")  # error: call-arg
        FluxKontext(prompt="x", safety_tolerance="high")  # error: arg-type
        FluxKontext(prompt="x")
        FluxKontext(prompt="x", aspect_ratio="16:9", safety_tolerance=2, input_image=None)
        OpenInput({"prompt": "x"})
        OpenInput(values={"prompt": "x"})
    """,
    # a field's maker says the value it holds: an annotation that disagrees is an error
    "field_makers": """
        from attrs import frozen
        from kiekit.fields import Input, choice, flag, integer, items, text, url, urls

        @frozen
        class Shot(Input):
            prompt: str = text(max_length=500)

        @frozen
        class Mine(Input):
            prompt: str = text()
            ratio: str | None = choice("1:1", "16:9", default=None)
            steps: int = integer(1, 50, required=True)
            shots: tuple[Shot, ...] | None = items(Shot, default=None)
            images: tuple[str, ...] = urls(required=True)
            seed: str | None = integer(0, 9, default=None)  # error: assignment
            image: str = url(default=None)  # error: assignment
            loud: bool = flag(default=None)  # error: assignment
            scenes: tuple[str, ...] | None = items(Shot, default=None)  # error: assignment

        Mine(prompt="x", steps=2, images=("https://a.example/b.png",))
        Mine(prompt="x", images=())  # error: call-arg
    """,
    # README: a WaitTimeoutError keeps the task id, to poll it again
    "error_fields": """
        from kiekit import (
            Client, OutcomeUnknownError, Request, Task, TaskFailedError, TaskStatus,
            WaitTimeoutError,
        )

        def recover(kie: Client, model: str, error: WaitTimeoutError) -> TaskStatus:
            return kie.status(Task(error.task_id, model))

        def report(error: TaskFailedError) -> str:
            return error.task_id.upper()

        def sent(error: OutcomeUnknownError) -> str:
            if isinstance(error.request, Request):
                return error.request.path
            return str(error.request.get("model"))  # error: union-attr
    """,
    # options are keywords type checkers know: a misspelt one or a wrong type is their error
    "typed_options": """
        from kiekit import AsyncClient, Client
        from kiekit.chat import ChatOptions
        from kiekit_mock import MockServer

        def ask(kie: Client, slow: AsyncClient, mock: MockServer) -> None:
            kie.chat("gpt-5-2", "hi", max_tokens=50, reasoning_effort="low")
            kie.chat("gpt-5-2", "hi", max_token=50)  # error: call-arg
            kie.chat("gpt-5-2", "hi", max_tokens="fifty")  # error: arg-type
            kie.chat_stream("claude-sonnet-4-5", "hi", thinking=True, tools=[{"name": "f"}])
            slow.chat_stream("gpt-5-2", "hi", temprature=0.5)  # error: call-arg
            options: ChatOptions = {"temperature": 0.2, "google_search": True}
            kie.chat("gemini-2.5-flash", "hi", **options)
            mock.configure_callbacks(copies=3, tamper="stale", hmac_key="k", stale_seconds=600)
            mock.configure_callbacks(copise=3)  # error: call-arg
            mock.configure_callbacks(copies="3")  # error: arg-type
            mock.configure_callbacks(tamper="sig")  # error: arg-type
            kie.chat("gpt-5-2", "hi", reasoning_effort="extreme")  # error: arg-type
    """,
    # hints as wide as what the calls take, as narrow as what they give (apiref 6, 8)
    "hints_match_behaviour": """
        from kiekit import AsyncClient
        from kiekit.batch import JobResult, run_batch
        from kiekit.chat import CHAT_DEADLINE
        from kiekit.journal import OPEN_STATES, EntryState, Journal, Selection

        async def run(kie: AsyncClient, journal: Journal, result: JobResult) -> None:
            await run_batch(kie, journal, [], "out")
            Selection(states={EntryState.CREATED})
            Selection(states={"created", EntryState.FAILED})
            Selection(states=OPEN_STATES)
            Selection(states={1})  # error: arg-type
            if result.state == "succeeded":
                print(CHAT_DEADLINE + 1.0)
            if result.state == "success":  # error: comparison-overlap
                pass
    """,
    # a test suite's own mock, with helpers, keeps its type inside ``with``
    "mock_subclass": """
        from kiekit_mock import MockServer

        class SeededMock(MockServer):
            def seed(self) -> int:
                return 0

        with SeededMock() as mock:
            seeded: int = mock.seed()
    """,
}


def _expected(source: str) -> set[tuple[int, str]]:
    return {
        (number, code)
        for number, line in enumerate(source.splitlines(), 1)
        for code in re.findall(r"# error: ([\w-]+)", line)
    }


def _mypy(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    return subprocess.run(  # noqa: S603 - this interpreter's mypy, on snippets of our own
        [sys.executable, "-m", "mypy", "--strict", "--python-version", "3.11", *argv],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,  # a bound against a hang, however loaded the machine
        check=False,
    )


@pytest.fixture(scope="module")
def reported(
    tmp_path_factory: pytest.TempPathFactory, warm_mypy_cache: Callable[..., None]
) -> dict[str, set[tuple[int, str]]]:
    """What mypy --strict reports on each snippet: (line, error code)s, checked in one run."""
    app = tmp_path_factory.mktemp("app")
    for name, source in SNIPPETS.items():
        (app / f"{name}.py").write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    cache = app / ".cache"
    warm = ["-c", "import kiekit, kiekit_flux_kontext, kiekit_grok_imagine, kiekit_mock"]
    warm_mypy_cache("user", lambda into: _mypy(["--cache-dir", str(into), *warm], app), cache)
    done = _mypy(["--cache-dir", str(cache), *(f"{name}.py" for name in SNIPPETS)], app)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    found: dict[str, set[tuple[int, str]]] = {name: set() for name in SNIPPETS}
    errors = re.findall(r"^(\w+)\.py:(\d+): error: .*\[([\w-]+)\]$", done.stdout, re.M)
    for name, line, code in errors:
        found[name].add((int(line), code))
    return found


@pytest.mark.parametrize("name", SNIPPETS)
def test_mypy_strict_reports_exactly_the_marked_lines(
    name: str, reported: dict[str, set[tuple[int, str]]]
) -> None:
    source = textwrap.dedent(SNIPPETS[name]).lstrip()
    assert reported[name] == _expected(source)
