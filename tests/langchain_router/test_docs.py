"""The python blocks of docs/langchain.md run in order and print what the page says."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

import pytest

from tests.doc_examples import no_network, run_doc_examples


# Creating a socket is allowed here (ChatOpenAI's constructor probes which TCP keepalive options
# the kernel accepts on a socket it never connects); no_network() refuses and records any name
# resolution or connection instead, so a docs example that tries the network fails this test.
@pytest.mark.enable_socket
def test_doc_examples_run_and_print_what_they_claim() -> None:
    """Each documented example runs offline and its shown output is the real output."""
    run_doc_examples("langchain.md", min_blocks=6)


def _guarded(example: Callable[[], None]) -> None:
    with no_network():
        example()


def _swallowed_connect() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe, contextlib.suppress(OSError):
        probe.connect(("127.0.0.1", 9))


def _swallowed_lookup() -> None:
    with contextlib.suppress(OSError):
        socket.create_connection(("localhost", 9), timeout=0.1)


def _swallowed_blocked_socket() -> None:
    with contextlib.suppress(RuntimeError):  # pytest_socket.SocketBlockedError
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


@pytest.mark.enable_socket
def test_a_swallowed_network_attempt_still_fails() -> None:
    """A connection or name lookup that the example's own code catches is still reported."""
    with pytest.raises(AssertionError, match=r"connecting to \('127.0.0.1', 9\)"):
        _guarded(_swallowed_connect)
    with pytest.raises(AssertionError, match="resolving 'localhost'"):
        _guarded(_swallowed_lookup)


def test_a_socket_blocked_by_pytest_socket_still_fails() -> None:
    """Without enable_socket, pytest-socket blocks the socket itself; a caught block fails too."""
    with pytest.raises(AssertionError, match="creating a socket"):
        _guarded(_swallowed_blocked_socket)


def test_no_network_leaves_sockets_as_they_were() -> None:
    """The guard restores socket.socket's methods (inherited, not copied) and name resolution."""
    before = (socket.getaddrinfo, vars(socket.socket).get("connect"))
    _guarded(lambda: None)
    assert (socket.getaddrinfo, vars(socket.socket).get("connect")) == before
