"""A plugin's hook that raises a non-kiekit error, or returns the wrong type, is one typed
PluginHookError naming the plugin, the hook, the model and the task, chained to the original
(an outside plugin author's findings: a ``KeyError`` in ``parse_status``, a dict returned by
``build_request``, a list by ``extract_results`` came out as bare tracebacks naming nobody)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import PluginHookError, ProtocolError
from kiekit.models import Request, Results, Task, TaskStatus
from kiekit.registry import Registry
from kiekit_grok_imagine.provider import GrokImagineProvider


class Broken(GrokImagineProvider):
    """grok-imagine with one deliberately broken hook, chosen by ``bug``."""

    def __init__(self, bug: str) -> None:
        self.bug = bug

    def build_request(
        self, model_id: str, params: Any, *, callback_url: str | None = None
    ) -> Request:
        if self.bug == "build_dict":
            return {"method": "POST"}  # type: ignore[return-value]
        return super().build_request(model_id, params, callback_url=callback_url)

    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        if self.bug == "status_keyerror":
            return data["no-such-key"]
        if self.bug == "status_str":
            return "success"  # type: ignore[return-value]
        return super().parse_status(task_id, data)

    def extract_results(self, task_id: str, data: Any) -> Results:
        if self.bug == "results_list":
            return ["https://x"]  # type: ignore[return-value]
        if self.bug == "results_protocol":
            raise ProtocolError("a documented refusal", task_id=task_id)
        return super().extract_results(task_id, data)


def _registry(bug: str) -> Registry:
    registry = Registry(discover=False)
    registry.add_provider(Broken(bug))
    return registry


@pytest.mark.parametrize(
    ("bug", "hook", "said"),
    [
        ("status_keyerror", "parse_status", "raised KeyError: 'no-such-key'"),
        ("status_str", "parse_status", "returned str, not TaskStatus"),
        ("results_list", "extract_results", "returned list, not Results"),
    ],
)
def test_a_hook_that_raises_or_returns_the_wrong_type_is_one_plugin_hook_error_of_its_task(
    api: Any, kit: SimpleNamespace, bug: str, hook: str, said: str
) -> None:
    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.png"])])

    async def scenario() -> None:
        async with api.client(transport=kie.transport, registry=_registry(bug)) as client:
            await client.wait(Task(kit.TASK_ID, kit.GROK_T2I), timeout=60)

    with pytest.raises(PluginHookError) as caught:
        api.run(scenario)

    error = caught.value
    assert isinstance(error, ProtocolError)  # ends the task's wait as an unreadable answer does
    assert (error.distribution, error.hook) == (__name__, hook)
    assert (error.model, error.task_id) == (kit.GROK_T2I, kit.TASK_ID)
    assert f"plugin {__name__} is broken: Broken.{hook} for model {kit.GROK_T2I!r} " in str(error)
    assert said in str(error)
    assert str(error).endswith(f"(task {kit.TASK_ID})")
    if bug == "status_keyerror":
        assert isinstance(error.__cause__, KeyError)
    assert kie.polls == 1  # a plugin's bug reads the same answer alike: not polled again


def test_a_build_request_of_the_wrong_type_is_refused_before_anything_is_sent(
    api: Any, kit: SimpleNamespace
) -> None:
    kie = kit.FakeKie([kit.market("success")])

    async def scenario() -> None:
        async with api.client(transport=kie.transport, registry=_registry("build_dict")) as client:
            await client.submit(kit.GROK_T2I, prompt="a cat")

    with pytest.raises(PluginHookError, match=r"build_request .* returned dict, not Request"):
        api.run(scenario)
    assert kie.requests == []  # nothing paid for


def test_a_hook_s_own_kiekit_error_passes_as_it_is(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.png"])])

    async def scenario() -> None:
        async with api.client(transport=kie.transport, registry=_registry("results_protocol")) as c:
            await c.wait(Task(kit.TASK_ID, kit.GROK_T2I), timeout=60)

    with pytest.raises(ProtocolError, match="a documented refusal") as caught:
        api.run(scenario)
    assert not isinstance(caught.value, PluginHookError)


class _JobIdProvider(GrokImagineProvider):
    """A family whose callbacks carry the task id at ``data.job.id``, written carelessly."""

    def callback_task_id(self, payload: Any) -> str | None:
        return payload["data"]["job"]["id"]


class _RefProvider(GrokImagineProvider):
    """Another family: its callbacks carry the task id at ``data.ref``."""

    def callback_task_id(self, payload: Any) -> str | None:
        ref = (payload.get("data") or {}).get("ref")
        return ref if isinstance(ref, str) else None


def test_a_callback_task_id_that_raises_is_this_provider_cannot_read_it_and_the_next_is_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """KIE does not resend a callback (§6.1): a provider's KeyError on another family's body
    let the raw error through parse_callback, and hid the callback from the next provider."""
    from kiekit.webhooks import CallbackError, parse_callback

    body = b'{"code": 200, "msg": "ok", "data": {"ref": "feedbeef1234"}}'
    with caplog.at_level("WARNING", logger="kiekit.webhooks"):
        for order in ([_JobIdProvider(), _RefProvider()], [_RefProvider(), _JobIdProvider()]):
            assert parse_callback(body, providers=order).task_id == "feedbeef1234"
        with pytest.raises(CallbackError, match="carries no task id"):
            parse_callback(b'{"code": 200, "data": {}}', providers=[_JobIdProvider()])
    said = [r.getMessage() for r in caplog.records if "_JobIdProvider" in r.getMessage()]
    assert len(said) == 1  # once per plugin and kind of error
    assert f"{__name__}._JobIdProvider (grok-imagine).callback_task_id raised KeyError" in said[0]


def test_the_webhook_receiver_answers_400_not_500_when_a_provider_cannot_read_the_body() -> None:
    import asyncio
    import json

    from aiohttp.test_utils import TestClient, TestServer
    from kiekit.webhooks import WebhookReceiver

    async def scenario() -> list[int]:
        receiver = WebhookReceiver(providers=[_JobIdProvider()])
        answers = []
        async with TestClient(TestServer(receiver.app())) as client:
            for data in ({}, {"job": {"id": "abc123"}}):
                body = json.dumps({"code": 200, "msg": "ok", "data": data})
                headers = {"Content-Type": "application/json"}
                answer = await client.post("/kie/callback", data=body, headers=headers)
                answers.append(answer.status)
        await receiver.close()
        return answers

    assert asyncio.run(scenario()) == [400, 200]


def test_one_plugin_listing_an_id_twice_is_said_as_its_own_slip() -> None:
    """Not "claimed by both kiekit-acme-mesh and kiekit-acme-mesh (choose one with
    KIEKIT_PREFER…)": one plugin's bug, which no preference settles."""
    from kiekit import PluginError
    from kiekit.plugin import hookimpl

    class Twice:
        @hookimpl
        def kiekit_register_providers(self, register: Any) -> None:
            register(GrokImagineProvider())
            register(GrokImagineProvider())

    plugin = Twice()
    with pytest.raises(PluginError) as caught:
        Registry(discover=False).add(plugin, name="kiekit-acme-mesh")
    assert str(caught.value) == "kiekit-acme-mesh lists grok-imagine/text-to-image twice"


