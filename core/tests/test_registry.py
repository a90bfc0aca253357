"""Finding providers: metadata to list them, a lazy import to use one, PluginError for bad ones."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from kiekit import (
    Input,
    MediaKind,
    Model,
    PluginError,
    Provider,
    Registry,
    UnknownModelError,
    hookimpl,
)
from kiekit.families.market import MarketProvider
from kiekit.fields import text
from kiekit.registry import PluginWarning, default_registry, installed

PLUGINS = {
    "flux-kontext-pro": "kiekit-flux-kontext",
    "flux-kontext-max": "kiekit-flux-kontext",
    "grok-imagine/text-to-image": "kiekit-grok-imagine",
    "grok-imagine/image-to-image": "kiekit-grok-imagine",
}
PLUGIN_MODULES = ("kiekit_flux_kontext", "kiekit_grok_imagine")


def run_python(code: str) -> Any:
    """Run ``code`` in a fresh interpreter (a clean ``sys.modules``); it prints one JSON value."""
    done = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,  # a bound against a hang, generous for a loaded machine
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- in-process plugins ----------------------------------------------------------------------------


@frozen
class Prompt(Input):
    prompt: str = text()


class EchoProvider(MarketProvider):
    name = "echo"
    models = (Model("echo/one", Prompt, MediaKind.IMAGE), Model("echo/two", Prompt, MediaKind.TEXT))


class OtherProvider(MarketProvider):
    name = "other"
    models = (Model("echo/two", Prompt, MediaKind.IMAGE),)


class EmptyProvider(MarketProvider):
    name = "empty"
    models = ()


class Plugin:
    """A plugin object, as an application may register one without any distribution."""

    def __init__(self, *offered: Any) -> None:
        self.offered = offered

    @hookimpl
    def kiekit_register_providers(self, register: Callable[[Provider], None]) -> None:
        for provider in self.offered:
            register(provider)


class EchoPlugin(Plugin):
    pass


class OtherPlugin(Plugin):
    pass


def test_an_added_plugin_serves_its_models() -> None:
    registry = Registry(discover=False)
    provider = EchoProvider()

    registry.add(EchoPlugin(provider))

    assert registry.provider("echo/one") is provider
    assert registry.provider("echo/two") is provider
    assert registry.models() == ["echo/one", "echo/two"]


def test_a_registry_without_discovery_sees_no_installed_plugin() -> None:
    registry = Registry(discover=False)

    with pytest.raises(UnknownModelError):
        registry.provider("flux-kontext-pro")
    assert registry.models() == []


def test_add_provider_registers_one_provider_directly() -> None:
    registry = Registry(discover=False)
    provider = EchoProvider()

    registry.add_provider(provider)

    assert registry.provider("echo/one") is provider


def test_adding_the_same_plugin_twice_is_harmless() -> None:
    registry = Registry(discover=False)
    plugin = EchoPlugin(EchoProvider())

    registry.add(plugin)
    registry.add(plugin)

    assert registry.models() == ["echo/one", "echo/two"]


def test_two_plugin_objects_of_one_class_can_both_be_added() -> None:
    """An application may register several configured instances of its plugin class."""
    registry = Registry(discover=False)
    echo, other = EchoProvider(), OtherOnlyProvider()

    registry.add(Plugin(echo))
    registry.add(Plugin(other))

    assert registry.provider("echo/one") is echo
    assert registry.provider("other/one") is other


class OtherOnlyProvider(MarketProvider):
    name = "other-only"
    models = (Model("other/one", Prompt, MediaKind.IMAGE),)


def test_a_rejected_plugin_leaves_the_registry_as_it_was() -> None:
    registry = Registry(discover=False)
    plugin = Plugin(EchoProvider(), object())

    with pytest.raises(PluginError):
        registry.add(plugin)

    assert registry.models() == []
    with pytest.raises(PluginError):
        registry.add(plugin)  # still broken: not silently accepted the second time


@pytest.mark.parametrize("bad", [object(), "echo/one", EchoProvider])
def test_registering_a_non_provider_is_a_plugin_error_naming_the_plugin(bad: Any) -> None:
    registry = Registry(discover=False)

    with pytest.raises(PluginError, match="sloppy-plugin"):
        registry.add(Plugin(bad), name="sloppy-plugin")


def test_registering_a_non_provider_names_the_plugin_class_by_default() -> None:
    with pytest.raises(PluginError, match="EchoPlugin"):
        Registry(discover=False).add(EchoPlugin(object()))


def test_a_provider_without_models_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match="empty"):
        Registry(discover=False).add(EchoPlugin(EmptyProvider()))


def test_a_model_id_claimed_twice_is_a_plugin_error_naming_both_plugins() -> None:
    registry = Registry(discover=False)
    registry.add(EchoPlugin(EchoProvider()))

    with pytest.raises(PluginError) as info:
        registry.add(OtherPlugin(OtherProvider()))

    assert "echo/two" in str(info.value)
    assert "EchoPlugin" in str(info.value)
    assert "OtherPlugin" in str(info.value)


def test_a_duplicate_does_not_steal_the_model() -> None:
    registry = Registry(discover=False)
    first = EchoProvider()
    registry.add(EchoPlugin(first))

    with pytest.raises(PluginError):
        registry.add_provider(OtherProvider())

    assert registry.provider("echo/two") is first


def test_the_same_provider_registered_twice_is_not_a_duplicate() -> None:
    registry = Registry(discover=False)
    provider = EchoProvider()
    registry.add(EchoPlugin(provider))

    registry.add_provider(provider)

    assert registry.provider("echo/one") is provider


def test_unknown_model_lists_the_known_ones() -> None:
    registry = Registry(discover=False)
    registry.add(EchoPlugin(EchoProvider()))

    with pytest.raises(UnknownModelError) as info:
        registry.provider("echo/three")

    assert info.value.model == "echo/three"
    assert "echo/one" in str(info.value)
    assert "echo/two" in str(info.value)


# -- installed plugins -----------------------------------------------------------------------------


def test_installed_lists_every_model_with_its_distribution_and_version() -> None:
    listing = {item.model: item for item in installed()}

    for model, distribution in PLUGINS.items():
        assert model in listing
        assert listing[model].distribution == distribution
        assert listing[model].version == "0.1.0"
        assert listing[model].module == distribution.replace("-", "_")


def test_installed_reads_metadata_without_importing_any_plugin() -> None:
    result = run_python(
        """
        import json, sys
        from kiekit.registry import Registry, installed
        models = sorted((i.model, i.distribution, i.version) for i in installed())
        known = Registry().models()
        print(json.dumps({
            "models": models,
            "known": known,
            "imported": sorted(m for m in sys.modules if m.startswith("kiekit_")),
        }))
        """
    )

    assert result["imported"] == []
    assert {(m, d) for m, d, _ in result["models"]} >= set(PLUGINS.items())
    assert set(result["known"]) >= set(PLUGINS)


def test_provider_imports_only_the_plugin_that_owns_the_model() -> None:
    result = run_python(
        """
        import json, sys
        from kiekit.registry import Registry
        registry = Registry()
        before = sorted(m for m in sys.modules if m.startswith("kiekit_"))
        provider = registry.provider("grok-imagine/text-to-image")
        again = registry.provider("grok-imagine/image-to-image")
        print(json.dumps({
            "before": before,
            "after": sorted(m for m in sys.modules if m.startswith("kiekit_")),
            "class": type(provider).__module__ + "." + type(provider).__name__,
            "same": provider is again,
        }))
        """
    )

    assert result["before"] == []
    assert "kiekit_grok_imagine" in result["after"]
    assert "kiekit_flux_kontext" not in result["after"]
    assert result["class"] == "kiekit_grok_imagine.provider.GrokImagineProvider"
    assert result["same"] is True


@pytest.mark.parametrize("model", sorted(PLUGINS))
def test_each_installed_model_resolves_to_a_provider_that_owns_it(model: str) -> None:
    provider = Registry().provider(model)

    assert isinstance(provider, Provider)
    assert provider.model(model).id == model


def test_unknown_model_lists_the_installed_ones() -> None:
    # The generic market plugin serves every id no typed plugin owns: block it to see the error.
    with pytest.raises(UnknownModelError) as info:
        Registry(blocked=["kiekit-market"]).provider("midjourney/v7")

    for model in PLUGINS:
        assert model in str(info.value)


def test_a_discovering_registry_also_takes_added_plugins() -> None:
    registry = Registry()
    registry.add(EchoPlugin(EchoProvider()))

    assert registry.provider("echo/one").name == "echo"
    assert set(registry.models()) >= {"echo/one", *PLUGINS}


def test_a_local_plugin_cannot_take_over_an_installed_model() -> None:
    registry = Registry()
    registry.provider("flux-kontext-pro")

    class Squatter(MarketProvider):
        name = "squatter"
        models = (Model("flux-kontext-pro", Prompt, MediaKind.IMAGE),)

    with pytest.raises(PluginError, match="flux-kontext-pro"):
        registry.add(EchoPlugin(Squatter()))


# -- plugins installed from a distribution that misbehaves ----------------------------------------

GOOD_PROVIDER = """
from attrs import frozen
from kiekit import Input, MediaKind, Model, hookimpl
from kiekit.families.market import MarketProvider
from kiekit.fields import text

