"""The job-control channel under a flood (issue #10, defect 4).

Before: every connection got a thread, and a peer dripping one byte every 2 s kept its
thread (the hello timeout restarted at every byte), so 200 idle peers held 200 threads.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from waiting import wait_until

from scriptserver_ioc.job import _protocol as protocol
from scriptserver_ioc.runner import channel
from scriptserver_ioc.runner.channel import ChannelServer

SECRET = "s3cret"


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setattr(channel, "HELLO_TIMEOUT", 0.6)
    hellos: list[dict] = []

    def on_hello(connection, hello):
        hellos.append(hello)
        return {"type": protocol.WELCOME}, None

    srv = ChannelServer(tmp_path, SECRET, 0, on_hello)
    srv.hellos = hellos
    yield srv
    srv.close()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def hello(sock: socket.socket, **fields) -> dict:
    message = {"type": "hello", "secret": SECRET, "protocol": 1, "key": "k", **fields}
    sock.sendall(protocol.encode(message))
    return json.loads(sock.makefile("rb").readline())


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True once the server has closed `sock` (EOF or reset), within `timeout` s."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_GIVEN_200_idle_dripping_peers_WHEN_served_THEN_no_thread_each_and_capped(server):
    threads_before = threading.active_count()
    peers = [connect(server.port) for _ in range(200)]
    for _ in range(3):  # one byte each, a few times: no complete hello
        for peer in peers:
            try:
                peer.send(b"{")
            except OSError:
                pass
        time.sleep(0.1)
    assert threading.active_count() <= threads_before
    assert wait_until(lambda: server.refused + server.timed_out == 200, timeout=10)
    assert server.connections == 0
    assert server.most_pending == channel.MAX_PENDING
    assert server.refused >= 1 and server.timed_out >= channel.MAX_PENDING
    for peer in peers:
        peer.close()
    good = connect(server.port)
    assert hello(good)["type"] == "welcome"
    good.close()


def test_GIVEN_peer_dripping_a_byte_at_a_time_WHEN_deadline_passes_THEN_closed(server):
    peer = connect(server.port)
    stop = threading.Event()

    def drip() -> None:
        while not stop.is_set():
            try:
                peer.send(b" ")
            except OSError:
                return
            time.sleep(0.05)

    dripper = threading.Thread(target=drip)
    dripper.start()
    try:
        # closed although a byte came every 50 ms: the deadline does not restart at each
        # byte (if it did, the peer would be served for ever and this would time out)
        assert closed_by_peer(peer, timeout=30)
    finally:
        stop.set()
        dripper.join()
        peer.close()


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"secret": "wrong"}, "secret"),
        ({"protocol": 99}, "protocol 99"),
        ({"type": "line"}, "hello"),
    ],
)
def test_GIVEN_bad_hello_WHEN_sent_THEN_rejected_with_reason_and_closed(server, fields, words):
    peer = connect(server.port)
    reply = hello(peer, **fields)
    assert reply["type"] == "rejected" and words in reply["reason"]
    assert closed_by_peer(peer, timeout=5)
    assert not server.hellos


def test_GIVEN_welcomed_peer_WHEN_lines_sent_THEN_delivered_in_order_junk_skipped(server):
    received: list = []
    done = threading.Event()

    def on_hello(connection, hello):
        def handler(message):
            received.append(message)
            if message is None:
                done.set()

        return {"type": protocol.WELCOME}, lambda: connection.attach(handler)

    server._on_hello = on_hello
    peer = connect(server.port)
    assert hello(peer)["type"] == "welcome"
    peer.sendall(b'{"type": "line", "line": 1}\nnot json\n{"type": "progress", "percent": NaN}\n')
    peer.sendall(b'[1]\n{"type": "line", "line": 2}\n')
    peer.close()
    assert done.wait(5)
    assert received == [{"type": "line", "line": 1}, {"type": "line", "line": 2}, None]


def test_GIVEN_hello_longer_than_bound_WHEN_sent_THEN_closed(server):
    peer = connect(server.port)
    try:
        peer.sendall(b"x" * (protocol.MAX_HELLO + 10))
    except OSError:
        pass
    assert closed_by_peer(peer, timeout=5)
