"""Deprecated: the old name of route_helpers.py, which collided with kiekit's own ``wire.py``
(KIE's JSON converter there). Kept only while families/market_models/ (being edited elsewhere)
imports ``is_http_url`` from here; nothing else may import it (tools/tests/test_repo.py)."""

from __future__ import annotations

from .route_helpers import is_http_url

__all__ = ["is_http_url"]