@frozen
class Prompt(Input):
    prompt: str = text()

class Provider(MarketProvider):
    name = "{name}"
    models = (Model("{owned}", Prompt, MediaKind.IMAGE),)
"""


@pytest.fixture
def distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Install a throw-away plugin distribution on sys.path: its metadata and its module."""
    made: list[str] = []

    def install(dist: str, module: str, models: list[str], source: str) -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-9.9.9.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 9.9.9\n")
        lines = "".join(f"{model} = {module}\n" for model in models)
        (info / "entry_points.txt").write_text(f"[kiekit.providers]\n{lines}")
        made.append(module)

    monkeypatch.syspath_prepend(str(tmp_path))
    yield install
    for module in made:
        sys.modules.pop(module, None)


def test_installed_lists_a_new_distribution_without_importing_it(distribution: Any) -> None:
    distribution(
        "kiekit-sample", "kiekit_sample_plugin", ["sample/one"], "raise RuntimeError('imported')"
    )

    listing = {item.model: item for item in installed()}

    assert listing["sample/one"].distribution == "kiekit-sample"
    assert listing["sample/one"].version == "9.9.9"
    assert "kiekit_sample_plugin" not in sys.modules
    assert "sample/one" in Registry().models()


def test_a_plugin_that_fails_to_import_is_a_plugin_error_not_a_missing_model(
    distribution: Any,
) -> None:
    distribution("kiekit-broken", "kiekit_broken_plugin", ["broken/one"], "import no_such_dep_xyz")
    registry = Registry()

    with pytest.warns(PluginWarning, match="kiekit-broken"), pytest.raises(PluginError) as info:
        registry.provider("broken/one")
    assert "kiekit-broken" in str(info.value)
    assert "no_such_dep_xyz" in registry.quarantined["kiekit-broken"]
    assert registry.provider("grok-imagine/text-to-image").name == "grok-imagine"  # unharmed


