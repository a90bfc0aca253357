"""The kit's own tests run the contract inside pytester sessions, against fake providers."""

from __future__ import annotations

import json
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
