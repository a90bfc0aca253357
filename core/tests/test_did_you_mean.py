"""A mistyped model id: the closest known ids are suggested before anything is sent, from
plugins' exact ids and from catalogues behind patterns (``Provider.known_models``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from kiekit import Input, MediaKind, Model, Registry, UnknownModelError, ValidationError
from kiekit.families.market import MarketProvider
from kiekit.fields import OpenInput, text
from kiekit.registry import UnlistedModelWarning


@frozen
class Prompt(Input):
    prompt: str = text()


class TypedProvider(MarketProvider):
    name = "typed"
    models = (
        Model("seedream/5-lite-text-to-image", Prompt, MediaKind.IMAGE),
        Model("seedream/5-lite-image-to-image", Prompt, MediaKind.IMAGE),
    )


class CatalogueProvider(MarketProvider):
    """A pattern behind which a catalogue lists the ids it knows, like kiekit-market's."""

    name = "catalogue"
    models = (Model("*", OpenInput, None),)

    def known_models(self) -> tuple[str, ...]:
        return ("nano-banana-pro", "nano-banana-2", "google/nano-banana")


def registry(*, catalogue: bool = True) -> Registry:
    found = Registry(discover=False)
    found.add_provider(TypedProvider())
    if catalogue:
        found.add_provider(CatalogueProvider())
    return found


def test_an_unknown_id_names_the_closest_typed_ids() -> None:
    with pytest.raises(UnknownModelError) as info:
        registry(catalogue=False).provider("seedream/5-lite-text-to-imag")
    assert info.value.suggestions[0] == "seedream/5-lite-text-to-image"
    assert "did you mean 'seedream/5-lite-text-to-image'" in str(info.value)


def test_an_id_far_from_every_known_one_gets_no_guess() -> None:
    with pytest.raises(UnknownModelError) as info:
        registry(catalogue=False).provider("totally-different")
    assert info.value.suggestions == []
    assert "did you mean" not in str(info.value)


def test_a_catalogue_typo_is_still_sent_but_warned_about_with_the_catalogue_id() -> None:
    """KIE adds models every week, often next to a known id (gpt-image-2-6-… beside 2-5-…):
    a create of a close id is sent, with a warning naming the close ids and send_as_is; a
    use that creates nothing (a task made elsewhere) is not said to be sent."""
    found = registry()
    with pytest.warns(UnlistedModelWarning, match="did you mean 'nano-banana-pro'") as said:
        provider = found.provider("nano-banana-pr", creating=True)
    assert provider.name == "catalogue"
    assert "is sent as is" in str(said[0].message)
    assert "send_as_is('nano-banana-pr')" in str(said[0].message)
    found = registry()  # the warning comes with an id's first use
    with pytest.warns(UnlistedModelWarning, match="did you mean 'nano-banana-pro'") as said:
        provider = found.provider("nano-banana-pr")
    assert "sent as is" not in str(said[0].message)  # adopt or wait sends nothing
    assert provider.name == "catalogue"
    assert found.suggestions("nano-banana-pr")[0] == "nano-banana-pro"


def test_send_as_is_says_a_close_id_is_meant_and_silences_its_warning(
    recwarn: pytest.WarningsRecorder,
) -> None:
    found = registry()
    found.send_as_is("nano-banana-pr")
    assert found.provider("nano-banana-pr", creating=True).name == "catalogue"
    assert found.provider("nano-banana-pr").name == "catalogue"
    assert not [w for w in recwarn if issubclass(w.category, UnlistedModelWarning)]
    listed = registry()  # what kie run --any-model and run_batch(any_model=True) call
    listed.listed_provider("nano-banana-pr", any_model=True)
    assert listed.provider("nano-banana-pr", creating=True).name == "catalogue"


@pytest.mark.parametrize(
    ("given", "known"),
    [("NANO-BANANA-PRO", "nano-banana-pro"), ("SEEDREAM/5-Lite-Text-To-Image",
                                               "seedream/5-lite-text-to-image")],
)  # fmt: skip
def test_a_known_id_in_another_case_is_a_near_miss_too(given: str, known: str) -> None:
    """difflib compares case: an id in capitals scored far below its cutoff and was sent as an
    unknown market model with no word (KIE answers 422 "model not supported", §2.4)."""
    found = registry()
    with pytest.warns(UnlistedModelWarning, match=f"did you mean '{known}'\\?"):
        found.provider(given, creating=True)
    assert found.suggestions(given) == [known]


def test_a_typed_id_in_capitals_with_no_pattern_names_the_id() -> None:
    with pytest.raises(UnknownModelError) as info:
        registry(catalogue=False).provider("SEEDREAM/5-LITE-IMAGE-TO-IMAGE")
    assert info.value.suggestions == ["seedream/5-lite-image-to-image"]


def test_listed_ids_and_new_ids_unlike_any_known_one_pass_silently(
    recwarn: pytest.WarningsRecorder,
) -> None:
    found = registry()
    for model in ("nano-banana-pro", "seedream/5-lite-text-to-image", "veo9/brand-new-model"):
        found.provider(model)
        assert found.suggestions(model) == []
    assert not [w for w in recwarn if issubclass(w.category, UnlistedModelWarning)]


