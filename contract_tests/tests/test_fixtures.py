"""The pytest plugin's fixtures: a loopback mock, clients on it, and no real API key, ever."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from kiekit import AsyncClient, Client, State, TaskStatus
from kiekit_mock import MockServer

MODEL = "grok-imagine/text-to-image"  # an installed plugin the mock emulates


def test_no_real_api_key_is_visible() -> None:
    assert "KIE_API_KEY" not in os.environ


def test_mocks_listen_on_loopback_only(kie_mock: MockServer, kie_mock_session: MockServer) -> None:
    assert kie_mock.base_url.startswith("http://127.0.0.1:")
    assert kie_mock_session.base_url.startswith("http://127.0.0.1:")
    assert kie_mock.base_url != kie_mock_session.base_url


def test_each_test_gets_a_fresh_mock(kie_mock: MockServer) -> None:
    assert kie_mock.tasks() == []
    assert kie_mock.requests() == []


def test_client_round_trip(kie_client: Client, kie_mock: MockServer, tmp_path: Path) -> None:
    seen: list[TaskStatus] = []
    task = kie_client.submit(MODEL, prompt="a lighthouse at dawn")
    files = kie_client.download(kie_client.wait(task, on_status=seen.append), tmp_path)
    assert [s.state for s in seen] == [State.QUEUED, State.RUNNING, State.SUCCEEDED]
    assert len(files) == 6
    assert all(f.read_bytes().startswith(b"\xff\xd8") for f in files)
    assert {r.authorization for r in kie_mock.requests() if r.path.startswith("/api/")} == {
        "Bearer ***"
    }


def test_async_client_factory(
    kie_async_client: Callable[[], AsyncClient], kie_mock: MockServer, tmp_path: Path
) -> None:
    async def main() -> list[Path]:
        async with kie_async_client() as kie:
            task = await kie.submit(MODEL, prompt="a lighthouse at dawn")
            return await kie.download(await kie.wait(task), tmp_path)

    assert len(asyncio.run(main())) == 6
    assert len(kie_mock.tasks()) == 1


def test_a_key_set_before_the_run_is_removed_inside(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIE_API_KEY", "a-real-key-that-must-not-be-read")
    pytester.makepyfile(
        """
        import os

        import pytest
        from kiekit import Client, ConfigurationError

        def test_inside():
            assert "KIE_API_KEY" not in os.environ
            with pytest.raises(ConfigurationError):
                Client()
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert os.environ["KIE_API_KEY"] == "a-real-key-that-must-not-be-read"


