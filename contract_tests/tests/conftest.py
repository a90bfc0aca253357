"""The kit's own tests run the contract inside pytester sessions, against fake providers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

pytest_plugins = ["pytester"]

Outcomes = dict[str, dict[str, str]]  # test class → contract test → outcome

# The session's conftest: each test's outcome to outcomes.json, for this process to read.
RECORDER = """
import json
import pathlib

OUTCOMES = {}


def pytest_runtest_logreport(report):
    if report.when == "call" or not report.passed:
        OUTCOMES[report.nodeid] = report.outcome


def pytest_sessionfinish(session):
    pathlib.Path("outcomes.json").write_text(json.dumps(OUTCOMES))
"""


@pytest.fixture
def run_contract(pytester: pytest.Pytester) -> Callable[..., tuple[Outcomes, str]]:
    """Run the test files written into ``pytester`` (with pytest's ``args``): each class's
    outcome per contract test, and the output. A subprocess, so the fakes' hypothesis profile
    and the mock it starts stay out of ours."""

    def run(*args: str) -> tuple[Outcomes, str]:
        pytester.makeconftest(RECORDER)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        found: Outcomes = {}
        for nodeid, outcome in json.loads((pytester.path / "outcomes.json").read_text()).items():
            _, cls, test = nodeid.split("::")
            found.setdefault(cls, {})[test] = outcome
        return found, result.stdout.str()

    return run


def _failure_report(output: str, cls: str, test: str) -> str:
    sections = re.split(r"^_{3,} (\S+) _{3,}$|^=+ short test summary info =+$", output, flags=re.M)
    found = [
        sections[i + 1] for i in range(1, len(sections) - 1, 2) if sections[i] == f"{cls}.{test}"
    ]
    assert len(found) == 1, f"{cls}.{test}: {len(found)} reports in the output"
    return found[0]


@pytest.fixture
def failure_report() -> Callable[[str, str, str], str]:
    """``failure_report(output, cls, test)``: the report pytest wrote of ``cls``'s failed
    ``test`` in a session's ``output`` (its ``____ Class.test ____`` section, to the next one),
    what the plugin's author reads of that failure. So one session of the fakes tells both
    each test's outcome and what its failure says (a second one, for the messages, started
    another process and mock and collected the fakes again)."""
    return _failure_report
