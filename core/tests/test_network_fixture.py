"""The suite's own ``network`` fixture closes every connection, whatever state a test left it
in: a socket still open when the fixture's loop closes is an "unclosed transport" warning at
some later garbage collection, and that fails whichever test runs then (seen under load, where
a TLS front is often still in its handshake as the test ends)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest


def tls_client() -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    """A TLS 1.3 client over memory buffers, so the test says when each flight is sent."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return context.wrap_bio(incoming, outgoing, server_hostname="localhost"), incoming, outgoing


def handshake(tls: ssl.SSLObject) -> bool:
    """One step of the client's handshake: True once it is done."""
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def hung_up(client: socket.socket) -> bool:
    """Reads to the end: True once the other side is closed (an end of stream, or a reset)."""
    client.settimeout(10)  # bounds a failure only: a closed peer ends the read at once
    try:
        while client.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize("stage", ["the front's hello read", "our Finished sent"])
def test_the_fixture_closes_a_tls_front_connection_the_test_left_in_its_handshake(
    network: Any, stage: str
) -> None:
    """The client stops at a known point of the handshake, its socket still open, and the
    fixture is closed: the front has hung up. "Our Finished sent" waits for the front's session
    ticket, sent once it has read our Finished (RFC 8446 §4.6.1): its handshake is over, and the
    connection anywhere on its way to the handler (a TLS close there awaited our close_notify)."""
    with socket.create_server(("127.0.0.1", 0)) as upstream:  # its backlog holds the front's
        port = network.tls_front(upstream.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            tls, incoming, outgoing = tls_client()
            assert not handshake(tls)
            client.sendall(outgoing.read())  # ClientHello
            incoming.write(client.recv(65536))  # the front's first flight: it awaits ours
            if stage == "our Finished sent":
                while not handshake(tls):
                    incoming.write(client.recv(65536))
                client.sendall(outgoing.read())
                assert client.recv(65536)  # a session ticket
            network.close()
            assert hung_up(client)
