"""``make demo`` finds its ports as the servers bind them, and says where the sandbox went
when it had to move (issue 24 item 5)."""

from __future__ import annotations

import socket

import pytest

from example_project import demo


def _port_in_time_wait() -> int:
    """A port whose only trace is a server-side connection in TIME_WAIT (the server closed
    first, as the sandbox does after answering)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _addr = listener.accept()
    conn.close()  # the server closes first: its side goes to TIME_WAIT
    assert client.recv(1) == b""  # the client saw the close
    client.close()
    listener.close()
    return port


def test_a_port_in_time_wait_is_free_for_a_server() -> None:
    port = _port_in_time_wait()
    # Without SO_REUSEADDR the port looks busy: the check the demo made before.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))
    assert demo.port_is_free(port)


def test_a_port_someone_listens_on_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        assert not demo.port_is_free(busy.getsockname()[1])


def test_a_moved_sandbox_is_announced_with_the_export_line() -> None:
    url = "http://127.0.0.1:42077/API/v1.0/REST/"
    notice = demo.moved_notice(url, wanted=8765)
    assert "Port 8765 is taken" in notice and "port 42077" in notice
    assert f"\n    export SMSREST_BASE_URL={url}\n" in notice
    assert demo.moved_notice("http://127.0.0.1:8765/API/v1.0/REST/", wanted=8765) == ""
