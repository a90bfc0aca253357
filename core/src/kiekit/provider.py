"""The Provider contract: pure translation between typed values and one KIE product line's wire.

A provider never does I/O (DESIGN.md rule 3). The clients send what :meth:`build_request`
describes, check KIE's envelope once for every family, and hand the envelope's ``data`` to
:meth:`parse_status` and :meth:`extract_results`.

Most plugins do not subclass :class:`Provider` directly but one of the family bases in
:mod:`kiekit.families`, which hold each API family's shared wire logic once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, ClassVar

from attrs import evolve

from kiekit.errors import KieError, ProtocolError, UnknownModelError, ValidationError
from kiekit.fields import Input, InputField, OpenInput, describe, make_input
from kiekit.models import Model, Request, Results, TaskStatus
from kiekit.ratelimit import Rate

__all__ = ["Provider"]


class Provider(ABC):
    """One KIE product line (an API family member): the models it owns and how to speak to them.

    Subclasses set ``name`` and ``models`` and implement the four wire operations.
    """

    name: ClassVar[str]
    models: ClassVar[tuple[Model, ...]]
    camel_case: ClassVar[bool] = False  # the family's wire spelling of input field names
    # The family's documented limit on status polls of one task, kept by the clients' rate
    # limiter (4o Image and Suno record-info: Rate(3, 1.0), kie-api.md §8); None: no such limit.
    status_rate_per_task: ClassVar[Rate | None] = None
    # Input fields that name the earlier task a create builds on (parent_task_id)
    parent_task_fields: ClassVar[tuple[str, ...]] = ("task_id",)

    def find(self, model_id: str) -> Model | None:
        """The model ``model_id`` names, if this provider serves it (patterns included)."""
        for model in self.models:
            if model.id == model_id:
                return model
        for model in self.models:
            if "*" in model.id and fnmatchcase(model_id, model.id):
                return evolve(model, id=model_id)
        return None

    def known_models(self) -> tuple[str, ...]:
        """Model ids this provider knows by name beyond ``models`` (a catalogue behind a
        pattern), used to suggest the closest id for a mistyped one; empty: no such list."""
        return ()

    def input_fields(self, model_id: str) -> tuple[InputField, ...]:
        """The model's input fields as KIE documents them (``kie models MODEL``, and which
        fields ``kie run --image`` may fill). By default read from the model's input class;
        a provider whose input is free-form (an :class:`~kiekit.fields.OpenInput`) but that
        knows the fields another way (a catalogue) says so here; empty: not known."""
        return describe(self.model(model_id).input, camel_case=self.camel_case)

    def model(self, model_id: str) -> Model:
        found = self.find(model_id)
        if found is None:
            raise UnknownModelError(model_id, [m.id for m in self.models])
        return found

    def checked_model(self, model_id: str, params: Input) -> Model:
        """The model, once ``params`` is proved to be its input class (a ValidationError
        otherwise): what every ``build_request`` checks first, so no body is built from
        another model's input."""
        model = self.model(model_id)
        if not isinstance(params, model.input):
            raise ValidationError(
                "input", f"{model_id} takes {model.input.__name__}, not {type(params).__name__}"
            )
        return model

    def make_input(
        self,
        model_id: str,
        values: Input | Mapping[str, Any] | None = None,
        *,
        from_text: bool = False,
        **fields: Any,
    ) -> Input:
        """The model's input object, from an instance, a mapping or keyword arguments.

        Raises ValidationError naming the field, before anything is sent. ``from_text`` reads
        string values as the command line gives them (``"true"``, ``"5"``).
        """
        cls = self.model(model_id).input
        if isinstance(values, Input):
            if fields:
                raise ValidationError(
                    next(iter(fields)), "give an input object or fields, not both"
                )
            if not isinstance(values, cls):
                raise ValidationError(
                    "input", f"{model_id} takes {cls.__name__}, not {type(values).__name__}"
                )
            return values
        if values is not None and not isinstance(values, Mapping):
            raise ValidationError(
                "input", f"give an input object or a mapping, not {type(values).__name__}"
            )
        # With from_text only the mapping is command-line text; keyword fields are typed.
        return make_input(
            cls, values or {}, from_text=from_text, camel_case=self.camel_case, typed=fields
        )

    @abstractmethod
    def build_request(
        self, model_id: str, params: Input, *, callback_url: str | None = None
    ) -> Request:
        """The create call for a validated input."""

    def parent_task_id(self, model_id: str, params: Input) -> str | None:
        """The earlier task a create of ``params`` builds on (an extend's, a 4K's, an upscale's),
        which its refusal names (``KieError.parent_task_id``: no task was made, yet a chain of
        clips must know which parent was refused); None when it builds on none. By default the
        first of ``parent_task_fields`` the input sets (an OpenInput's values too)."""
        values = params.values if isinstance(params, OpenInput) else None
        for name in self.parent_task_fields:
            named = values.get(name) if values is not None else getattr(params, name, None)
            if isinstance(named, str) and named.strip():
                return named
        return None

    @abstractmethod
    def status_request(self, task_id: str) -> Request:
        """The call that reports a task's status (and, for every family, its results)."""

    def parse_created(self, data: Any) -> str:
        """The task id from the create call's ``data``: ``{"taskId": …}`` in every family."""
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProtocolError("create answer carries no taskId", payload=data)
        return task_id

    @abstractmethod
    def parse_status(self, task_id: str, data: Any) -> TaskStatus:
        """Map the family's status vocabulary onto :class:`~kiekit.models.State`.

        An unknown status value raises ProtocolError, never a silent "still running".
        """

    @abstractmethod
    def extract_results(self, task_id: str, data: Any) -> Results:
        """Typed assets from a succeeded task's status ``data``."""

    def status_of_refusal(self, task_id: str, error: KieError) -> TaskStatus | None:
        """What a status call refused with ``error`` (a non-200 body code) says of the task,
        for a family whose status call answers "not ready yet" that way (Veo's 1080P: body
        code 400 "1080P is processing", kie-api.md §3.3): a status, or None for an error (the
        default). Pure: the error is the client's reading of KIE's envelope."""
        return None

    def parent_status_model(self, model_id: str, error: KieError) -> str | None:
        """The model id whose status call reads the earlier task a create of ``model_id``
        names (``parent_task_id``), when KIE's refusal ``error`` of that create may not say
        why (Suno's WAV of a song still running and of a failed one: the same 422, kie-api.md
        §3.6): the clients then read that task once, after the refusal, and ask
        :meth:`refused_by_parent`. None (the default, and for a refusal the parent cannot
        explain: 402, 429 …): KIE's refusal is raised as it came, nothing more is sent."""
        return None

    def refused_by_parent(
        self, model_id: str, request: Request, error: KieError, parent: TaskStatus | None
    ) -> KieError:
        """The error to raise for KIE's refusal ``error`` of the follow-up ``request``, told
        by its parent's status (``parent``; None when KIE has no record of it): e.g. a
        :class:`~kiekit.errors.ParentNotFinishedError` for a parent still running. By default
        ``error`` itself. Pure, like the rest: the clients made the status call."""
        return error

    def made_request(self, model_id: str, body: Mapping[str, Any]) -> bool:
        """Whether a create body a journal recorded for ``model_id`` (the JSON body as sent)
        is one this provider could have made: asked only of a provider that serves the id
        through a pattern (kiekit-market's ``*``), so that a task of an uninstalled family is
        not polled as one of its own. True unless a family can tell."""
        return True

    def callback_task_id(self, payload: Mapping[str, Any]) -> str | None:
        """The task id in a callback body (the whole JSON object KIE POSTs) of this family,
        when it is none of the places kiekit reads (``data.taskId``, ``data.task_id``,
        top-level ``taskId``: kie-api.md §6.2) — say ``data.job.id``; None when it is not
        there. :func:`~kiekit.webhooks.parse_callback` and the ``WebhookReceiver`` ask the
        providers they are given. Pure, like the rest: no I/O."""
        return None
