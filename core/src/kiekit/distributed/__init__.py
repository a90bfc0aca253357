"""Distributed batch on Celery (docs/teams.md): ``kie batch --celery`` hands each job to a
Celery worker, which runs it as a local batch would (:func:`kiekit.batch.run_job`).

The app is :mod:`kiekit.distributed.celery_app` (``celery -A kiekit.distributed.celery_app
worker``); it needs the ``kiekit[celery]`` extra. Nothing here imports Celery: this package is
importable without it, and ``import kiekit`` never loads it.
"""

from __future__ import annotations

from kiekit.distributed.settings import (
    BROKER_URL_ENV,
    DEFAULT_BROKER_URL,
    QUEUE_ENV,
    RESULT_BACKEND_ENV,
    VISIBILITY_TIMEOUT_ENV,
    CelerySettings,
)

__all__ = [
    "BROKER_URL_ENV",
    "DEFAULT_BROKER_URL",
    "QUEUE_ENV",
    "RESULT_BACKEND_ENV",
    "VISIBILITY_TIMEOUT_ENV",
    "CelerySettings",
]
