"""The reusable provider contract: subclass it in one line and pytest runs the whole suite.

::

    from kiekit_contract import ProviderContract
    from kiekit_grok_imagine import GrokImagineProvider

    class TestGrokImagine(ProviderContract):
        provider = GrokImagineProvider()
        documented_statuses = [({"taskId": "t", "state": "waiting", …}, State.QUEUED), …]

As fsspec's ``tests/abstract`` suites are adopted by s3fs and friends: the suite owns the tests, a
plugin owns one class that names its provider and, through capability flags, what it does not
support. Every test here must be able to fail; ``contract_tests/tests`` proves it with broken
fake providers.

The tests talk HTTP only to the mock KIE server on 127.0.0.1 (``kie_mock_session``, from this
package's pytest plugin) and use a registry that holds just the provider under test, so a broken
or unpublished provider is tested as it is, not as installed.

A provider may serve model ids by pattern (``Model("*", OpenInput, None)``, the generic market
provider): the suite then tests it through the concrete ids ``pattern_models`` names, and for a
free-form :class:`~kiekit.fields.OpenInput` it replaces the per-field fuzzing (there are no field
specs) with an example input plus extra JSON fields, which must reach KIE exactly as given, and
with values that are not JSON, which must be refused before any request.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import json
import mimetypes
import os
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar, cast

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kiekit import (
    Asset,
    AssetRole,
    Input,
    MediaKind,
    Model,
    ProtocolError,
    Provider,
    Registry,
    Request,
    Results,
    RetryPolicy,
    State,
    Task,
    TaskFailedError,
    TaskStatus,
    ValidationError,
)
from kiekit.errors import ApiError, KieError, ParentTaskError
from kiekit.fields import (
    InputField,
    OpenInput,
    Spec,
    default_written,
    entry_class,
    spec_of,
    wire_name,
)
from kiekit.registry import installed
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit.webhooks import CallbackError, parse_callback
from kiekit.wire import input_to_wire
from kiekit_mock import Lifecycle, MockServer

from kiekit_contract.clients import async_client_for, client_for
from kiekit_contract.strategies import (
    FAIL_MARKER,
    boundary_inputs,
    edge_values,
    input_specs,
    invalid_open_fields,
    invalid_values,
    json_values,
    like,
    one_field_changed,
    open_inputs,
    smallest_input,
    smallest_value,
    valid_inputs,
)

__all__ = ["CLIENTS", "ProviderContract"]

CLIENTS = ("Client", "AsyncClient")

# Values no KIE family documents, put in place of a documented one to probe a provider's parser.
UNKNOWN_TEXT = "kiekit-contract-undocumented"
UNKNOWN_NUMBER = 987654321
_PROBES: tuple[Any, ...] = (UNKNOWN_TEXT, UNKNOWN_NUMBER, None)
TASK_ID = "kiekit-contract-task"
# Put in place of a pattern's ``*`` to make a model id that only the pattern can serve.
UNCLAIMED = "kiekit-contract-unclaimed"
# The callBackUrl of the lifecycle tests' tasks: the mock records the callback KIE would POST
# there (never sent: not loopback), and kiekit must be able to read it
CALLBACK_URL = "https://kiekit-contract.invalid/callback"

# The order a task's state may move in; it never goes back.
_RANK = {State.QUEUED: 0, State.RUNNING: 1, State.SUCCEEDED: 2, State.FAILED: 2}

# Leading bytes of the files the mock serves, by the media type a provider guessed from the URL.
_SIGNATURES: dict[str, tuple[int, bytes]] = {
    "image/png": (0, b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": (0, b"\xff\xd8\xff"),
    "video/mp4": (4, b"ftyp"),
}

Run = tuple[Task, list[TaskStatus], Results, list[Path]]


CAPABILITIES = frozenset({"callbacks", "progress"})  # the manifest's capability tags
PROGRESS_TOLERANCE = 0.005  # "0.45" and 45 of 100 read as 0.45, give or take rounding


class ProviderContract:
    """The tests every kiekit provider passes. Subclass as ``Test<Name>`` and set ``provider``.

    Optional class attributes:

    ``models``
        Model ids to test (default: all of ``provider.models``).
    ``pattern_models``
        ``{pattern model id: [concrete model ids]}`` for a provider that serves ids by pattern
        (``"*"``): the ids the suite tests the pattern with, which the mock must emulate.
    ``documented_statuses``
        ``(status data payload, expected State)`` pairs copied from KIE's docs or recorded
        traffic for this family; must cover a pending, a succeeded and a failed task. A
        triple ``(payload, State, progress)`` also gives the progress (0.0–1.0) the payload
        means (KIE's ``45`` of 0–100: 0.45); required of one pending status when the entry
        points declare the ``progress`` capability.
    ``example_inputs``
        ``{model id: {field: value}}`` for the end-to-end tests; by default the smallest input
        the field specs allow. Required for a free-form input (``OpenInput``): a known-good
        input of that concrete model, the base the property tests add extra fields to.
    ``entry_examples``
        ``(model id, {field: value})`` inputs that set a list of objects the example does not
        (a multi-shot input when the example is a single shot): the differential sweeps the
        fields of its first entry too (``test_field_checks_agree_with_the_mock``).
    ``supports_failure``
        False if the mock cannot fail this provider's tasks; skips the failure tests.
    ``mock_emulates``
        False if the mock does not emulate this provider's API family yet; skips every test
        that needs the mock (the pure tests still run).
    ``check_entry_points``
        False for a provider that is not installed as a distribution (an application's private
        provider, a test double); skips the entry-point test.
    ``extra_input_fields``
        False if the models under test refuse free-form input fields they do not know: valid
        open inputs are then the example inputs alone (typed inputs are unaffected).
    ``left_out_files``
        ``{slot: why}`` for URLs of a succeeded task's status that are deliberately not
        results, each with the reason (a stream of the same song, say). A slot is the keys that
        lead to the URL joined by dots, a list position written ``*``:
        ``"response.sunoData.*.streamAudioUrl"``. Every other URL of the status is a file the
        results must hold (``AssetRole.EXTRA`` if the model does not make it), save the URLs
        the task's request carried (the input's, the callback's), which KIE echoes.
    ``max_examples``
        Hypothesis examples per property test that talks to the mock (pure ones run 4×).
    ``derandomize``
        True (the default): the property tests draw the same examples on every run, so a
        plugin's CI passes or fails the same way each time. False to explore: each run draws
        new ones (hypothesis' ``--hypothesis-seed`` then replays a run). Either way the
        valid-inputs test first tries each bound, choice and optional field of the example
        input (``boundary_inputs``).
    """

    provider: ClassVar[Provider]
    models: ClassVar[Sequence[str] | None] = None
    pattern_models: ClassVar[Mapping[str, Sequence[str]]] = {}
    documented_statuses: ClassVar[Sequence[tuple[Any, State] | tuple[Any, State, float]]] = ()
    example_inputs: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    entry_examples: ClassVar[Sequence[tuple[str, Mapping[str, Any]]]] = ()
    supports_failure: ClassVar[bool] = True
    mock_emulates: ClassVar[bool] = True
    check_entry_points: ClassVar[bool] = True
    extra_input_fields: ClassVar[bool] = True
    left_out_files: ClassVar[Mapping[str, str]] = {}
    max_examples: ClassVar[int] = 30
    derandomize: ClassVar[bool] = True

    # -- helpers ----------------------------------------------------------------------------

    def contract_models(self) -> list[Model]:
        """The provider's models this class tests; a pattern stands for its ``pattern_models``
        (each as the provider serves it: ``Model(<concrete id>, …)``)."""
        chosen = [m.id for m in self.provider.models] if self.models is None else list(self.models)
        found = []
        for model_id in chosen:
            if "*" not in model_id:
                found.append(self.provider.model(model_id))
                continue
            concrete = list(self.pattern_models.get(model_id, ()))
            assert concrete, (
                f"model {model_id!r} is a pattern: set pattern_models = {{{model_id!r}: [...]}}, "
                "concrete model ids it serves that the mock emulates"
            )
            found += [self.provider.model(c) for c in concrete]
        return found

    def contract_registry(self) -> Registry:
        """A registry holding only the provider under test (not the installed plugins)."""
        registry = Registry(discover=False)
        registry.add_provider(self.provider)
        return registry

    def example_input(self, model: Model) -> Input:
        """``example_inputs[model.id]`` if given, else the required fields with plain values."""
        given_fields = self.example_inputs.get(model.id)
        if given_fields is not None:
            return self.provider.make_input(model.id, dict(given_fields))
        assert not _is_open(model), (
            f"{model.id} takes a free-form input, which has no fields kiekit could fill in: "
            f"set example_inputs[{model.id!r}] to an input that model accepts"
        )
        return smallest_input(model)

    def valid_inputs_of(self, model: Model) -> st.SearchStrategy[Input]:
        """Inputs KIE accepts: drawn from the field specs, or for a free-form input the
        example input plus (with ``extra_input_fields``) extra JSON fields."""
        if not _is_open(model):
            return valid_inputs(model)
        example = self.example_input(model)
        assert isinstance(example, OpenInput), example
        return open_inputs(example.values, extra=self.extra_input_fields, cls=model.input)

    def _needs_mock(self) -> None:
        if not self.mock_emulates:
            pytest.skip(f"the mock does not emulate {self.provider.name!r} (mock_emulates)")

    def _settings(self, *, pure: bool = False) -> settings:
        return settings(
            max_examples=self.max_examples * (4 if pure else 1),
            derandomize=self.derandomize,
            deadline=None,  # HTTP round trips to the mock vary; the poll policy has a deadline
            # an input with lists of objects (kiekit.fields.items) is drawn entry by entry and
            # its cross-field rules refuse many draws: slow to make, but made
            suppress_health_check=[HealthCheck.too_slow],
        )

    # -- declaration ------------------------------------------------------------------------

    def test_models_are_declared(self) -> None:
        """Model ids are unique, each input is an Input made only of kiekit field specs, and
        each output a MediaKind: what the strategies, the CLI and the docs read."""
        assert isinstance(self.provider, Provider)
        assert self.provider.models, f"{type(self.provider).__name__} declares no models"
        ids = [m.id for m in self.provider.models]
        assert len(ids) == len(set(ids)), f"model ids declared twice: {ids}"
        for model in self.provider.models:
            # None: the kind of each result comes from its file's media type
            assert model.output is None or isinstance(model.output, MediaKind), model
            assert isinstance(model.input, type), model
            assert issubclass(model.input, Input), model
            input_specs(model.input)  # TypeError names a field declared without a spec
            misleading = _misleading_annotations(model.input)
            misleading += _defaults_unsaid(model.input)
            assert not misleading, "\n".join(misleading)
        unknown = sorted(set(self.pattern_models) - {i for i in ids if "*" in i})
        assert not unknown, f"pattern_models names patterns the provider lacks: {unknown}"
        for pattern, concrete in self.pattern_models.items():
            model = self.provider.model(pattern)
            for model_id in concrete:
                matches = "*" not in model_id and fnmatchcase(model_id, pattern)
                assert matches, f"pattern_models: {pattern!r} does not match {model_id!r}"
                assert model_id not in ids, (
                    f"pattern_models: {model_id!r} is declared exactly, so it does not test "
                    f"the pattern {pattern!r}"
                )
                served = self.provider.model(model_id)
                assert served.id == model_id, f"{model_id!r} is served as {served.id!r}"
                assert (served.input, served.output) == (model.input, model.output), served
        assert self.contract_models(), "the models attribute selects no model"

    def test_entry_points_declare_the_models(self) -> None:
        """The distribution's ``kiekit.providers`` entry points declare exactly this provider's
        model ids, and a fresh registry resolves each of them to this provider class."""
        if not self.check_entry_points:
            pytest.skip("not installed as a distribution (check_entry_points = False)")
        cls = type(self.provider)
        package = cls.__module__.partition(".")[0]
        ours = {m.id for m in self.provider.models}
        listings = installed()
        by_model: dict[str, list[str]] = {}
        for listing in listings:
            by_model.setdefault(listing.model, []).append(listing.module)
        undeclared = sorted(ours - set(by_model))
        assert not undeclared, (
            f"models with no entry point in group 'kiekit.providers': {undeclared}; "
            f'add e.g. "{undeclared[0]}" = "{package}" to pyproject.toml'
        )
        twice = {m: mods for m, mods in by_model.items() if m in ours and len(mods) > 1}
        assert not twice, f"models declared by more than one entry point: {twice}"
        # the capability manifest: each entry point's tags say what its model produces
        for listing in listings:
            if listing.model not in ours:
                continue
            model = self.provider.model(listing.model)
            expected = model.output.value if model.output is not None else "any"
            # the advice keeps the entry point's known capabilities: following it passes
            tags = ", ".join([expected, *(t for t in listing.capabilities if t in CAPABILITIES)])
            assert listing.output == expected, (
                f"{listing.model!r}: the entry point tags the output {listing.output!r}, the "
                f'provider says {expected!r}; write "{listing.model}" = '
                f'"{listing.module} [{tags}]"'
            )
            unknown = set(listing.capabilities) - CAPABILITIES
            assert not unknown, f"{listing.model!r}: unknown capability tags {sorted(unknown)}"
        registry = Registry()
        for model_id in sorted(ours):
            found = registry.provider(model_id)
            assert type(found) is cls, (
                f"{model_id!r} resolves to {type(found).__name__}, not {cls.__name__}"
            )
        # every other model the same package declares must be registered by it, too
        package_models = {
            listing.model
            for listing in listings
            if listing.module == package or listing.module.startswith(package + ".")
        }
        for model_id in sorted(package_models - ours):
            registry.provider(model_id)  # PluginError: declared but never registered
        # a pattern serves, in a fresh registry, an id that nothing else declares
        for pattern in sorted(m for m in ours if "*" in m):
            model_id = pattern.replace("*", UNCLAIMED)
            found = Registry().provider(model_id)
            assert type(found) is cls, (
                f"{model_id!r} (only the pattern {pattern!r} matches it) resolves to "
                f"{type(found).__name__}, not {cls.__name__}"
            )
            assert found.model(model_id).id == model_id

    def test_status_request_names_the_task(self, request: pytest.FixtureRequest) -> None:
        """The status call carries the task id; and where the mock emulates the family, the
        id ``parse_created`` reads from the mock's create answer is the task the mock made,
        and the status call finds it: a family's own id key (``{"id": …}``) or status
        parameter (``?id=``, a path) is its own, as its mock extension answers it."""
        status = self.provider.status_request(TASK_ID)
        where = [status.path, *status.query.values(), json.dumps(status.body)]
        assert any(TASK_ID in part for part in where), f"{status} does not carry the task id"
        if not self.mock_emulates:
            return
        mock: MockServer = request.getfixturevalue("kie_mock_session")
        model = self.contract_models()[0]
        registry = self.contract_registry()
        with client_for(mock.base_url, registry=registry, retry=RetryPolicy.never()) as kie:
            task = _submitted(kie, model, self.example_input(model))
            try:
                mock.task(task.id)
            except KeyError:
                raise AssertionError(
                    f"parse_created read {task.id!r} from the mock's create answer, which is "
                    "no task the mock made"
                ) from None
            assert kie.status(task).task_id == task.id

    def test_every_pending_state_reads_as_pending(self, kie_mock_session: MockServer) -> None:
        """A task stepped through every pending stage the mock can show — waiting, queuing
        (shown only when asked, ``MockConfig.market_queuing``: KIE documents it, its traffic
        never showed it) and generating — reads as a non-final state at each, then as
        SUCCEEDED. A provider, or a mock family extension, that cannot answer one fails here
        rather than for a user whose mock or KIE shows it. On the session's mock, which shows
        "queuing" (its default config); one that is configured not to is left as it is, and
        the task made on a mock of its own that does (an input naming a task of the session's
        mock, a parent, would then find none)."""
        self._needs_mock()
        model = self.contract_models()[0]
        registry = self.contract_registry()
        seen: list[State] = []
        with contextlib.ExitStack() as stack:
            mock = kie_mock_session
            if not mock.config.market_queuing:
                config = dataclasses.replace(mock.config, market_queuing=True)
                mock = stack.enter_context(MockServer(config))
            kie = stack.enter_context(
                client_for(mock.base_url, registry=registry, retry=RetryPolicy.never())
            )
            task = _submitted(kie, model, self.example_input(model))
            mock.set_lifecycle(task.id, Lifecycle(manual=True))
            for stage in ("waiting", "queuing", "generating", "success"):
                assert mock.task(task.id).state == stage
                try:
                    status = kie.status(task)
                except KieError as exc:
                    raise AssertionError(
                        f"the status of a task the mock holds as {stage!r} could not be read "
                        f"({type(exc).__name__}: {exc}); the provider must read, and a mock "
                        "family extension answer, every state (kiekit_mock.extension.STATES)"
                    ) from None
                seen.append(status.state)
                if stage != "success":
                    assert not status.state.finished, f"{stage!r} read as {status.state}: {seen}"
                    mock.advance(task.id)
        assert seen[-1] is State.SUCCEEDED, f"states seen: {seen}"
        ranks = [_RANK[s] for s in seen]
        assert ranks == sorted(ranks), f"the state went backwards: {seen}"

    # -- input validation -------------------------------------------------------------------

    def test_valid_inputs_are_accepted_by_the_mock(self, kie_mock_session: MockServer) -> None:
        """Property: for any input the field specs allow, the request the provider builds is
        accepted by the mock (it answers with a task id) and the task is of the same model."""
        self._needs_mock()
        provider = self.provider
        models = self.contract_models()
        loopback = "http://127.0.0.1:9/kiekit-contract-callback"
        callbacks = st.none() | st.just(loopback)
        cases = st.sampled_from(models).flatmap(
            lambda model: st.tuples(st.just(model), self.valid_inputs_of(model))
        )

        with client_for(kie_mock_session.base_url, registry=self.contract_registry()) as kie:

            @self._settings()
            @given(case=cases, callback=callbacks)
            def creates_a_task(case: tuple[Model, Input], callback: str | None) -> None:
                model, params = case
                built = provider.build_request(model.id, params, callback_url=callback)
                again = provider.build_request(model.id, params, callback_url=callback)
                assert built == again, "build_request is not a pure function of its input"
                json.dumps(built.body)  # TypeError: the body is not JSON
                task = kie.submit(model.id, params, callback_url=callback)
                assert task.id
                assert task.model == model.id
                made = kie_mock_session.task(task.id)
                assert made.model == model.id, f"the mock created a {made.model} task"
                if callback is not None:
                    assert made.callback_url == callback, (
                        f"callback_url={callback!r} did not reach KIE: the task has "
                        f"{made.callback_url!r}, the body was {made.request_body!r}"
                    )
                if isinstance(params, OpenInput):
                    assert _sent_as_given(made.request_body, params.values), (
                        f"the free-form input {params.values!r} did not reach KIE as given: "
                        f"the body was {made.request_body!r}"
                    )
                    return
                assert made.request_body == json.loads(json.dumps(built.body)), (
                    f"the mock received {made.request_body!r}, not the body build_request "
                    f"built: {built.body!r}"
                )
                ignored = _ignored_fields(provider, model, params, built, callback)
                assert not ignored, (
                    f"fields set in the input change nothing in the request: {ignored}; "
                    f"build_request must send them (under their wire name): {built}"
                )

            # each bound, choice and optional field, and the callback, on every run (the
            # draws may miss a bound: a provider dropping seed=0 passed half the runs)
            for model in models:
                if _is_open(model):
                    continue
                base, *edges = boundary_inputs(self.example_input(model))
                for params, callback in [(base, loopback), *((p, None) for p in edges)]:
                    explicit = example(case=(model, params), callback=callback)
                    creates_a_task = explicit(creates_a_task)
            creates_a_task()

    def test_invalid_field_is_rejected_before_any_request(self) -> None:
        """Property: a valid input with one field swapped for a value its spec forbids raises
        ValidationError naming that field, and the client sends nothing at all."""
        provider = self.provider
        models = self.contract_models()

        def refuse(request: HttpRequest) -> HttpResponse:
            return HttpResponse(500, b"the contract expected no request at all")

        @self._settings(pure=True)
        @given(model=st.sampled_from(models), data=st.data())
        def names_the_field(model: Model, data: st.DataObject) -> None:
            values: dict[Any, Any]
            if _is_open(model):
                # no field specs: what kiekit refuses is what is not JSON (KIE judges the rest)
                base = self.example_inputs.get(model.id, {})
                given = data.draw(open_inputs(base, cls=model.input), label="valid params")
                bad_field = data.draw(invalid_open_fields(list(given.values)), label="bad")
                values = {**given.values, bad_field.key: bad_field.value}
                name = bad_field.field
            else:
                specs = input_specs(model.input)
                params = data.draw(valid_inputs(model), label="valid params")
                name = data.draw(st.sampled_from(sorted(specs)), label="field")
                bad = data.draw(invalid_values(specs[name]), label="invalid value")
                values = {a.name: getattr(params, a.name) for a in attrs.fields(type(params))}
                values[name] = bad
            transport = MockTransport(refuse)
            registry = self.contract_registry()
            kie = client_for("http://127.0.0.1:9", registry=registry, transport=transport)
            with kie, pytest.raises(ValidationError) as caught:
                kie.submit(model.id, values)
            field = caught.value.field
            assert field == name or field.startswith(name + "["), (
                f"ValidationError names {field!r}, not the invalid field {name!r}"
            )
            assert transport.requests == [], "a request was sent for an invalid input"
            with pytest.raises(ValidationError):
                provider.make_input(model.id, values)

        names_the_field()

    def test_documented_fields_are_checked_before_any_request(self) -> None:
        """A free-form input whose fields the provider documents (``input_fields``: a
        catalogue's enums, ranges, lengths, required fields) is checked against them: a value
        outside them raises ValidationError naming the field, and nothing is sent. Models: the
        concrete ones tested and those of ``example_inputs`` (each example is the base)."""
        ids = {m.id for m in self.contract_models()} | set(self.example_inputs)
        for model_id in sorted(ids):
            if "*" in model_id or not _is_open(self.provider.model(model_id)):
                continue
            base = dict(self.example_inputs.get(model_id, {}))
            for field in self.provider.input_fields(model_id):
                for values in _outside(field, base):
                    self._refused_before_sending(model_id, values, field.name)

    def _refused_before_sending(self, model_id: str, values: dict[str, Any], name: str) -> None:
        transport = MockTransport(lambda _: HttpResponse(500, b"no request expected"))
        kie = client_for(
            "http://127.0.0.1:9", registry=self.contract_registry(), transport=transport
        )
        with kie, pytest.raises(ValidationError) as caught:
            kie.submit(model_id, values)
        field = caught.value.field
        assert field == name or field.startswith((name + "[", name + ".")), (
            f"{model_id}: {values!r:.120} is refused naming {field!r}, not {name!r}"
        )
        assert transport.requests == [], f"{model_id}: a request was sent for {values!r:.120}"

    def test_field_checks_agree_with_the_mock(self, kie_mock_session: MockServer) -> None:
        """Each field of the example input, set to each of its edge values (``edge_values``:
        numbers as text and as floats, whole floats, booleans, blanks, out of range, wrong
        types, lists), is refused here (ValidationError naming the field, nothing sent) exactly
        when the mock refuses the same request (KIE's 422 naming the field). A value refused
        here that KIE takes is a false refusal; one taken here that KIE refuses, a wasted round
        trip, unless it is a shorthand the provider expands into KIE's shape (a list or an
        object that holds the value) and KIE takes that. A refusal that names no field (the
        record an id names does not exist) says nothing of the value's form and is passed
        over. A value taken here is sent as KIE documents it: the mock takes
        the request the provider builds, whatever form the value was given in. A field set
        reaches the body under its wire name (``wire_name``: the field's ``wire=…``, else its
        name, camelCased for a camelCase family): under another key KIE ignores it and makes
        its default, as if it were dropped.

        The mock's request is the example's body with the field's wire value replaced by the
        edge value as given (None: left out, or the field's default where it has one). Models
        the mock knows no fields of (``MockConfig.extra_market_models``: give it the model's
        entry, ``MockConfig.market_catalogue``) and free-form ones are passed over; when that
        leaves none, and the mock knows no fields of one, the test is skipped, saying so."""
        self._needs_mock()
        differ: list[str] = []
        config = kie_mock_session.config
        taught = {entry["id"] for entry in config.market_catalogue}
        unchecked = set(config.extra_market_models) - taught
        passed_over: list[str] = []
        with client_for(kie_mock_session.base_url, registry=self.contract_registry()) as kie:
            for model in self.contract_models():
                if _is_open(model) or model.id in unchecked:
                    # no field specs (KIE judges a free-form input), or a model the mock does
                    # not emulate (taken with a minimal check): nothing to compare
                    passed_over.append(model.id)
                    continue
                base = self.example_input(model)
                built = self.provider.build_request(model.id, base)
                kie.call(built)  # the example itself is taken (else the test cannot tell)
                for name, spec in input_specs(type(base)).items():
                    differ += self._compare_field(kie, model, base, name, spec)
                for swept in self._entry_bases(model, base):
                    if swept is not base:  # taken as it is (else the test cannot tell)
                        kie.call(self.provider.build_request(model.id, swept))
                    for name, spec in input_specs(type(swept)).items():
                        if spec.kind == "items" and getattr(swept, name):
                            differ += self._compare_entry_fields(kie, model, swept, name, spec)
        assert not differ, "the provider and the mock (KIE) disagree:\n" + "\n".join(differ)
        unknown = [model_id for model_id in passed_over if model_id in unchecked]
        if unknown and len(passed_over) == len(self.contract_models()):
            pytest.skip(
                f"the mock knows no fields of {', '.join(unknown)} (only in "
                "MockConfig.extra_market_models): nothing to compare. Teach it the model's "
                "fields with MockConfig.market_catalogue (kie_mock_session_config)"
            )

    def _compare_field(
        self, kie: Any, model: Model, base: Input, name: str, spec: Spec
    ) -> list[str]:
        provider = self.provider
        moved = self._sent_elsewhere(model, base, name, spec)
        if moved is not None:
            return [moved]
        slot = self._wire_slot(model, base, name, spec)
        if slot is None:
            return [f"{model.id}.{name}: no valid value of it reaches the request body"]
        built = provider.build_request(model.id, base)
        fields = attrs.fields_dict(type(base))
        wires = {n: wire_name(a, camel_case=provider.camel_case) for n, a in fields.items()}
        default = fields[name].default
        given = {n: getattr(base, n) for n in fields}
        differ = []
        for value in edge_values(spec):
            here = ours = None
            try:
                params = provider.make_input(model.id, {**given, name: value})
                ours = provider.build_request(model.id, params)
            except ValidationError as exc:
                here = exc.field
            probe = _with_value_at(built, slot, value, default, provider.camel_case)
            there = _refusal(kie, probe)
            named = [n for n, wire in wires.items() if there is not None and _says(there, wire)]
            shown = f"{model.id}.{name}={value!r:.40}"
            if here is not None:
                culprit = re.split(r"[\[.]", here)[0]
                if there is None:
                    differ.append(f"{shown}: refused here, but KIE (the mock) takes it")
                elif culprit != name and culprit not in named:
                    differ.append(f"{shown}: refused here naming {here!r}; the mock: {there!r}")
                continue
            if there is None or not named:
                # taken by both, or refused for what no field's form says (the record an id
                # names does not exist): no verdict on the value
                if ours is not None and ours.body != probe.body and (sent := _refusal(kie, ours)):
                    differ.append(f"{shown}: taken here, but the mock refuses it: {sent!r}")
                continue
            assert ours is not None
            sent_value = _lookup(ours.body, slot)
            stripped = value.strip() if isinstance(value, str) else value
            # a shorthand (a scene's text for a list of scenes) is expanded into KIE's shape
            expanded = isinstance(sent_value, (list, Mapping)) and _holds(sent_value, stripped)
            if sent_value == value or not expanded:
                differ.append(f"{shown}: taken here, but the mock refuses it: {there!r}")
            elif sent := _refusal(kie, ours):
                differ.append(f"{shown}: taken here, sent as {sent_value!r:.40}: {sent!r}")
        return differ

    def _entry_bases(self, model: Model, example: Input) -> list[Input]:
        """The inputs whose lists of objects are swept entry field by entry field: the
        example, and ``entry_examples`` of the model."""
        more = [v for m, v in self.entry_examples if m == model.id]
        return [example, *(self.provider.make_input(model.id, dict(v)) for v in more)]

    def _compare_entry_fields(
        self, kie: Any, model: Model, base: Input, name: str, spec: Spec
    ) -> list[str]:
        """The first entry of the list ``name``, each of its fields set to each of its edge
        values: what the mock refuses naming that field is refused here too, before a request
        KIE refuses is sent. A limit of a field inside a list entry (a shot's 1–12 seconds)
        is KIE's as much as a top-level one. One way only, for now: an entry's value refused
        here that KIE takes (a shot's duration as "7" or 7.0) is not reported."""
        provider = self.provider
        built = provider.build_request(model.id, base)
        slot = _find_key(
            built.body,
            wire_name(attrs.fields_dict(type(base))[name], camel_case=provider.camel_case),
        )
        entries = list(getattr(base, name))
        if slot is None or not isinstance(_lookup(built.body, slot), list):
            return []
        given = {n.name: getattr(base, n.name) for n in attrs.fields(type(base))}
        first = {a.name: getattr(entries[0], a.name) for a in attrs.fields(type(entries[0]))}
        entry_fields = attrs.fields_dict(entry_class(spec))
        differ = []
        for sub, sub_spec in input_specs(entry_class(spec)).items():
            wire = wire_name(entry_fields[sub], camel_case=provider.camel_case)
            for value in edge_values(sub_spec):
                here = ours = None
                try:
                    swapped = [{**first, sub: value}, *entries[1:]]
                    ours = provider.build_request(
                        model.id, provider.make_input(model.id, {**given, name: swapped})
                    )
                except ValidationError as exc:
                    here = exc.field
                default = entry_fields[sub].default
                at = (*slot, 0, wire)  # the first entry's field
                probe = _with_value_at(built, at, value, default, provider.camel_case)
                there = _refusal(kie, probe)
                shown = f"{model.id}.{name}[0].{sub}={value!r:.40}"
                named = there is not None and _says(there, wire)
                if here is None and named and ours is not None and _refusal(kie, ours):
                    differ.append(f"{shown}: taken here, but the mock refuses it: {there!r}")
        return differ

    def _with_field(self, base: Input, name: str, spec: Spec) -> Input:
        """``base`` with the field set (its smallest value) when it is not; as it is when a
        rule across fields refuses that."""
        if getattr(base, name) is not None:
            return base
        try:
            return cast(Input, attrs.evolve(cast(Any, base), **{name: smallest_value(spec)}))
        except ValidationError:
            return base

    def _sent_elsewhere(self, model: Model, base: Input, name: str, spec: Spec) -> str | None:
        """What is wrong when the field, set, reaches the body under another key than its
        wire name (``image_url`` for ``imageUrl``): KIE ignores a key it does not know and
        makes its default, paid for, as if the field were dropped. None when it is under its
        wire name, or not sent at all (what the other checks tell)."""
        params = self._with_field(base, name, spec)
        attribute = attrs.fields_dict(type(base))[name]
        wire = wire_name(attribute, camel_case=self.provider.camel_case)
        body = self.provider.build_request(model.id, params).body
        unset = attribute.default
        if getattr(params, name) is None or _find_key(body, wire) is not None:
            return None
        if unset is attrs.NOTHING or isinstance(unset, attrs.Factory):  # type: ignore[arg-type]
            return None  # required, or made per object: it cannot be left out to compare
        try:
            without = attrs.evolve(cast(Any, params), **{name: unset})
        except ValidationError:
            return None  # a rule across fields needs it set
        added = _added_keys(self.provider.build_request(model.id, without).body, body)
        if not added:
            return None
        return (
            f"{model.id}.{name}: sent as {'.'.join(added[0])!r}, not under its wire name "
            f"{wire!r}: KIE ignores a key it does not know (declare the key KIE documents "
            "with the field's wire=…, or send it under its wire name)"
        )

    def _wire_slot(
        self, model: Model, base: Input, name: str, spec: Spec
    ) -> tuple[str, ...] | None:
        """Where the field's value sits in the request body: the path of keys to it."""
        params = self._with_field(base, name, spec)
        body = self.provider.build_request(model.id, params).body
        fields = attrs.fields_dict(type(base))
        wire = wire_name(fields[name], camel_case=self.provider.camel_case)
        found = _find_key(body, wire)
        if found is not None:
            return found
        # no value of it alone passes the rules across fields (it needs another field set):
        # it goes beside the fields that are sent (the market's `input`, a legacy body's top)
        for other, attribute in fields.items():
            beside = _find_key(body, wire_name(attribute, camel_case=self.provider.camel_case))
            if other != name and getattr(params, other) is not None and beside is not None:
                return (*beside[:-1], wire)
        return None

    # -- the task lifecycle on the mock -----------------------------------------------------

    @pytest.mark.parametrize("client", CLIENTS)
    def test_task_succeeds_and_files_download(
        self, client: str, kie_mock_session: MockServer, tmp_path: Path
    ) -> None:
        """A task walks through non-final states to SUCCEEDED; its results are assets of the
        model's kind whose files download, with the bytes their media type promises; the
        callback the mock owed it is one kiekit's webhooks read (``_check_callbacks``)."""
        self._needs_mock()
        for model in self.contract_models():
            params = self.example_input(model)
            out = tmp_path / model.id.replace("/", "_")
            task, seen, results, paths = self._run(client, kie_mock_session, model, params, out)

            assert seen, "wait() reported no status"
            assert all(s.task_id == task.id for s in seen)
            states = [s.state for s in seen]
            assert states[-1] is State.SUCCEEDED, f"states seen: {states}"
            pending = states[:-1]
            assert pending, f"no non-final state before SUCCEEDED (the mock reports two): {states}"
            assert not any(s.finished for s in pending), f"finished before the end: {states}"
            ranks = [_RANK[s] for s in states]
            assert ranks == sorted(ranks), f"the state went backwards: {states}"

            assert results.task_id == task.id
            if model.output is not MediaKind.TEXT:
                assert results.main, f"{model.id} succeeded with no result files of its own"
            for item in results.assets:
                assert isinstance(item, Asset)
                _check_kind(item, model)
                assert item.url.startswith(kie_mock_session.base_url), item.url
            _check_files_made(kie_mock_session, model, seen[-1], results)
            self._check_every_file_extracted(kie_mock_session, seen[-1], results)
            self._check_callbacks(kie_mock_session, task.id)
            assert len(paths) == len(results.assets)
            for path, item in zip(paths, results.assets, strict=True):
                assert path.parent == out
                assert path.is_file()
                _check_bytes(path.read_bytes(), item)

    def _check_callbacks(self, mock: MockServer, task_id: str) -> None:
        """The callbacks the mock owed the task — its family's shape, as KIE POSTs it — are
        ones kiekit reads: ``parse_callback``, given this provider, finds the task's id in
        each, and the last one announces the end. A family whose callbacks carry the id where
        kiekit does not look says where (``Provider.callback_task_id``). A family the mock
        calls back for none, or a provider that sends no callBackUrl (which the valid-inputs
        test fails), asks for nothing here."""
        records = mock.callbacks(task_id=task_id)
        for record in records:
            # nothing to read: the family's callback_payload raised (the mock's log says
            # where), so no callback was sent, which no provider can be blamed for
            assert record.delivered or record.payload, (
                f"the mock's family sent no callback for task {task_id}: {record.reason}. "
                "Fix the mock family extension's callback_payload (not the provider)"
            )
            try:
                callback = parse_callback(record.payload, providers=[self.provider])
            except CallbackError as exc:
                raise AssertionError(
                    f"the callback KIE (the mock) sends for task {task_id} is one kiekit cannot "
                    f"read: {exc}: {record.payload!r:.300}. Say where its task id is: "
                    f"{type(self.provider).__name__}.callback_task_id"
                ) from None
            assert callback.task_id == task_id, (
                f"the callback for task {task_id} reads as task {callback.task_id!r}: "
                f"{record.payload!r:.300}"
            )
        if records:
            last = parse_callback(records[-1].payload, providers=[self.provider])
            assert last.announces_end, f"the last callback does not end the task: {last}"

    def _check_every_file_extracted(
        self, mock: MockServer, final: TaskStatus, results: Results
    ) -> None:
        """The results are all the files the task made, not some of them: every URL the final
        status names is an asset (``_unextracted_urls``; a cover still or an original KIE hands
        out is an extra one), save the request's own and the slots ``left_out_files`` gives a
        reason for; and whatever those say, each file the mock made that the status shows is
        an asset, and so is every URL beside an asset in the status (``_dropped_files``)."""
        for slot, why in self.left_out_files.items():
            assert str(why or "").strip(), f"left_out_files[{slot!r}]: say why it is no result"
        request = mock.task(results.task_id).request_body
        unextracted = _unextracted_urls(final.raw, results.assets, request, self.left_out_files)
        assert not unextracted, (
            "extract_results left out files KIE hands out: "
            + "; ".join(f"{slot} ({url})" for slot, url in unextracted)
            + ". Return each as an asset (AssetRole.EXTRA if the model does not make it), or "
            "name its slot in left_out_files with the reason it is not a result"
        )
        shown = {_without_query(url) for _, url in _url_slots(final.raw)}
        taken = {_without_query(item.url) for item in results.assets}
        made = mock.task(results.task_id).result_urls()
        lost = [url for url in made if _without_query(url) in shown - taken]
        assert not lost, (
            f"the task made {len(made)} files and its status shows them, but extract_results "
            f"left out {lost}"
        )
        dropped = _dropped_files(final.raw, results.assets)
        assert not dropped, f"extract_results left out {dropped}, beside files it took"

    @pytest.mark.parametrize("client", CLIENTS)
    def test_failed_task_raises_task_failed_error(
        self, client: str, kie_mock_session: MockServer
    ) -> None:
        """A task that fails on the mock ends the wait with TaskFailedError carrying the task
        id and KIE's fail code, after reporting the FAILED state; its callback, too, is one
        kiekit reads."""
        self._needs_mock()
        if not self.supports_failure:
            pytest.skip("the mock cannot fail this provider's tasks (supports_failure = False)")
        model = self.contract_models()[0]
        params, marked = _with_fail_marker(self.example_input(model))
        seen: list[TaskStatus] = []
        with pytest.raises(TaskFailedError) as caught:
            self._fail(client, kie_mock_session, model, params, marked, seen)
        error = caught.value
        assert seen, "wait() reported no status"
        assert seen[-1].state is State.FAILED, [s.state for s in seen]
        assert error.task_id == seen[-1].task_id
        assert isinstance(error.fail_code, str), f"fail code {error.fail_code!r} is no string"
        assert error.fail_code, "TaskFailedError lost KIE's fail code"
        _check_fail_message(error.fail_message, seen[-1].raw)
        self._check_callbacks(kie_mock_session, seen[-1].task_id)

    def _run(self, client: str, mock: MockServer, model: Model, params: Input, out: Path) -> Run:
        registry = self.contract_registry()
        seen: list[TaskStatus] = []
        if client == "Client":
            with client_for(mock.base_url, registry=registry) as kie:
                task = kie.submit(model.id, params, callback_url=CALLBACK_URL)
                results = kie.wait(task, on_status=seen.append)
                return task, seen, results, kie.download(results, out)

        async def run() -> Run:
            async with async_client_for(mock.base_url, registry=registry) as kie:
                task = await kie.submit(model.id, params, callback_url=CALLBACK_URL)
                results = await kie.wait(task, on_status=seen.append)
                return task, seen, results, await kie.download(results, out)

        return asyncio.run(run())

    def _fail(
        self,
        client: str,
        mock: MockServer,
        model: Model,
        params: Input,
        marked: bool,
        seen: list[TaskStatus],
    ) -> None:
        registry = self.contract_registry()
        if client == "Client":
            with client_for(mock.base_url, registry=registry) as kie:
                task = kie.submit(model.id, params, callback_url=CALLBACK_URL)
                if not marked:
                    mock.set_outcome(task.id, "fail")
                kie.wait(task, on_status=seen.append)
            return

        async def run() -> None:
            async with async_client_for(mock.base_url, registry=registry) as kie:
                task = await kie.submit(model.id, params, callback_url=CALLBACK_URL)
                if not marked:
                    mock.set_outcome(task.id, "fail")
                await kie.wait(task, on_status=seen.append)

        asyncio.run(run())

    # -- reading KIE's answers --------------------------------------------------------------

    def test_documented_statuses_map_to_their_states(self) -> None:
        """Each payload from KIE's docs maps to the state the docs give it; a succeeded one
        yields result files."""
        documented = [(entry[0], entry[1]) for entry in self.documented_statuses]
        assert documented, (
            "set documented_statuses: (status payload, State) pairs from KIE's docs for this "
            "family, covering a pending, a succeeded and a failed task"
        )
        covered = {state for _, state in documented}
        missing = [
            what
            for what, ok in (
                ("a pending state", bool(covered - {State.SUCCEEDED, State.FAILED})),
                ("SUCCEEDED", State.SUCCEEDED in covered),
                ("FAILED", State.FAILED in covered),
            )
            if not ok
        ]
        assert not missing, f"documented_statuses covers no {', no '.join(missing)}"
        wrong = []
        for payload, expected in documented:
            status = self.provider.parse_status(TASK_ID, copy.deepcopy(payload))
            assert status.task_id == TASK_ID
            if status.state is not expected:
                wrong.append(f"{expected.name} expected, got {status.state.name}: {payload}")
            elif expected is State.FAILED:
                try:
                    _check_fail_message(status.fail_message, payload)
                except AssertionError as exc:
                    wrong.append(f"{exc}: {payload}")
            elif expected is State.SUCCEEDED:
                results = self.provider.extract_results(TASK_ID, copy.deepcopy(payload))
                kinds = {m.output for m in self.provider.models}
                if not results.assets and kinds != {MediaKind.TEXT}:
                    wrong.append(f"succeeded, but no result files extracted: {payload}")
                elif dropped := _dropped_files(payload, results.assets):
                    wrong.append(f"succeeded, but files left out: {dropped} of {payload}")
        assert not wrong, "\n".join(wrong)

    def test_documented_progress_is_read_on_its_scale(self) -> None:
        """A documented status given with the progress it means, ``(payload, State, 0.45)``,
        reads as that fraction: KIE's 45 of 0–100 read as 0–1 would show a task all but done.
        When the entry points declare the ``progress`` capability, one pending status must be
        documented so, strictly between 0 and 1, which pins the family's scale."""
        given = [entry for entry in self.documented_statuses if len(entry) > 2]
        pending = [e for e in given if e[1] not in (State.SUCCEEDED, State.FAILED)]
        if self._declares_progress():
            assert any(0 < e[2] < 1 for e in pending), (
                "the entry points declare the progress capability: give a pending documented "
                "status the progress it means, (payload, State.RUNNING, 0.45) for KIE's 45 of "
                "0-100, so that the scale it is read on can be checked"
            )
        wrong = []
        for payload, _, meant in given:
            read = self.provider.parse_status(TASK_ID, copy.deepcopy(payload)).progress
            if read is None or abs(read - meant) > PROGRESS_TOLERANCE:
                wrong.append(f"progress {meant} expected, read {read}: {payload}")
        assert not wrong, "progress read on another scale:\n" + "\n".join(wrong)

    def _declares_progress(self) -> bool:
        """Whether this provider's entry points tag one of its models ``progress`` (only
        read when installed: ``check_entry_points``)."""
        if not self.check_entry_points:
            return False
        ours = {model.id for model in self.provider.models}
        return any("progress" in i.capabilities for i in installed() if i.model in ours)

    def test_undocumented_values_never_change_the_state(self) -> None:
        """An unknown value in any one field of a documented payload raises ProtocolError or
        leaves the state as it was: it is never read as some other state, such as a silent
        "still running" (the bug that once polled a moderated KIE task forever)."""
        wrong = []
        for payload, *_ in self.documented_statuses:
            before = self.provider.parse_status(TASK_ID, copy.deepcopy(payload)).state
            for path, probe in _probes(payload):
                try:
                    after = self.provider.parse_status(TASK_ID, _replace(payload, path, probe))
                except ProtocolError:
                    continue
                if after.state is not before:
                    where = ".".join(path)
                    wrong.append(f"{where}={probe!r} turned {before.name} into {after.state.name}")
        assert not wrong, "undocumented values read as states:\n" + "\n".join(sorted(wrong))

    def test_undocumented_values_raise_only_protocol_error(self) -> None:
        """An unknown value in any one field of a documented payload makes ``parse_status`` and
        ``extract_results`` return or raise ProtocolError, nothing else (swept, not sampled)."""
        wrong = []
        for payload, *_ in self.documented_statuses:
            for path, probe in _probes(payload):
                changed = _replace(payload, path, probe)
                for read in (self.provider.parse_status, self.provider.extract_results):
                    try:
                        read(TASK_ID, copy.deepcopy(changed))
                    except ProtocolError:
                        pass
                    except Exception as exc:  # reported below, with the payload that did it
                        where = ".".join(path)
                        wrong.append(
                            f"{read.__name__} with {where}={probe!r}: {type(exc).__name__}: {exc}"
                        )
        assert not wrong, "errors other than ProtocolError escaped:\n" + "\n".join(wrong)

    def test_odd_payloads_raise_only_protocol_error(self) -> None:
        """Property: ``parse_created``, ``parse_status`` and ``extract_results`` on any JSON, or
        on documented payloads with fuzzed values, return a value or raise ProtocolError;
        nothing else escapes (no KeyError, TypeError, or another kiekit error). A follow-up
        whose "create" reads its parent's record (Veo's 1080P) may refuse that parent at
        ``parse_created`` with ParentTaskError (a typed refusal, nothing was made)."""
        provider = self.provider
        documented = [entry[0] for entry in self.documented_statuses]
        shaped = [like(p) for p in documented] + [one_field_changed(p) for p in documented]
        payloads = st.one_of(json_values(), *shaped)

        @self._settings(pure=True)
        @given(payload=payloads)
        def only_protocol_errors(payload: Any) -> None:
            for read in (provider.parse_status, provider.extract_results):
                try:
                    value = read(TASK_ID, copy.deepcopy(payload))
                except ProtocolError:
                    continue
                except KieError as exc:
                    raise AssertionError(
                        f"{read.__name__} raised {type(exc).__name__}, not ProtocolError: {exc}"
                    ) from exc
                assert isinstance(value, (TaskStatus, Results)), value
                assert value.task_id == TASK_ID
            try:
                created = provider.parse_created(copy.deepcopy(payload))
            except (ProtocolError, ParentTaskError):  # a follow-up's parent it cannot build on
                return
            assert isinstance(created, str)
            assert created

        only_protocol_errors()

    def test_callback_task_id_reads_any_json_or_returns_none(self) -> None:
        """Property: ``callback_task_id`` on any callback body (any JSON object, KIE's envelope
        around any ``data``) returns a task id or None, or raises CallbackError; nothing else
        escapes. It reads untrusted input, as ``parse_status`` does: a KeyError there made the
        webhook receiver answer 500 and hid the callback from the other providers (KIE does
        not resend it, kie-api.md §6.1)."""
        provider = self.provider
        envelope = st.fixed_dictionaries(
            {"code": st.just(200), "msg": st.just("success"), "data": json_values()}
        )
        objects = json_values().filter(lambda value: isinstance(value, dict))
        nested = st.fixed_dictionaries(
            {"code": st.just(200), "data": st.fixed_dictionaries({"job": json_values()})}
        )

        @self._settings(pure=True)
        @given(payload=st.one_of(envelope, objects, nested))
        def returns_an_id_or_none(payload: dict[str, Any]) -> None:
            try:
                found = provider.callback_task_id(copy.deepcopy(payload))
            except CallbackError:
                return
            except Exception as exc:
                raise AssertionError(
                    f"{type(provider).__name__}.callback_task_id raised {type(exc).__name__} "
                    f"on {payload!r:.200}: return None for a body it cannot read"
                ) from exc
            assert found is None or isinstance(found, str), found

        returns_an_id_or_none()

    def test_pure_hooks_do_no_io(self) -> None:
        """``build_request``, ``status_request``, ``parse_status``, ``extract_results`` and
        ``callback_task_id`` are pure (DESIGN.md rule 3: a plugin does no I/O; the clients
        do): run with every socket connect and name lookup, and every file opened outside the
        temporary folder, made to fail, none is tried."""
        tried: list[str] = []
        documented = [entry[0] for entry in self.documented_statuses]
        # made first: an input may name a task example_input makes on the mock (an extend's)
        inputs = [(model, self.example_input(model)) for model in self.contract_models()]
        with _no_io(tried):
            for model, params in inputs:
                try:
                    self.provider.build_request(model.id, params, callback_url=CALLBACK_URL)
                except Exception as exc:  # what was tried is the finding; said below
                    tried.append(f"(build_request of {model.id} raised {exc!r})")
            self.provider.status_request(TASK_ID)
            for payload in documented:
                for read in (self.provider.parse_status, self.provider.extract_results):
                    try:
                        read(TASK_ID, copy.deepcopy(payload))
                    except Exception as exc:
                        tried.append(f"({read.__name__} raised {exc!r})")
                with contextlib.suppress(Exception):
                    self.provider.callback_task_id({"code": 200, "data": copy.deepcopy(payload)})
        io = [what for what in tried if not what.startswith("(")]
        assert not io, "a pure hook did I/O:\n" + "\n".join(tried)


def _submitted(kie: Any, model: Model, params: Input) -> Task:
    """The task ``kie`` makes of ``params`` on the mock, for a test of what comes after the
    create. A create the mock refuses (KIE's 4xx) skips it: the request is to blame, and
    ``test_valid_inputs_are_accepted_by_the_mock`` fails, saying why; an answer kiekit cannot
    read (``parse_created``: ProtocolError) fails it."""
    try:
        task: Task = kie.submit(model.id, params)
    except ApiError as exc:
        reason = f"the mock refused the example input's create ({exc})"
        pytest.skip(f"{reason}: see test_valid_inputs_are_accepted_by_the_mock")
    return task


def _check_fail_message(said: str | None, raw: Any) -> None:
    """A failed task's message is KIE's, as sent (README: TaskFailedError carries
    ``fail_code`` and ``fail_message`` as KIE sent them): when the status names one (a text
    under a key such as ``failMsg``, ``failReason``, ``errorMessage``), the provider keeps it."""
    sent = set(_messages(raw))
    assert not sent or said in sent, (
        f"the failure message KIE sent ({' or '.join(map(repr, sorted(sent)))}) was not kept: "
        f"TaskStatus.fail_message is {said!r}"
    )


_MESSAGE_KEYS = ("msg", "message", "reason")


def _messages(value: Any) -> Iterator[str]:
    """The texts under message-like keys anywhere in a status payload."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(inner, str) and inner.strip():
                if any(word in str(key).lower() for word in _MESSAGE_KEYS):
                    yield inner
            else:
                yield from _messages(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _messages(inner)


@contextlib.contextmanager
def _no_io(tried: list[str]) -> Iterator[None]:
    """Sockets that refuse to connect or look a name up, and ``open`` that refuses a file
    outside the temporary folder, each attempt added to ``tried`` (a plugin that catches the
    error is still caught); restored on the way out."""
    import builtins
    import io
    import socket
    import tempfile

    temp = os.path.realpath(tempfile.gettempdir())

    def refuse(what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            where = next((a for a in args if not isinstance(a, socket.socket)), "")
            tried.append(f"{what}({where!r})")
            raise AssertionError(f"a pure hook tried I/O: {what}({where!r})")

        return refused

    real_open = builtins.open

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(file))
            if not path.startswith(temp + os.sep):
                tried.append(f"open({os.fsdecode(file)!r})")
                raise AssertionError(f"a pure hook tried I/O: open({os.fsdecode(file)!r})")
        return real_open(file, *args, **kwargs)

    patches: list[tuple[Any, str, Any]] = [
        (socket.socket, "connect", refuse("socket.connect")),
        (socket.socket, "connect_ex", refuse("socket.connect_ex")),
        (socket.socket, "sendto", refuse("socket.sendto")),
        (socket, "getaddrinfo", refuse("socket.getaddrinfo")),
        (socket, "create_connection", refuse("socket.create_connection")),
        (builtins, "open", guarded_open),
        (io, "open", guarded_open),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _is_open(model: Model) -> bool:
    return isinstance(model.input, type) and issubclass(model.input, OpenInput)


def _outside(field: InputField, base: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Inputs (``base`` changed in the one field) outside what ``field`` documents: a word
    none of its choices, a number past a bound, text or a list past its length, the field
    left out when it is required."""
    if field.required and field.name in base:
        yield {k: v for k, v in base.items() if k != field.name}
    if field.choices and all(isinstance(c, str) for c in field.choices):
        yield {**base, field.name: "kiekit-contract-none-of-these"}
    if field.kind in ("integer", "number"):
        if field.maximum is not None:
            yield {**base, field.name: field.maximum + 1}
        if field.minimum is not None:
            yield {**base, field.name: field.minimum - 1}
    if field.max_length is not None and field.kind == "string" and not field.choices:
        yield {**base, field.name: "x" * (field.max_length + 1)}
    if field.max_length is not None and field.kind == "urls":
        urls = [f"https://example.com/{i}.png" for i in range(field.max_length + 1)]
        yield {**base, field.name: urls}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=False)


def _sent_as_given(body: Any, values: Mapping[str, Any]) -> bool:
    """Whether a request body carries a free-form input exactly, JSON type for JSON type: as
    the body itself, as an object nested in it (the market ``input``), or with every field at
    the top level (the legacy families' shape). A field given None may be left out: None is
    "not given" (kiekit-market drops it, as typed inputs do), or sent as null."""
    given = {key: value for key, value in values.items() if value is not None}
    return _carries(body, values) or (given != values and _carries(body, given))


def _carries(body: Any, values: Mapping[str, Any]) -> bool:
    if not isinstance(body, Mapping):
        return False
    wanted = _canonical(values)
    if _canonical(body) == wanted:
        return True
    if all(k in body and _canonical(body[k]) == _canonical(v) for k, v in values.items()):
        return True
    return any(_carries(item, values) for item in body.values())


def _defaults_unsaid(cls: type[Input]) -> list[str]:
    """Fields whose ``default=`` (what mypy and pyright read, kiekit.fields.Input) says the
    opposite of their spec: an optional field that does not write one looks required to them,
    a required one that does looks optional, and an input without it type-checks."""
    found = []
    for attribute in attrs.fields(cls):
        spec = spec_of(attribute)
        if spec is None:
            continue
        optional = attribute.default is not attrs.NOTHING
        if optional and not default_written(attribute):
            found.append(
                f"{cls.__name__}.{attribute.name} is optional but its field maker says no "
                f"default=, so type checkers take it for required: write default=None"
            )
        elif not optional and default_written(attribute):
            found.append(
                f"{cls.__name__}.{attribute.name} is required but its field maker says a "
                f"default=, so type checkers take it for optional: drop the default"
            )
        if spec.kind == "items":
            found += _defaults_unsaid(entry_class(spec))
    return found


def _misleading_annotations(cls: type[Input]) -> list[str]:
    """Fields whose annotation says the opposite of their spec: ``str`` on a field that is
    optional (``url()``, ``urls()``, ``choice()`` … are optional unless ``required=True``,
    while ``text()`` is required) or ``| None`` on a required one. mypy cannot tell, as the
    field makers return Any, so a required URL written ``image_url: str = url(default=None)``
    would let an input without it reach KIE."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a name only imported for type checking: read the annotation's text
        hints = {a.name: a.type for a in attrs.fields(cls)}
    defaults = {a.name: a.default for a in attrs.fields(cls)}
    found = []
    for name, spec in input_specs(cls).items():
        hint = hints.get(name)
        if hint is None or hint is Any:
            continue
        takes_none = _admits_none(hint)
        if not spec.required and defaults[name] is None and not takes_none:
            found.append(
                f"{cls.__name__}.{name} is annotated {_shown(hint)} but its spec is optional "
                f"(None when left out): pass required=True to its field maker, or annotate "
                f"it `{_shown(hint)} | None`"
            )
        elif spec.required and takes_none:
            found.append(
                f"{cls.__name__}.{name} is annotated {_shown(hint)} but its spec is "
                "required (None is refused): drop `| None`, or pass required=False"
            )
    return found


def _admits_none(hint: Any) -> bool:
    if isinstance(hint, str):  # an annotation left as text
        return bool(re.search(r"\bNone\b|\bOptional\[|\bAny\b", hint))
    if hint is None or hint is type(None) or hint is Any:
        return True
    return any(_admits_none(arg) for arg in typing.get_args(hint))


def _shown(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return hint if isinstance(hint, str) else str(hint).replace("typing.", "")


def _ignored_fields(
    provider: Provider, model: Model, params: Input, built: Request, callback: str | None
) -> list[str]:
    """The optional fields ``params`` sets that ``build_request`` leaves out: the request is
    the same with the field unset (its default). The wire name and form are the provider's
    to choose (renamed, lifted to the top level, converted), so only the difference is asked
    for. Not asked of a value the request holds anyway (a provider that fills KIE's default
    in, and the input sets that default) nor of a flag set to False (KIE's default)."""
    ignored = []
    defaults = {a.name: a.default for a in attrs.fields(type(params))}
    for name, spec in input_specs(type(params)).items():
        value, default = getattr(params, name), defaults[name]
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = attrs.NOTHING  # made per object: no one value stands for "unset"
        if spec.required or value is False or value == default or default is attrs.NOTHING:
            continue
        try:
            without = attrs.evolve(params, **{name: default})  # the field left unset
        except ValidationError:
            continue  # a rule across fields needs it set: it cannot be left out to compare
        if provider.build_request(model.id, without, callback_url=callback) != built:
            continue
        if _holds(attrs.asdict(built), value):
            continue
        ignored.append(f"{name}={value!r}")
    return ignored


def _holds(document: Any, value: Any) -> bool:
    """Whether ``value`` (or, for a list, each of its items) is somewhere in ``document``,
    as itself or as its text."""
    if isinstance(value, (list, tuple)):
        return all(_holds(document, item) for item in value)
    # a flag is not a number: False == 0 in Python, and a request's own flags (same_task_again)
    # would hold every seed=0 a provider dropped
    if isinstance(document, bool) != isinstance(value, bool):
        return isinstance(document, str) and document == str(value)
    if document == value or (isinstance(document, str) and document == str(value)):
        return True
    if isinstance(document, Mapping):
        return any(_holds(item, value) for item in document.values())
    if isinstance(document, (list, tuple)):
        return any(_holds(item, value) for item in document)
    return False


def _url_slots(payload: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every http(s) URL in a payload, with its slot: the keys that lead to it, each list
    position written ``*`` (so the files of one list share a slot). Text holding a JSON
    document (the market's ``resultJson``) is read as that document."""
    if isinstance(payload, str):
        text = payload.strip()
        if text.startswith(("http://", "https://")):
            yield path, text
        elif text.startswith(("{", "[")):
            try:
                inner = json.loads(text)
            except ValueError:
                return
            yield from _url_slots(inner, path)
    elif isinstance(payload, Mapping):
        for key, value in payload.items():
            yield from _url_slots(value, (*path, str(key)))
    elif isinstance(payload, list):
        for item in payload:
            yield from _url_slots(item, (*path, "*"))


def _dropped_files(payload: Any, assets: Sequence[Asset]) -> list[str]:
    """URLs in a slot of ``payload`` that holds an extracted asset, which are not extracted
    themselves: the other files of the list a provider took some files from. A slot no
    asset comes from (a cover image, a preview, the input's URLs) asks for nothing, so a
    payload's other URLs raise no false alarm."""
    taken = {_without_query(item.url) for item in assets}
    slots: dict[tuple[str, ...], list[str]] = {}
    for slot, url in _url_slots(payload):
        slots.setdefault(slot, []).append(url)
    return [
        url
        for urls in slots.values()
        if taken & {_without_query(u) for u in urls}
        for url in urls
        if _without_query(url) not in taken
    ]


def _unextracted_urls(
    payload: Any, assets: Sequence[Asset], request: Any, left_out: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(slot, URL) of each URL in a succeeded task's status that no asset holds: not one the
    request carried (KIE echoes the input and the callBackUrl: ``param``, ``paramJson``,
    Luma's ``originUrls``), not in a slot ``left_out`` declares. The asset must hold the URL
    as given, query and all: Flux's ``originImageUrl`` is the result's file, signed apart."""
    taken = {item.url.strip() for item in assets}
    carried = {_without_query(url) for _, url in _url_slots(request)}
    found = []
    for path, url in _url_slots(payload):
        slot = ".".join(path)
        if url in taken or _without_query(url) in carried or slot in left_out:
            continue
        found.append((slot, url))
    return found


def _without_query(url: str) -> str:
    """A URL without its query: a fresh or signed link to a file names the same file."""
    return url.strip().partition("?")[0]


def _with_fail_marker(params: Input) -> tuple[Input, bool]:
    """``params`` with the mock's fail marker in its first required text field, if it has one
    that can hold it (a free-form input: its ``prompt``); else unchanged (the test then asks
    the mock to fail the task)."""
    marked = f"please fail {FAIL_MARKER}"
    if isinstance(params, OpenInput):
        if isinstance(params.values.get("prompt"), str):
            return attrs.evolve(params, values={**params.values, "prompt": marked}), True
        return params, False
    for name, spec in input_specs(type(params)).items():
        if spec.kind == "text" and spec.required:
            if spec.max_length is not None and spec.max_length < len(marked):
                break
            if spec.pattern is not None and not re.fullmatch(spec.pattern, marked):
                break
            return attrs.evolve(params, **{name: marked}), True
    return params, False


def _check_kind(item: Asset, model: Model) -> None:
    """The asset is of the model's kind and its media type says the same kind: an IMAGE
    asset served as video/mp4 is a model declared with the wrong output (its users get the
    MP4 saved as ``.bin``, the suffix policy refusing ``.mp4`` for an image)."""
    said = MediaKind.of_media_type(item.media_type)
    if item.role is AssetRole.EXTRA:  # a cover still of a video: its own kind, said right
        assert item.media_type is None or said in (item.kind, MediaKind.OTHER), (
            f"{model.id}: the extra asset is {item.kind.name} but its media type is "
            f"{item.media_type} ({item.url})"
        )
        return
    if model.output is None:  # the kind comes from the file's media type, which must be known
        assert item.media_type is not None, f"{item} has no media type"
        assert item.kind is said, f"{item} is not {said}, as its media type says"
        return
    assert item.kind is model.output, f"{item} is not {model.output}"
    assert item.media_type is None or said in (item.kind, MediaKind.OTHER), (
        f"{model.id}: the asset is {item.kind.name} but its media type is {item.media_type} "
        f"({item.url}): is the model's output declared right?"
    )


def _check_files_made(mock: MockServer, model: Model, final: TaskStatus, results: Results) -> None:
    """The files the mock made for the task and shows in its final status — of the kind its
    catalogue entry, its family or ``extra_market_models`` says, by their extension — are of
    the kind the provider gives them: a result of the model's own of the kind the provider
    declares the model makes, an extra one (``AssetRole.EXTRA``: a video's cover still, a
    family's ``TaskSpec.result_exts``) of its asset's kind. A file no asset holds is
    ``_check_every_file_extracted``'s to report. (Suno's MIDI shows its notes as data, not its
    files.)"""
    task = mock.task(results.task_id)
    slots = {_without_query(url): ".".join(path) for path, url in _url_slots(final.raw)}
    assets = {_without_query(item.url): item for item in results.assets}
    for index, url in enumerate(task.result_urls()):
        slot = slots.get(_without_query(url))
        if slot is None:
            continue
        ext = task.result_ext_at(index)
        kind = MediaKind.of_media_type(mimetypes.guess_type(f"file.{ext}")[0])
        item = assets.get(_without_query(url))
        if item is None:
            continue  # left out: _check_every_file_extracted names its slot
        if item.role is AssetRole.EXTRA:
            assert kind in (item.kind, MediaKind.OTHER), (
                f"{slot} ({url}): the mock makes a .{ext} file ({kind.name}) there, which the "
                f"provider returns as an extra {item.kind.name} asset: give it the kind of its "
                "file"
            )
            continue
        if model.output is None:
            continue
        assert kind in (model.output, MediaKind.OTHER), (
            f"the mock makes .{ext} files ({kind.name}) for {model.id}, which the provider "
            f"declares as making {model.output.name}: declare the model's output (and its "
            "entry point tag) as what KIE makes, or teach the mock the right kind; or, if "
            f"KIE hands it out beside the model's own (a cover still), return it as an "
            f"AssetRole.EXTRA asset of its kind ({slot}: {url})"
        )


def _check_bytes(data: bytes, item: Asset) -> None:
    assert data, f"{item.url} downloaded as an empty file"
    signature = _SIGNATURES.get(item.media_type or "")
    if signature is not None:
        offset, magic = signature
        assert data[offset : offset + len(magic)] == magic, (
            f"{item.url} is said to be {item.media_type} but starts {data[:12]!r}"
        )
    for media_type, (offset, magic) in _SIGNATURES.items():  # the bytes say what they are
        if data[offset : offset + len(magic)] == magic:
            kind = MediaKind.of_media_type(media_type)
            assert kind is item.kind, (
                f"{item.url} downloaded as {media_type} bytes, but the asset is {item.kind.name}"
            )


def _probes(payload: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, undocumented value) to try: each field of each object, at any depth."""
    if not isinstance(payload, Mapping) or len(path) > 3:
        return
    for key, value in payload.items():
        here = (*path, str(key))
        for probe in _PROBES:
            if probe != value or type(probe) is not type(value):
                yield here, probe
        yield from _probes(value, here)


def _replace(payload: Any, path: tuple[str, ...], value: Any) -> Any:
    copied = copy.deepcopy(payload)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def _says(message: str, wire: str) -> bool:
    """Whether KIE's message names the field ``wire`` (a word of it, not part of a longer one)."""
    return re.search(rf"(?<![\w]){re.escape(wire)}(?![\w])", message) is not None


def _find_key(body: Any, key: str, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path to ``key`` in a request body (at the top, or in an object such as the
    market's ``input``); where it is absent, the object that holds the other input fields."""
    if not isinstance(body, Mapping):
        return None
    if key in body:
        return (*path, key)
    for inner, value in body.items():
        found = _find_key(value, key, (*path, str(inner)))
        if found is not None:
            return found
    return None


def _added_keys(before: Any, after: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of the keys ``after`` has and ``before`` has not (objects within objects
    followed), in ``after``'s order."""
    if not isinstance(after, Mapping):
        return []
    added: list[tuple[str, ...]] = []
    for key, value in after.items():
        if not isinstance(before, Mapping) or key not in before:
            added.append((*path, str(key)))
        else:
            added += _added_keys(before[key], value, (*path, str(key)))
    return added


def _lookup(body: Any, slot: tuple[str, ...]) -> Any:
    for key in slot:
        body = body.get(key) if isinstance(body, Mapping) else None
    return body


def _put(body: Any, slot: tuple[Any, ...], value: Any) -> None:
    for key in slot[:-1]:
        body = body[key]
    if value is None:
        body.pop(slot[-1], None)
    else:
        body[slot[-1]] = value


def _as_wire(value: Any, camel_case: bool) -> Any:
    """An edge value as JSON: an entry of a list of objects in the family's spelling."""
    if isinstance(value, Input):
        return input_to_wire(value, camel_case=camel_case)
    if isinstance(value, (list, tuple)):
        return [_as_wire(item, camel_case) for item in value]
    return value


def _with_value_at(
    built: Request, slot: tuple[Any, ...], value: Any, default: Any, camel_case: bool
) -> Request:
    """``built`` with ``value`` at a wire slot of its body (keys, and a list position for an
    entry's field), in the family's spelling: what KIE would get were the value sent as given.
    None is "not given": left out, or for a field with a default, the default the provider
    sent."""
    raw = copy.deepcopy(built.body)
    if value is not None:
        _put(raw, slot, _as_wire(value, camel_case))
    elif default in (None, attrs.NOTHING):
        _put(raw, slot, None)  # left out
    return attrs.evolve(built, body=raw)


def _refusal(kie: Any, request: Request) -> str | None:
    """The mock's 422 (or 404: what an id names is not there) message for ``request``, or
    None if it created the task. Any other answer is no verdict on the input, and fails the
    test as it is."""
    try:
        kie.call(request)
    except ApiError as exc:
        if exc.code not in (404, 422):
            raise
        return exc.message
    return None
