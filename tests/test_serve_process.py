"""``gitsm serve`` as a process: shutdown, unix socket, test-mode reset, refusals at start, and
kill -9 in the middle of a stream of writes (no acknowledged write is lost)."""

from __future__ import annotations

import json
import random
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gitsm.cli.errors import UsageFailure
from gitsm.cli.serve_cmd import _bind
from tests.serving import Served, kill_quietly, make_store, raw, request, store_env


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def test_sigterm_answers_every_request_received(tmp_path: Path) -> None:
    """Writes pipelined on one connection: SIGTERM after the first answer; every request that
    was sent is answered and landed, then the connection closes and the server exits 0."""
    repo, home = make_store(tmp_path)
    server = Served(repo, home, "--test-reset", "--port", "0")
    count = 12
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(b"".join(
                request("secretsmanager.CreateSecret",
                        json.dumps({"Name": f"drain/s{i}", "SecretString": "x"}).encode())
                for i in range(count)))  # fmt: skip
            data = sock.recv(65536)
            server.proc.send_signal(signal.SIGTERM)
            while chunk := sock.recv(65536):
                data += chunk
        # the one SIGTERM above stops it: a second one, sent while the server tears down after
        # draining (its handlers gone), would end it by the signal, as it would any process
        code, said = server.stop(sig=None)
    finally:
        kill_quietly(server.proc)
    assert code == 0, said
    assert "Traceback" not in said
    assert data.count(b"HTTP/1.1 200 OK") == count
    assert data.count(b"Connection: close") == 1
    landed = set(git(repo, "log", "--format=%(trailers:key=Gitsm-Secret,valueonly)").split())
    assert {f"drain/s{i}" for i in range(count)} <= landed
    with pytest.raises(OSError):  # no longer listening
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_unix_socket(tmp_path: Path) -> None:
    repo, home = make_store(tmp_path)
    path = tmp_path / "gitsm.sock"
    server = Served(repo, home, "--test-reset", "--socket", str(path))
    try:
        assert server.url == f"unix:{path}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        body = b'{"Name": "sock/a", "SecretString": "over-a-socket"}'
        get = request("secretsmanager.GetSecretValue", b'{"SecretId": "sock/a"}')
        reset = b"POST /moto-api/reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            # a unix socket's peer is local: the reset is allowed (moto's suite sends it bare)
            sock.sendall(request("secretsmanager.CreateSecret", body) + get + reset + get)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        answers = data.split(b"HTTP/1.1 ")[1:]
        assert [a[:3] for a in answers] == [b"200", b"200", b"200", b"400"]
        assert b"over-a-socket" in answers[1]
        assert b'"status": "ok"' in answers[2]
        assert b"ResourceNotFoundException" in answers[3]
        code, _ = server.stop()
        assert code == 0
        assert not path.exists()
    finally:
        kill_quietly(server.proc)


def test_an_address_in_use_is_a_clear_failure(tmp_path: Path) -> None:
    repo, home = make_store(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        out = subprocess.run([sys.executable, "-m", "gitsm", "serve", "--repo", str(repo),
                              "--test-reset", "--port", port], env=store_env(home),
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 253
    assert f"Cannot listen on 127.0.0.1:{port}: address already in use" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("host", "port", "cert", "insecure", "test_reset", "words"),
    [
        ("0.0.0.0", "0", None, False, True, "loopback only"),
        ("0.0.0.0", "0", None, True, True, "loopback only"),
        ("192.0.2.1", "0", None, False, False, "--insecure"),
        ("127.0.0.1", "0", "x.pem", False, False, "go together"),
        ("127.0.0.1", "http", None, False, False, "not a port"),
        ("127.0.0.1", "65536", None, False, False, "not a port"),
    ],
)
def test_refusals_at_start(
    host: str, port: str, cert: str | None, insecure: bool, test_reset: bool, words: str
) -> None:
    with pytest.raises(UsageFailure) as exc:
        _bind(host, port, None, cert, None, insecure, test_reset)
    assert words in exc.value.message


def test_what_binds() -> None:
    assert _bind("::1", "0", None, None, None, False, True)["host"] == "::1"
    assert _bind("192.0.2.1", "8283", None, None, None, True, False)["port"] == 8283
    assert _bind("0.0.0.0", "0", "/tmp/x.sock", None, None, False, True)["socket"]


def _writer(server: Served, acked: list[str], stop: threading.Event, worker: int) -> None:
    sm = server.client()
    i = 0
    while not stop.is_set():
        name = f"crash/w{worker}-{i}"
        try:
            sm.create_secret(Name=name, SecretString=f"v{i}")
        except Exception:
            return  # the server is gone
        acked.append(name)
        i += 1


def _kill_during_writes(tmp_path: Path, writes: int, workers: int) -> None:
    repo, home = make_store(tmp_path)
    server = Served(repo, home, "--test-reset", "--port", "0")
    acked: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_writer, args=(server, acked, stop, w))
               for w in range(workers)]  # fmt: skip
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < writes and time.monotonic() < deadline:  # slow machines too
            time.sleep(0.01)
        time.sleep(random.random() / 20)  # at some point in the middle of a write
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        kill_quietly(server.proc)
    assert len(acked) >= writes, "too few writes to mean anything"
    log = git(repo, "log", "--format=%(trailers:key=Gitsm-Secret,valueonly)")
    landed = set(log.split())
    assert [name for name in acked if name not in landed] == []
    fsck = subprocess.run(["git", "--git-dir", str(repo), "fsck", "--no-dangling"],
                          capture_output=True, text=True)  # fmt: skip
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    _kill_during_writes(tmp_path, 20, 2)


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_write_long(tmp_path: Path) -> None:
    for round_ in range(5):
        _kill_during_writes(tmp_path / str(round_), 400, 4)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key (PEM files)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_tls(tmp_path: Path) -> None:
    repo, home = make_store(tmp_path)
    cert, key = _self_signed(tmp_path)
    server = Served(repo, home, "--test-reset", "--port", "0", "--tls-cert", str(cert),
                    "--tls-key", str(key))  # fmt: skip
    try:
        assert server.url.startswith("https://127.0.0.1:")
        import boto3

        sm = boto3.client("secretsmanager", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id="a", aws_secret_access_key="b", verify=str(cert))  # fmt: skip
        sm.create_secret(Name="tls/a", SecretString="over-tls")
        assert sm.get_secret_value(SecretId="tls/a")["SecretString"] == "over-tls"
        plain = raw(server.port, request("secretsmanager.ListSecrets", b"{}"))
        assert not plain.startswith(b"HTTP/1.1 200")  # plain HTTP is not served on a TLS port
    finally:
        kill_quietly(server.proc)