def test_a_plugin_that_does_not_register_its_declared_model_is_a_plugin_error(
    distribution: Any,
) -> None:
    source = GOOD_PROVIDER.format(name="liar", owned="liar/other") + textwrap.dedent(
        """
        @hookimpl
        def kiekit_register_providers(register):
            register(Provider())
        """
    )
    distribution("kiekit-liar", "kiekit_liar_plugin", ["liar/one"], source)

    with pytest.raises(PluginError, match="liar/one"):
        Registry().provider("liar/one")


def test_a_plugin_registering_a_non_provider_is_named(distribution: Any) -> None:
    source = """
        from kiekit import hookimpl

        @hookimpl
        def kiekit_register_providers(register):
            register("not a provider")
        """
    distribution("kiekit-junk", "kiekit_junk_plugin", ["junk/one"], source)
    registry = Registry()

    with pytest.warns(PluginWarning, match="kiekit-junk"), pytest.raises(PluginError) as info:
        registry.provider("junk/one")
    assert "not a Provider" in str(info.value)
    assert "junk/one" not in registry.models()


def test_an_installed_plugin_claiming_anothers_model_is_a_plugin_error(distribution: Any) -> None:
    source = GOOD_PROVIDER.format(
        name="thief", owned="grok-imagine/text-to-image"
    ) + textwrap.dedent(
        """
        @hookimpl
        def kiekit_register_providers(register):
            register(Provider())
        """
    )
    distribution("kiekit-thief", "kiekit_thief_plugin", ["grok-imagine/text-to-image"], source)
    registry = Registry()

    # Two plugins declare one id: kiekit will not guess; the error says how to choose.
    with pytest.raises(PluginError, match="KIEKIT_PREFER=grok-imagine/text-to-image"):
        registry.provider("grok-imagine/text-to-image")
    assert registry.provider("grok-imagine/image-to-image").name == "grok-imagine"


