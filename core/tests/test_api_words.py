"""What the public API says and takes, as its signature and its docs promise (outside tester
"apiref", findings 6-8): an error names the parameter the caller passed and the cause the
caller set, a selection by state takes the states' names, and a batch its folder as a str."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import Registry, Task, UnknownModelError, ValidationError
from kiekit.journal import OPEN_STATES, EntryState, Journal, MemoryStore, Selection
from kiekit.retry import RetryPolicy

NO_LIMITS: dict[str, Any] = {"rate_limits": None, "retry": RetryPolicy.never()}


# -- errors name the caller's parameter --------------------------------------------------------


def test_a_wait_s_bad_timeout_names_timeout_not_the_policy_field(
    api: Any, kit: SimpleNamespace
) -> None:
    kie = kit.FakeKie([kit.market("waiting")])

    async def scenario() -> ValidationError:
        async with api.client(transport=kie.transport, journal=None, **NO_LIMITS) as client:
            with pytest.raises(ValidationError) as refused:
                await client.wait(Task(kit.TASK_ID, kit.GROK_T2I), timeout=0)
            return refused.value

    refused = api.run(scenario)
    assert refused.field == "timeout"
    assert str(refused) == "timeout: must be a finite number > 0, got 0"
    assert kie.requests == []  # refused before any poll


def test_hand_off_names_its_task_parameter(api: Any, kit: SimpleNamespace) -> None:
    """The journal's refusal named the row ("key"); hand_off's parameter is ``task``."""
    journal = Journal(MemoryStore())
    kie = kit.FakeKie([kit.market("waiting")])

    async def scenario() -> list[ValidationError]:
        refused = []
        async with api.client(transport=kie.transport, journal=journal, **NO_LIMITS) as client:
            task = await client.submit(kit.GROK_T2I, prompt="x")
            for given in (task, "no-such-task"):
                with pytest.raises(ValidationError) as info:
                    await client.hand_off(given)
                refused.append(info.value)
        return refused

    running, unknown = api.run(scenario)
    assert (running.field, unknown.field) == ("task", "task")
    assert "only a succeeded task's result links can be handed off" in str(running)
    assert str(unknown).startswith("task: no row 'no-such-task' in the task journal")


def test_a_plugin_left_out_by_the_registry_s_argument_is_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It cited KIEKIT_BLOCK_PLUGINS / KIEKIT_ALLOW_PLUGINS, which were not set; and listed the
    chat models among what submit takes."""
    monkeypatch.delenv("KIEKIT_BLOCK_PLUGINS", raising=False)
    monkeypatch.delenv("KIEKIT_ALLOW_PLUGINS", raising=False)
    registry = Registry(blocked=["kiekit-veo"])
    with pytest.raises(UnknownModelError) as info:
        registry.provider("veo3")
    said = str(info.value)
    assert "kiekit-veo serves it, but Registry(blocked=…) leaves it out" in said
    assert "KIEKIT_" not in said
    installed = said.partition("(installed: ")[2]
    assert "flux-kontext-pro" in installed
    assert not set(registry.chat_models()) & set(installed.rstrip(")").split(", "))


def test_a_plugin_left_out_by_the_allow_list_names_that_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KIEKIT_BLOCK_PLUGINS", raising=False)
    monkeypatch.setenv("KIEKIT_ALLOW_PLUGINS", "kiekit-flux-kontext,kiekit-market")
    with pytest.raises(UnknownModelError, match="kiekit-veo serves it, but KIEKIT_ALLOW_PLUGINS"):
        Registry().provider("veo3")


# -- a selection by state ------------------------------------------------------------------------


def _journal_with_one_row_per_state() -> Journal:
    journal = Journal(MemoryStore())
    journal.adopt("5f488be792eafad4b066e21e5bc472c7", "flux-kontext-pro")  # created
    return journal


@pytest.mark.parametrize(
    "states", [{"created"}, "created", EntryState.CREATED, {EntryState.CREATED}, ["created"]]
)
def test_a_selection_takes_states_by_name_as_well(states: Any) -> None:
    """``{"created"}`` matched nothing, silently; ``"created"`` raised a TypeError."""
    selection = Selection(states=states)
    assert selection.states == frozenset({EntryState.CREATED})
    assert [row.state for row in _journal_with_one_row_per_state().select(selection)] == [
        EntryState.CREATED
    ]


def test_a_selection_refuses_a_word_that_is_no_state() -> None:
    with pytest.raises(ValidationError) as refused:
        Selection(states={"created", "done"})
    assert refused.value.field == "states"
    assert "'done' is not a row's state" in str(refused.value)
    assert EntryState.CREATED in OPEN_STATES  # exported, as the docstring cites it


# -- batch and chat hints ------------------------------------------------------------------------


def test_run_batch_takes_its_folder_as_a_str(kit: SimpleNamespace, tmp_path: Path) -> None:
    from kiekit import AsyncClient
    from kiekit.batch import JOB_STATES, Job, run_batch

    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.png"])])
    kie.files[f"{kit.CDN}/a.png"] = kit.PNG
    journal = Journal(MemoryStore())
    job = Job(1, "a", kit.GROK_T2I, {"prompt": "x"})

    async def scenario() -> Any:
        async with AsyncClient("k", transport=kie.transport, journal=journal, **NO_LIMITS) as c:
            return await run_batch(c, journal, [job], str(tmp_path / "out"))

    (result,) = asyncio.run(scenario())
    assert result.state == "succeeded"
    assert result.state in JOB_STATES
    assert [Path(f).parent for f in result.files] == [(tmp_path / "out").resolve()]


def test_a_job_result_of_a_state_this_kiekit_does_not_know_is_refused() -> None:
    from kiekit import ProtocolError
    from kiekit.batch import JobResult

    with pytest.raises(ProtocolError, match="'success'"):
        JobResult.from_json({"line": 1, "id": "a", "state": "success"})


def test_chat_deadline_is_exported_where_the_docs_name_it() -> None:
    from kiekit.chat import CHAT_DEADLINE, _flows

    assert CHAT_DEADLINE == 600.0
    assert _flows.CHAT_DEADLINE is CHAT_DEADLINE  # what a call reads