def test_kie_resume_contains_a_plugin_s_error_to_its_task_and_finishes_the_others(
    mock_server_factory: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One plugin's bug (parse_status raising KeyError) ended every `kie resume` with a
    traceback, and the other owed tasks (a Flux one) were never downloaded; the first run also
    wrote "this AsyncClient is closed" into the Flux row."""
    import kiekit.client
    from kiekit.cli import main
    from kiekit.journal import default_journal

    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")
    mock = mock_server_factory(polls_to_complete=10_000)  # `kie run` gives up first
    monkeypatch.chdir(tmp_path)
    grok, flux = "grok-imagine/text-to-image", "flux-kontext-pro"
    for model in (grok, flux):
        assert main(["run", model, "--prompt", "a cat", "--timeout", "0.2",
                     "--base-url", mock.base_url]) == 1  # fmt: skip
    rows = {row.model: row for row in default_journal().entries() if row.task_id}
    for row in rows.values():
        mock.complete(row.task_id)

    def broken_grok() -> Registry:
        registry = Registry(blocked=["kiekit-grok-imagine"])
        registry.add_provider(Broken("status_keyerror"))
        return registry

    monkeypatch.setattr(kiekit.client, "default_registry", broken_grok)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 1
    err = capsys.readouterr().err
    assert "AsyncClient is closed" not in err
    assert "settle" not in err  # not a task that can never finish: its plugin is to be fixed
    assert "1 task(s) were left by a plugin's bug (see above): fix or upgrade" in err
    assert "Traceback" not in err
    bad = rows[grok].task_id
    assert (
        f"kie: error: task {bad} ({grok}): plugin {__name__} is broken: Broken.parse_status" in err
    )
    after = {row.model: row for row in default_journal().entries() if row.task_id}
    assert not after[flux].unfinished  # downloaded
    assert after[flux].files
    assert after[grok].unfinished  # still owed, its error recorded
    assert after[grok].task_id == bad
    assert (after[grok].error or {}).get("type") == "PluginHookError"


def test_kie_resume_never_polls_a_blocked_plugin_s_task_as_a_market_job(
    mock_server_factory: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With its plugin blocked, a task of a family of its own (not a market job) was polled at
    /api/v1/jobs/recordInfo through kiekit-market's `*`, journaled as "Task not found", and
    `kie settle --abandon` suggested for a task KIE made and charged for."""
    import kiekit.client
    from kiekit.cli import main
    from kiekit.journal import default_journal

    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")
    mock = mock_server_factory(polls_to_complete=10_000)
    monkeypatch.chdir(tmp_path)
    flux = "flux-kontext-pro"
    assert main(["run", flux, "--prompt", "a cat", "--timeout", "0.2",
                 "--base-url", mock.base_url]) == 1  # fmt: skip
    (before,) = [row for row in default_journal().entries() if row.task_id]
    mock.complete(before.task_id)
    asked = len(mock.requests())
    monkeypatch.setenv("KIEKIT_BLOCK_PLUGINS", "kiekit-flux-kontext")
    monkeypatch.setattr(kiekit.client, "default_registry", Registry)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 1
    err = capsys.readouterr().err
    assert f"kie: error: task {before.task_id} ({flux}): no installed plugin serves {flux}" in err
    assert "kiekit-flux-kontext declares it" in err
    assert "settle" not in err
    assert len(mock.requests()) == asked  # nothing polled
    (after,) = [row for row in default_journal().entries() if row.task_id]
    assert (after.state, after.error, after.unfinished) == (before.state, before.error, True)


@pytest.mark.parametrize("as_json", [False, True])
def test_kie_run_says_a_plugin_s_error_after_the_create_cleanly_and_the_task_stays_owed(
    mock_server_factory: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    as_json: bool,
) -> None:
    """`kie run` of a plugin whose parse_status raised KeyError printed a traceback naming no
    plugin, and with --json no error object at all."""
    import json

    import kiekit.client
    from kiekit.cli import main
    from kiekit.journal import default_journal

    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")
    mock = mock_server_factory()
    monkeypatch.chdir(tmp_path)

    def broken_grok() -> Registry:
        registry = Registry(blocked=["kiekit-grok-imagine"])
        registry.add_provider(Broken("status_keyerror"))
        return registry

    monkeypatch.setattr(kiekit.client, "default_registry", broken_grok)
    monkeypatch.setattr("kiekit.registry.default_registry", broken_grok)
    grok = "grok-imagine/text-to-image"
    json_flag = ["--json"] if as_json else []
    code = main(["run", grok, "--prompt", "a cat", "--base-url", mock.base_url, *json_flag])
    out, err = capsys.readouterr()

    assert code == 1
    assert "Traceback" not in err
    (row,) = [row for row in default_journal().entries() if row.task_id]
    assert row.unfinished  # paid for: owed, for kie resume
    said = f"plugin {__name__} is broken: Broken.parse_status for model {grok!r} raised KeyError"
    if as_json:
        error = json.loads(out)["error"]
        assert error["type"] == "PluginHookError"
        assert error["task_id"] == row.task_id
        assert said in error["message"]
        assert "kie resume finishes it" in error["message"]
    else:
        assert f"kie: error: {said}" in err
        assert "kie resume finishes it" in err


def _acme_installed(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """kiekit-acme-mesh's metadata (its module need not import: it is blocked)."""
    info = tmp_path / "site" / "kiekit_acme_mesh-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kiekit-acme-mesh\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[kiekit.providers]\nacme-mesh/v1 = kiekit_acme_mesh\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def test_a_blocked_third_party_plugin_s_id_is_not_served_by_the_market_pattern(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit import UnknownModelError
    from kiekit.cli import main

    _acme_installed(tmp_path, monkeypatch)
    monkeypatch.setenv("KIEKIT_BLOCK_PLUGINS", "kiekit-acme-mesh")
    registry = Registry()
    said = (
        "no installed plugin serves acme-mesh/v1: kiekit-acme-mesh declares it, but "
        "KIEKIT_BLOCK_PLUGINS leaves it out"  # the variable set, not both (apiref 7)
    )
    assert registry.left_out("acme-mesh/v1") == said
    assert registry.unserved_task("acme-mesh/v1", {"prompt": "a chair"}) == said
    with pytest.raises(UnknownModelError, match="kiekit-acme-mesh serves it, but KIEKIT_BLOCK"):
        registry.provider("acme-mesh/v1")  # the library never sends it as a market job
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")
    monkeypatch.setattr("kiekit.registry.default_registry", Registry)  # reads the block now
    monkeypatch.setattr("kiekit.client.default_registry", Registry)
    assert main(["run", "acme-mesh/v1", "--prompt", "a chair"]) == 2  # refused, nothing sent
    assert f"kie: error: model: {said}" in capsys.readouterr().err


def test_a_journaled_task_of_an_uninstalled_family_is_not_taken_for_a_market_job() -> None:
    """No plugin declares acme-mesh/v1 any more: kiekit-market's `*` would poll it at the
    market's path. Its journaled body (no "model", as every market create has, §2.1) says it
    was another family's; a market job's, or an adopted task's (no body), is served."""
    registry = Registry()
    assert registry.unserved_task("acme-mesh/v1", {"prompt": "a chair"}) == (
        "no installed plugin serves acme-mesh/v1 (its plugin is not installed here)"
    )
    market = {"model": "acme-mesh/v1", "input": {"prompt": "a chair"}}
    assert registry.unserved_task("acme-mesh/v1", market) is None
    assert registry.unserved_task("acme-mesh/v1", None) is None
    assert registry.unserved_task("grok-imagine/text-to-image", {"prompt": "x"}) is None
    # Kling's are market jobs: with kiekit-kling blocked, the market's catalogue serves them
    kling = Registry(blocked=["kiekit-kling"])
    assert kling.left_out("kling-3.0/video") is None
    assert kling.unserved_task("kling-3.0/video", {"model": "kling-3.0/video"}) is None