def test_session_and_module_fixtures_see_neither_the_key_nor_the_users_data_folder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An application's client usually lives in a session- or module-scoped fixture, set up
    before any test's own guard: it must not get the real key, nor journal its tasks into the
    user's data folder (where `kie resume` would then owe them for ever)."""
    users_folder = tmp_path / "users-data"
    monkeypatch.setenv("KIE_API_KEY", "a-real-key-that-must-not-be-read")
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(users_folder))
    pytester.makeconftest(
        """
        import os

        import pytest
        from kiekit import Client, ConfigurationError

        @pytest.fixture(scope="session")
        def app_client(kie_mock_session):
            assert "KIE_API_KEY" not in os.environ
            with pytest.raises(ConfigurationError):
                Client()  # no key to find: refused, nothing sent anywhere
            with Client("test-key", base_url=kie_mock_session.base_url) as client:
                yield client

        @pytest.fixture(scope="module")
        def module_data_dir():
            return os.environ["KIEKIT_DATA_DIR"]
        """
    )
    pytester.makepyfile(
        f"""
        def test_submits(app_client, module_data_dir):
            assert not module_data_dir.startswith({str(users_folder)!r})
            app_client.submit("grok-imagine/text-to-image", prompt="a lighthouse")
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not users_folder.exists()  # the session's journal went to a temporary folder
    assert os.environ["KIE_API_KEY"] == "a-real-key-that-must-not-be-read"
    assert os.environ["KIEKIT_DATA_DIR"] == str(users_folder)


def test_every_kiekit_variable_is_isolated_or_left_by_decision() -> None:
    """A new variable of kiekit.settings.VARIABLES must be classified by the plugin: one that
    names a credential or a shared place, left to reach the tests, leaks them out (found by an
    outside tester: KIEKIT_JOURNAL_URL sent every fixture task into the team's journal)."""
    from kiekit.settings import VARIABLES
    from kiekit_contract.plugin import DATA_DIR, ISOLATED, LEFT_AS_IS

    classified = [*ISOLATED, DATA_DIR, *LEFT_AS_IS]
    assert sorted(classified) == sorted(VARIABLES)
    assert len(classified) == len(set(classified))


# what a developer's or a CI's environment may hold: none of it may reach a test
SHARED_PLACES = {
    "KIE_API_KEY": "a-real-key-that-must-not-be-read",
    "KIE_BASE_URL": "https://staging.example",
    "KIE_UPLOAD_BASE_URL": "https://uploads.staging.example",
    "KIEKIT_LIMITS_URL": "redis://redis.team.example:6379/0",
    "KIEKIT_BROKER_URL": "redis://redis.team.example:6379/1",
    "KIEKIT_RESULT_BACKEND": "redis://redis.team.example:6379/2",
    "KIEKIT_CELERY_QUEUE": "team-renders",
}


def test_no_fixture_or_test_journals_into_the_users_journal_url_or_reaches_shared_places(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`KIEKIT_JOURNAL_URL=team.sqlite3 pytest` journalled every kie_client task into the team's
    journal, where `kie resume` then owed the dead mock's tasks (found by an outside tester): the
    journal URL takes precedence over the temporary KIEKIT_DATA_DIR. The guards remove it, and
    every other variable naming a credential or a shared host, for session fixtures and tests."""
    team_journal = tmp_path / "team-journal.sqlite3"
    for name, value in SHARED_PLACES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KIEKIT_JOURNAL_URL", str(team_journal))
    monkeypatch.setenv("KIEKIT_LOG", "warning")  # a tuning knob: left as it is
    isolated = sorted([*SHARED_PLACES, "KIEKIT_JOURNAL_URL"])
    pytester.makeconftest(
        f"""
        import os

        import pytest
        from kiekit import Client

        ISOLATED = {isolated!r}

        @pytest.fixture(scope="session")
        def app_client(kie_mock_session):
            assert [name for name in ISOLATED if name in os.environ] == []
            with Client("test-key", base_url=kie_mock_session.base_url) as client:
                client.wait(client.submit("grok-imagine/text-to-image", prompt="a session task"))
                yield client
        """
    )
    pytester.makepyfile(
        """
        import os

        from conftest import ISOLATED
        from kiekit import Client

        def test_fixture_client(kie_client):
            assert [name for name in ISOLATED if name in os.environ] == []
            assert os.environ["KIEKIT_LOG"] == "warning"
            kie_client.wait(kie_client.submit("grok-imagine/text-to-image", prompt="a fox"))

        def test_session_client(app_client):
            app_client.submit("grok-imagine/text-to-image", prompt="a lighthouse")

        def test_a_client_of_the_test_itself_gets_kies_default_hosts_not_the_environments():
            with Client("test-key") as client:  # made, never used: nothing is sent
                assert "staging.example" not in repr(client)
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
    assert not team_journal.exists()  # no row went to the team's journal
    assert os.environ["KIEKIT_JOURNAL_URL"] == str(team_journal)  # restored after the run
    assert all(os.environ[name] == value for name, value in SHARED_PLACES.items())


def test_kie_mock_config_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from kiekit import State
        from kiekit_mock import MockConfig

        @pytest.fixture
        def kie_mock_config():
            return MockConfig(polls_to_complete=0)

        def test_done_at_once(kie_client):
            task = kie_client.submit("grok-imagine/text-to-image", prompt="now")
            assert kie_client.status(task).state is State.SUCCEEDED
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_both_mock_configs_can_teach_the_mock_a_model(pytester: pytest.Pytester) -> None:
    # what a plugin for a model the mock does not emulate puts in its conftest.py
    pytester.makeconftest(
        """
        import dataclasses

        import pytest
        from kiekit_contract.plugin import SESSION_MOCK_CONFIG
        from kiekit_mock import MockConfig

        EXTRA = {"acme/banana-v1": "image"}

        @pytest.fixture
        def kie_mock_config():
            return MockConfig(polls_to_complete=2, extra_market_models=EXTRA)

        @pytest.fixture(scope="session")
        def kie_mock_session_config():
            return dataclasses.replace(SESSION_MOCK_CONFIG, extra_market_models=EXTRA)
        """
    )
    pytester.makepyfile(
        """
        from kiekit import MediaKind, Model, Registry
        from kiekit.families.market import MarketProvider
        from kiekit.fields import OpenInput
        from kiekit_contract import client_for

        class Banana(MarketProvider):
            name = "banana"
            models = (Model("acme/banana-v1", OpenInput, MediaKind.IMAGE),)

        def create(mock):
            registry = Registry(discover=False)
            registry.add_provider(Banana())
            with client_for(mock.base_url, registry=registry) as kie:
                return kie.wait(kie.submit("acme/banana-v1", {"prompt": "a banana"}))

        def test_function_mock(kie_mock):
            assert create(kie_mock).assets[0].kind is MediaKind.IMAGE

        def test_session_mock(kie_mock_session):
            assert create(kie_mock_session).assets
            assert kie_mock_session.tasks()[-1].model == "acme/banana-v1"
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