ROGUE = """
from attrs import frozen
from kiekit import Input, MediaKind, Model, hookimpl
from kiekit.families.market import MarketProvider
from kiekit.fields import text

@frozen
class Prompt(Input):
    prompt: str = text()

class Provider(MarketProvider):
    name = "rogue"
    models = (
        Model("rogue/one", Prompt, MediaKind.IMAGE),
        Model("grok-imagine/text-to-image", Prompt, MediaKind.IMAGE),  # not in its entry points
    )

@hookimpl
def kiekit_register_providers(register):
    register(Provider())
"""


@pytest.mark.parametrize("rogue_first", [True, False])
def test_a_plugin_registering_an_id_another_declares_is_refused_in_any_order(
    distribution: Any, rogue_first: bool
) -> None:
    distribution("kiekit-rogue", "kiekit_rogue_plugin", ["rogue/one"], ROGUE)
    registry = Registry()

    def grok() -> str:
        return registry.provider("grok-imagine/text-to-image").name

    if not rogue_first:
        assert grok() == "grok-imagine"
    with pytest.warns(PluginWarning, match="kiekit-rogue"), pytest.raises(PluginError) as info:
        registry.provider("rogue/one")
    # the error names what is wrong, not a KIEKIT_PREFER choice between two owners
    assert "'grok-imagine/text-to-image', which its entry points" in str(info.value)
    assert "do not declare; kiekit-grok-imagine declares it" in str(info.value)
    assert "KIEKIT_PREFER" not in str(info.value)
    assert grok() == "grok-imagine"


def test_a_plugin_built_for_another_kiekit_owns_none_of_its_ids(distribution: Any) -> None:
    distribution(
        "kiekit-ancient",
        "kiekit_ancient_plugin",
        ["grok-imagine/text-to-image"],
        "raise RuntimeError('imported')",
    )
    info = next(Path(p) for p in sys.path if Path(p, "kiekit_ancient-9.9.9.dist-info").is_dir())
    metadata = info / "kiekit_ancient-9.9.9.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text() + "Requires-Dist: kiekit<0.1\n")

    # never loaded, so it cannot contest the working plugin's model (nor need KIEKIT_PREFER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # it may be reported as skipped
        assert Registry().provider("grok-imagine/text-to-image").name == "grok-imagine"
    assert "kiekit_ancient_plugin" not in sys.modules


