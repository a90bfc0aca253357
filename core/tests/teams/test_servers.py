"""The real servers the team tests run on start and answer (a broken fixture fails here first)."""

from __future__ import annotations

import psycopg
import redis


def test_redis_answers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True
    client.set("kiekit:test:servers", "up")
    assert client.get("kiekit:test:servers") == b"up"


def test_postgres_answers(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT current_database(), current_user").fetchone()
    assert row == ("kiekit", "kiekit")