class RefusingPatternProvider(MarketProvider):
    """A pattern that owns a namespace only to refuse the ids it does not serve (as
    kiekit-suno's ``suno/*`` does): its ``model`` raises ValidationError."""

    name = "refusing"
    models = (Model("typed/*", OpenInput, None),)

    def model(self, model_id: str) -> Model:
        if model_id == "typed/*":
            return self.models[0]
        raise ValidationError("model", f"{model_id!r} is not served here; it is not sent")


class TypedNamespaceProvider(MarketProvider):
    name = "typed-namespace"
    models = (Model("typed/generate", Prompt, MediaKind.AUDIO),)


def test_a_typo_a_pattern_refuses_is_not_said_sent_as_is_and_its_refusal_guesses(
    recwarn: pytest.WarningsRecorder,
) -> None:
    """The registry warned "sent as is" of an id the pattern's provider then refused: the
    refusal is raised instead, naming the close id, for a create and for any other use."""
    found = Registry(discover=False)
    found.add_provider(TypedNamespaceProvider())
    found.add_provider(RefusingPatternProvider())
    for creating in (True, False, True):
        with pytest.raises(ValidationError) as refused:
            found.provider("typed/generat", creating=creating)
        assert refused.value.field == "model"
        assert str(refused.value) == (
            "model: 'typed/generat' is not served here; it is not sent; "
            "did you mean 'typed/generate'?"
        )
    assert not [w for w in recwarn if issubclass(w.category, UnlistedModelWarning)]
    assert isinstance(found.provider("typed/generate"), TypedNamespaceProvider)


def kie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    kie_path = Path(sys.executable).with_name("kie")
    return subprocess.run(  # noqa: S603 - our own entry point
        [str(kie_path), *args], capture_output=True, text=True, timeout=600, cwd=cwd, check=False
    )


@pytest.mark.parametrize("model", ["FLUX-KONTEXT-PRO", "VEO3"])
def test_kie_run_and_batch_refuse_a_known_id_in_capitals(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from kiekit import cli

    argv = ["run", model, "--prompt", "x", "--mock", "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    said = capsys.readouterr().err
    assert f"did you mean '{model.lower()}'?" in said
    assert "mock KIE server" not in said  # refused before any server was started
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "model": model, "input": {"prompt": "x"}}) + "\n")
    cli.main(["batch", str(jobs), "--mock", "--out", str(tmp_path / "batch")])
    (row,) = map(json.loads, (tmp_path / "batch" / "results.jsonl").read_text().splitlines())
    assert row["state"] == "invalid"
    assert f"did you mean '{model.lower()}'?" in row["error"]["message"]


def test_kie_run_refuses_a_typo_before_creating_anything_and_any_model_sends_it(
    tmp_path: Path,
) -> None:
    refused = kie("run", "flux-kontext-pr", "--prompt", "x", "--mock", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "did you mean 'flux-kontext-pro'" in refused.stderr
    assert "--any-model" in refused.stderr
    assert "created task" not in refused.stderr
    assert "mock KIE server" not in refused.stderr  # refused before any server was started

    sent = kie("run", "flux-kontext-pr", "--prompt", "x", "--mock", "--any-model", cwd=tmp_path)
    assert "mock KIE server" in sent.stderr  # sent as is: the mock answers for it


@pytest.mark.parametrize("flavour", ["Client", "AsyncClient"])
def test_a_typo_is_warned_of_at_the_callers_line_on_every_create_as_a_rerun_cell_makes_it(
    flavour: str, mock_server_factory: Any
) -> None:
    """A notebook cell run again sent its typo silently: the warning was said once a process,
    at kiekit's own line, which Python's default filter shows once. Each run of a cell is
    code of its own (IPython: a new file name), as each ``compile`` here is."""
    import ast
    import asyncio
    import warnings

    from kiekit import AsyncClient, Client

    mock = mock_server_factory()
    options: dict[str, Any] = {"base_url": mock.base_url, "journal": None, "rate_limits": None}
    cell = "await kie.submit('flux-kontext-pr', prompt='x')"
    if flavour == "Client":
        cell = cell.removeprefix("await ")

    async def run_cells() -> list[warnings.WarningMessage]:
        kie = Client("k", **options) if flavour == "Client" else AsyncClient("k", **options)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("default")  # Python's own filter: once per line
            for run in range(3):
                code = compile(cell, f"<cell {run}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
                pending = eval(code, {"kie": kie})  # noqa: S307 - a notebook cell's run
                if pending is not None:
                    await pending
        if isinstance(kie, AsyncClient):
            await kie.close()
        else:
            kie.close()
        return said

    said = [w for w in asyncio.run(run_cells()) if issubclass(w.category, UnlistedModelWarning)]
    assert [w.filename for w in said] == ["<cell 0>", "<cell 1>", "<cell 2>"]
    assert "did you mean 'flux-kontext-pro'" in str(said[0].message)
