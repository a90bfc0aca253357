"""KIE's chat endpoints (kie-api.md §5): synchronous answers, no task id, server-sent events
when the body says ``stream: true``. Three wire shapes — OpenAI chat completions on per-model
paths (:mod:`.openai`), Anthropic messages (:mod:`.anthropic`), OpenAI responses
(:mod:`.responses`) — over one deterministic conversation (:mod:`.conversation`): the answer
echoes the last user message, each call is charged to the account, ``[mock:fail]`` in a
message makes it fail and ``[mock:drop]`` cuts a stream mid-way."""

from __future__ import annotations

from . import anthropic, openai, responses
from .conversation import DROP_MARKER

# Responses first: /api/v1/responses must not be taken for a per-model chat path.
ROUTE_TABLES = (responses.ROUTES, anthropic.ROUTES, openai.ROUTES)

__all__ = ["DROP_MARKER", "ROUTE_TABLES"]