def test_the_user_picks_the_winner_of_a_contested_model(
    distribution: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = GOOD_PROVIDER.format(
        name="thief", owned="grok-imagine/text-to-image"
    ) + textwrap.dedent(
        """
        @hookimpl
        def kiekit_register_providers(register):
            register(Provider())
        """
    )
    distribution("kiekit-thief", "kiekit_thief_plugin", ["grok-imagine/text-to-image"], source)
    monkeypatch.setenv("KIEKIT_PREFER", "grok-imagine/text-to-image=kiekit-thief")
    assert Registry().provider("grok-imagine/text-to-image").name == "thief"
    monkeypatch.setenv("KIEKIT_PREFER", "grok-imagine/text-to-image=kiekit-grok-imagine")
    registry = Registry()
    assert registry.provider("grok-imagine/text-to-image").name == "grok-imagine"


def test_a_plugin_built_for_another_kiekit_is_skipped_unimported(distribution: Any) -> None:
    distribution(
        "kiekit-ancient", "kiekit_ancient_plugin", ["ancient/one"], "raise RuntimeError('x')"
    )
    info = next(Path(p) for p in sys.path if Path(p, "kiekit_ancient-9.9.9.dist-info").is_dir())
    metadata = info / "kiekit_ancient-9.9.9.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text() + "Requires-Dist: kiekit<0.1\n")
    registry = Registry()

    with pytest.warns(PluginWarning, match="kiekit-ancient"), pytest.raises(PluginError):
        registry.provider("ancient/one")
    assert "kiekit_ancient_plugin" not in sys.modules
    assert "built for kiekit<0.1" in registry.quarantined["kiekit-ancient"]
    assert {i.model: i.incompatible for i in installed()}["ancient/one"]


def test_default_registry_is_shared() -> None:
    assert default_registry() is default_registry()


def test_import_kiekit_stays_light() -> None:
    """`import kiekit` (and `kie providers`) must not pay for the HTTP stacks or cattrs."""
    result = run_python(
        """
        import json, sys
        import kiekit
        from kiekit.registry import installed
        installed()
        heavy = ["urllib3", "aiohttp", "cattrs", "kiekit.client", "kiekit.transport", "redis"]
        heavy += ["psycopg", "celery", "kiekit.journal._postgres", "kiekit.distributed"]
        print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
        """
    )

    assert result == []


def test_a_sync_client_loads_no_event_loop_even_through_a_whole_task(
    tmp_path: Path, mock_server_factory: Callable[..., Any]
) -> None:
    """`from kiekit import Client` and a task created, waited for and downloaded with it never
    import asyncio or aiohttp: they are AsyncClient's, and a tenth of a sync user's start-up."""
    mock = mock_server_factory()  # in this process: the child imports no mock
    result = run_python(
        f"""
        import json, os, sys
        os.environ["KIEKIT_DATA_DIR"] = {str(tmp_path)!r}
        from kiekit import Client
        from kiekit.polling import PollPolicy
        fast = PollPolicy(initial=0.01, maximum=0.01, first=0)
        with Client("key", rate_limits=None, poll=fast, base_url={mock.base_url!r}) as client:
            task = client.submit("flux-kontext-pro", {{"prompt": "a lighthouse"}})
            files = client.download(client.wait(task), {str(tmp_path / "out")!r})
        loaded = sorted(m for m in ("asyncio", "aiohttp") if m in sys.modules)
        print(json.dumps({{"downloaded": bool(files), "loaded": loaded}}))
        """
    )

    assert result == {"downloaded": True, "loaded": []}


def test_a_client_on_the_default_journal_loads_no_team_extras(tmp_path: Path) -> None:
    """The teams extras (PostgreSQL, Redis, Celery) load only when a URL asks for them."""
    result = run_python(
        f"""
        import json, os, sys
        os.environ["KIEKIT_DATA_DIR"] = {str(tmp_path)!r}
        from kiekit import Client
        with Client("key", rate_limits=None, base_url="http://127.0.0.1:9") as client:
            pass
        from kiekit.journal import default_journal
        default_journal().entries()
        print(json.dumps(sorted(m for m in ("psycopg", "redis", "celery") if m in sys.modules)))
        """
    )

    assert result == []


def test_clients_load_on_first_use() -> None:
    result = run_python(
        """
        import json, sys
        import kiekit
        client_class = kiekit.Client
        print(json.dumps(client_class.__module__))
        """
    )

    assert result == "kiekit.client"


def test_package_exports_exist() -> None:
    import kiekit

    for name in kiekit.__all__:
        assert getattr(kiekit, name) is not None, name


# -- model id patterns -----------------------------------------------------------------------------


class AnyMarketProvider(MarketProvider):
    """A generic provider: serves every model id, the kind of output told by each file."""

    name = "any"
    models = (Model("*", Prompt, None),)


class AnyEchoProvider(MarketProvider):
    name = "any-echo"
    models = (Model("echo/*", Prompt, MediaKind.VIDEO),)


def test_an_exact_model_id_wins_over_any_pattern() -> None:
    registry = Registry(discover=False)
    registry.add(Plugin(AnyMarketProvider(), AnyEchoProvider(), EchoProvider()))
    assert isinstance(registry.provider("echo/one"), EchoProvider)


def test_a_provider_registered_later_takes_over_a_model_already_served() -> None:
    """provider() remembers its answers: a registration must not leave a stale one behind."""
    registry = Registry(discover=False)
    registry.add(Plugin(AnyMarketProvider()))
    assert isinstance(registry.provider("echo/one"), AnyMarketProvider)
    registry.add(Plugin(AnyEchoProvider()))  # a more specific pattern
    assert isinstance(registry.provider("echo/one"), AnyEchoProvider)
    registry.add_provider(EchoProvider())  # the exact id
    assert isinstance(registry.provider("echo/one"), EchoProvider)


def test_the_most_specific_pattern_serves_an_unknown_id() -> None:
    registry = Registry(discover=False)
    registry.add(Plugin(AnyMarketProvider()))
    registry.add(Plugin(AnyEchoProvider()))
    assert isinstance(registry.provider("echo/three"), AnyEchoProvider)
    assert isinstance(registry.provider("seedream/4.5-edit"), AnyMarketProvider)


def test_a_pattern_provider_names_the_model_it_serves() -> None:
    model = AnyMarketProvider().model("nano-banana-pro")
    assert model.id == "nano-banana-pro"
    assert model.output is None
    request = AnyMarketProvider().build_request("nano-banana-pro", Prompt(prompt="a fox"))
    assert request.body == {"model": "nano-banana-pro", "input": {"prompt": "a fox"}}


def test_a_pattern_model_tells_the_kind_of_each_result_by_its_file() -> None:
    data = {
        "taskId": "t",
        "model": "some/new-model",
        "state": "success",
        "resultJson": json.dumps(
            {"resultUrls": ["https://cdn.example/a.mp4", "https://cdn.example/b.png"]}
        ),
    }
    kinds = [a.kind for a in AnyMarketProvider().extract_results("t", data).assets]
    assert kinds == [MediaKind.VIDEO, MediaKind.IMAGE]


def test_a_record_naming_a_foreign_model_still_yields_results() -> None:
    # KIE's model spellings vary (kie-api.md §2.4): the record's name must not break extraction.
    data = {
        "taskId": "t",
        "model": "kling-3.0",
        "state": "success",
        "resultJson": json.dumps({"resultUrls": ["https://cdn.example/a.jpg"]}),
    }
    (found,) = EchoProvider().extract_results("t", data).assets
    assert found.kind is MediaKind.IMAGE


# -- blocking plugins ------------------------------------------------------------------------------


def test_a_blocked_distribution_is_neither_listed_as_usable_nor_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KIEKIT_BLOCK_PLUGINS", "kiekit-flux-kontext, kiekit-market")
    registry = Registry()
    assert "flux-kontext-pro" not in registry.models()
    with pytest.raises(UnknownModelError):
        registry.provider("flux-kontext-pro")
    assert registry.provider("grok-imagine/text-to-image").name == "grok-imagine"
    marked = {item.model: item.blocked for item in installed()}
    assert marked["flux-kontext-pro"] is True
    assert marked["grok-imagine/text-to-image"] is False


def test_block_names_are_matched_like_distribution_names() -> None:
    registry = Registry(blocked=["KIEKIT_Flux.Kontext", "kiekit-market"])
    assert "flux-kontext-max" not in registry.models()


def test_a_broken_plugin_beside_the_real_ones_is_explained_and_harms_nothing(
    distribution: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from kiekit import cli

    distribution("kiekit-broken", "kiekit_broken_plugin", ["broken/one"], "import no_such_dep_xyz")

    # --check fails for it (exit 1, issue 16), naming it; every other plugin is fine
    assert cli.main(["providers", "--check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    rows = {row["distribution"]: row for row in report["providers"]}
    assert rows["kiekit-broken"]["status"].startswith("quarantined: failed to import")
    assert rows["kiekit-grok-imagine"]["status"] == "ok"
    assert [p["distribution"] for p in report["problems"]] == ["kiekit-broken"]

    out_dir = tmp_path / "out"
    argv = ["run", "flux-kontext-pro", "--prompt", "x", "--mock", "--mock-seconds", "0"]
    assert cli.main([*argv, "--out", str(out_dir)]) == 0
    assert len(list(out_dir.iterdir())) == 2


def test_the_capability_manifest_is_read_without_importing(distribution: Any) -> None:
    distribution(
        "kiekit-tagged",
        "kiekit_tagged_plugin",
        ["tagged/one"],
        "raise RuntimeError('imported')",
    )
    info = next(Path(p) for p in sys.path if Path(p, "kiekit_tagged-9.9.9.dist-info").is_dir())
    (info / "kiekit_tagged-9.9.9.dist-info" / "entry_points.txt").write_text(
        "[kiekit.providers]\ntagged/one = kiekit_tagged_plugin [video, progress, callbacks]\n"
    )
    listing = {item.model: item for item in installed()}["tagged/one"]
    assert (listing.output, listing.capabilities) == ("video", ("progress", "callbacks"))
    assert listing.module == "kiekit_tagged_plugin"
    assert "kiekit_tagged_plugin" not in sys.modules


def test_every_installed_model_states_its_output() -> None:
    outputs = {item.model: item.output for item in installed()}
    assert outputs["flux-kontext-pro"] == "image"
    assert outputs["veo3"] == "video"
    assert outputs["*"] == "any"
    assert None not in outputs.values()
