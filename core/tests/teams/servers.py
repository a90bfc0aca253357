"""Real Redis and PostgreSQL servers on loopback, started for tests and benchmarks.

tools/services.py installs them from Debian's packages; each starts here in about a second, in a
throwaway folder, on a free port of 127.0.0.1, and is stopped (and its folder removed) on exit.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user that
Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path


class ServerMissing(RuntimeError):
    """The server's program is not installed (run ``python3 tools/services.py install``)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ExitedWhileStarting(RuntimeError):
    pass


def _listening(
    start: Callable[[int], subprocess.Popen[bytes]], what: str
) -> tuple[subprocess.Popen[bytes], int]:
    """A server started by ``start(port)`` on a free port, listening. The port is free when
    picked, not when the server binds it: another test may take it in between, and the server
    then exits while starting; it is started again on another port (three tries)."""
    for attempt in range(3):
        port = free_port()
        process = start(port)
        try:
            _wait_for_port(port, process, what)
            return process, port
        except _ExitedWhileStarting:
            if attempt == 2:
                raise
        except BaseException:
            _stop(process)
            raise
    raise AssertionError("unreachable")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _ExitedWhileStarting(
                f"{what} exited with status {process.returncode} while starting"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 30 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A fresh Redis on loopback, no persistence; yields its ``redis://`` URL."""
    program = shutil.which("redis-server")
    if program is None:
        raise ServerMissing("redis-server is not installed: python3 tools/services.py install")
    with tempfile.TemporaryDirectory(prefix="kiekit-redis-") as folder:

        def start(port: int) -> subprocess.Popen[bytes]:
            return subprocess.Popen(  # noqa: S603 (our own argv)
                [program, "--port", str(port), *options], stdout=subprocess.DEVNULL
            )

        options = [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
            "--loglevel",
            "warning",
        ]
        process, port = _listening(start, "redis-server")
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServerMissing(
            f"PostgreSQL's {name} is not installed: python3 tools/services.py install"
        )
    return found[-1]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on loopback (trust authentication, no fsync: a test
    database); yields its ``postgresql://`` URL for the database ``kiekit``."""
    initdb, postgres = _postgres_bin("initdb"), _postgres_bin("postgres")
    as_postgres: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="kiekit-pg-"))
    try:
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            as_postgres = ["runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres")
        data = folder / "data"
        subprocess.run(  # noqa: S603 (our own argv)
            [
                *as_postgres,
                initdb,
                "-D",
                str(data),
                "-U",
                "kiekit",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )

        def start(port: int) -> subprocess.Popen[bytes]:
            command = [*as_postgres, postgres, "-D", str(data), "-p", str(port), *options]
            return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603

        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={folder}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]
        process, port = _listening(start, "postgres")
        try:
            _create_database(port, process)
            yield f"postgresql://kiekit@127.0.0.1:{port}/kiekit"
        finally:
            _stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _create_database(port: int, process: subprocess.Popen[bytes]) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:  # the port opens a moment before the server accepts logins
        try:
            with psycopg.connect(
                f"postgresql://kiekit@127.0.0.1:{port}/postgres", autocommit=True
            ) as connection:
                connection.execute("CREATE DATABASE kiekit")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.05)
