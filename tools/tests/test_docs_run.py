"""Docs that run: every ```python block in the READMEs and docs/ runs as written against the
mock, in a fresh folder. Blocks written for the real service (``Client()``) reach the mock
through ``KIE_BASE_URL`` / ``KIE_UPLOAD_BASE_URL`` and a fake ``KIE_API_KEY``, as a user would
point them at it. The mock finishes a task at once, so the waits written for KIE's pace are
shortened (a client's default polls, a block's own ``time.sleep``): the blocks run their code as
written, without minutes of sleeping through KIE's schedule. A block that cannot run alone (a
test class for pytest, a webhook handler inside a web app) starts with ``# fragment: why`` and
is only compiled, so it still cannot rot into a syntax error."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    {
        *ROOT.glob("*.md"),
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("*/README.md"),
        *ROOT.glob("plugins/*/README.md"),
    }
)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
FRAGMENT = re.compile(r"\A# fragment: \S")


def blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            found.append((f"{page.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = blocks()


def test_the_docs_have_python_blocks_on_many_pages() -> None:
    assert len(BLOCKS) >= 40
    assert len({where.split(":")[0] for where, _ in BLOCKS}) >= 10


@pytest.fixture(scope="module")
def mock() -> Iterator[Any]:
    from kiekit_mock import MockConfig, MockServer

    with MockServer(MockConfig()) as server:
        yield server


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A block that tunes logging (docs/observability.md: a logger's level, a filter on
    urllib3's) tunes it for itself: the tests this process runs next see it as it was (a
    ``kiekit.http`` left at WARNING failed test_observe.py's when they ran after it)."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger(), *manager.loggerDict.values()]
    saved = {
        id(logger): (logger.level, list(logger.filters), list(logger.handlers))
        for logger in loggers
        if isinstance(logger, logging.Logger)
    }
    yield
    for logger in [logging.getLogger(), *manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue
        # one made meanwhile keeps its handlers (a library's NullHandler, added at import)
        level, filters, handlers = saved.get(id(logger), (logging.NOTSET, [], logger.handlers))
        logger.setLevel(level)
        logger.filters[:] = filters
        logger.handlers[:] = handlers


@pytest.mark.parametrize(("where", "source"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_the_block_runs_as_written(
    where: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mock: Any
) -> None:
    code = compile(source, where, "exec")
    if FRAGMENT.match(source):
        return  # compiled above: a fragment is shown, not run
    monkeypatch.setenv("KIE_API_KEY", "docs-example-fake-key")  # the mock's: never a real one
    monkeypatch.setenv("KIE_BASE_URL", mock.base_url)
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", mock.upload_base_url)
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path / "data"))  # a journal of its own
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kiekit.client.PollPolicy", _mock_pace)  # a client's default polls
    monkeypatch.setattr(time, "sleep", _short_sleep)  # a block's own: "ask again in 25 s"
    exec(code, {"__name__": "docs_example"})  # noqa: S102 - our own documentation


def _mock_pace() -> Any:
    from kiekit.polling import PollPolicy

    return PollPolicy(initial=0.02, maximum=0.02, first=0.0)


_real_sleep = time.sleep


def _short_sleep(seconds: float) -> None:
    _real_sleep(min(seconds, 0.05))
