"""``gitsm serve`` on the wire: raw AWS JSON 1.1 requests, malformed ones, and the decoder.

Malformed requests (bad JSON, wrong types, unknown targets, oversize bodies, garbage bytes,
truncated HTTP) each get an AWS-shaped 4xx, or a closed connection for HTTP that does not parse,
and the server keeps serving.
"""

from __future__ import annotations

import base64
import json
import random
import socket
from collections.abc import Iterator

import pytest

from gitsm.serve import wire
from gitsm.serve.caller import EndpointError
from tests.serving import Served, kill_quietly, make_store, raw, request


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    repo, home = make_store(tmp_path_factory.mktemp("serve-wire"))
    server = Served(repo, home, "--test-reset", "--port", "0")
    server.client().create_secret(Name="wire/a", SecretString="wire-value")
    yield server
    kill_quietly(server.proc)


def split(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and body of one HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_a_raw_request_and_its_answer(served: Served) -> None:
    status, headers, body = split(raw(served.port, request(
        "secretsmanager.GetSecretValue", b'{"SecretId": "wire/a", "Unknown": 1}',
        "Connection: close\r\n")))  # fmt: skip
    assert status == 200
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["date"].endswith(" GMT")
    data = json.loads(body)
    assert data["SecretString"] == "wire-value"
    assert isinstance(data["CreatedDate"], float)


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("secretsmanager.GetSecretValue", b"{not json", "SerializationException"),
        ("secretsmanager.GetSecretValue", b"[1, 2]", "SerializationException"),
        ("secretsmanager.GetSecretValue", b'{"SecretId": 5}', "SerializationException"),
        ("secretsmanager.GetSecretValue", b"{}", "ValidationException"),
        ("secretsmanager.CreateSecret", b'{"Name": "x", "SecretBinary": "%%%"}',
         "SerializationException"),
        ("secretsmanager.ListSecrets", b'{"MaxResults": "5"}', "SerializationException"),
        ("secretsmanager.ListSecrets", b'{"MaxResults": true}', "SerializationException"),
        ("secretsmanager.Nope", b"{}", "UnknownOperationException"),
        ("kms.Decrypt", b"{}", "UnknownOperationException"),
        ("secretsmanager.DescribeSecret", b'{"SecretId": "a\\ud83d"}', "SerializationException"),
    ],
)  # fmt: skip
def test_malformed_operations_get_aws_errors(
    served: Served, target: str, body: bytes, code: str
) -> None:
    status, headers, answer = split(
        raw(served.port, request(target, body, "Connection: close\r\n"))
    )
    assert status == 400
    assert headers["x-amzn-errortype"] == code
    assert json.loads(answer)["__type"] == code


def test_missing_member_message_is_aws_s() -> None:
    with pytest.raises(EndpointError) as exc:
        wire.decode("UpdateSecretVersionStage", b'{"SecretId": "a"}')
    assert exc.value.message == (
        "1 validation error detected: Value null at 'versionStage' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_decode_reads_blobs_and_drops_unknown_members() -> None:
    body = json.dumps({"Name": "n", "SecretBinary": base64.b64encode(b"\x00\x01").decode(),
                       "Tags": [{"Key": "k", "Value": "v", "Extra": 1}], "Bogus": {}})  # fmt: skip
    assert wire.decode("CreateSecret", body.encode()) == {
        "Name": "n", "SecretBinary": b"\x00\x01", "Tags": [{"Key": "k", "Value": "v"}]}  # fmt: skip
    assert set(wire.OPERATIONS) == set(wire.apimodel.OPERATIONS)


def test_oversize_body_is_refused_and_closed(served: Served) -> None:
    declared = request("secretsmanager.GetSecretValue", b"x" * (wire.MAX_BODY + 1))
    head = declared[: declared.index(b"\r\n\r\n") + 4]  # refused on its Content-Length alone
    status, _, body = split(raw(served.port, head))
    assert status == 413
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"
    chunk = b"%x\r\n" % (wire.MAX_BODY // 2) + b"a" * (wire.MAX_BODY // 2) + b"\r\n"
    chunked = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: secretsmanager.ListSecrets\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 3)  # fmt: skip
    status, _, body = split(raw(served.port, chunked))  # refused as its body grows past the limit
    assert status == 413


def _malformed(rng: random.Random, i: int) -> tuple[bytes, bool]:
    """One malformed request, and whether it is still HTTP (an AWS-shaped answer is due)."""
    kind = i % 6
    if kind == 0:
        return request("secretsmanager.GetSecretValue", rng.randbytes(rng.randrange(1, 64))), True
    if kind == 1:
        body = json.dumps({"SecretId": rng.choice([1, True, [], {}, 2.5])}).encode()
        return request("secretsmanager.DescribeSecret", body), True
    if kind == 2:
        return request(f"secretsmanager.X{rng.randrange(10**6)}", b"{}"), True
    if kind == 3:
        return request("secretsmanager.ListSecrets", b'{"Filters": "no"}'), True
    if kind == 4:
        return rng.randbytes(rng.randrange(1, 200)) + b"\r\n\r\n", False
    full = request("secretsmanager.GetSecretValue", b'{"SecretId": "wire/a"}')
    return full[: rng.randrange(1, len(full) - 1)], False


def _storm(served: Served, count: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(count):
        data, is_http = _malformed(rng, i)
        answer = raw(served.port, data, timeout=2)
        if is_http:
            status, headers, body = split(answer)
            assert 400 <= status < 500, answer[:200]
            assert json.loads(body)["__type"] == headers["x-amzn-errortype"]
        elif answer:
            assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    # and it still serves
    assert served.client().get_secret_value(SecretId="wire/a")["SecretString"] == "wire-value"
    assert served.proc.poll() is None


def test_a_thousand_malformed_requests(served: Served, seed: int) -> None:
    _storm(served, 1000, seed)


@pytest.mark.slow
def test_many_malformed_requests(served: Served, seed: int) -> None:
    _storm(served, 20000, seed)


def test_a_refusal_comes_after_the_answers_before_it(served: Served) -> None:
    """A write (answered from a thread) pipelined before broken HTTP: its answer first, then the
    refusal, then the connection closes."""
    write = request("secretsmanager.CreateSecret", b'{"Name": "wire/order", "SecretString": "v"}')
    answer = raw(served.port, write + b"NOT HTTP AT ALL\r\n\r\n")
    statuses = [part[:3] for part in answer.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [b"200", b"400"]


def test_expect_100_continue(served: Served) -> None:
    body = b'{"SecretId": "wire/a"}'
    head = request("secretsmanager.GetSecretValue", b"", "Expect: 100-continue\r\n")
    head = head.replace(b"Content-Length: 0", b"Content-Length: %d" % len(body))
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        data = b""
        while b"wire-value" not in data:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK")


def test_keep_alive_and_pipelining(served: Served) -> None:
    one = request("secretsmanager.GetSecretValue", b'{"SecretId": "wire/a"}')
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(one * 5)  # pipelined: answered in order on one connection
        data = b""
        while data.count(b"wire-value") < 5:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 5
