#!/usr/bin/env python3
"""Bench: ``gitsm serve`` against ``moto_server`` (the same wire protocol), in the same run.

Prints figures, the peer's figures and ratios, the machine's load with each figure, and a
``[target]`` line per target of the serve issue; it asserts nothing.

    .venv/bin/python bench/bench_serve.py              # 10 s per wrk run
    .venv/bin/python bench/bench_serve.py --quick      # 2 s runs, fewer secrets and calls
    .venv/bin/python bench/bench_serve.py --writes-only  # the [write] rows alone (no wrk, moto)

Needs ``wrk`` (Debian: ``apt-get install wrk``); the script installs nothing and stops with that
advice when wrk is missing. Both servers run on 127.0.0.1 (tests/servekit.py): gitsm serve on a
fresh bare store in a temporary directory (its own GITSM_HOME, fsync off, access log to a file),
moto_server on a free port. Each server gets the same secrets through boto3.

What it measures, each on both servers:

- **wrk, hot**: GetSecretValue of one secret, keep-alive, 16 connections, SigV4-signed requests.
  The request is signed with botocore's SigV4Auth just before the run (a signature is good for
  5 minutes) and replayed as is by a generated wrk Lua script. Requests/s and p99 (wrk --latency).
- **wrk, cache cold**: GetSecretValue cycling over ``--secrets`` different secrets (one pre-signed
  request each) while a writer thread in this process puts a new value of another secret every
  ``1/--write-rate`` s over HTTP. gitsm serve caches answers per commit, so every write empties its
  cache; with about as many reads between two writes as there are secrets, nearly every read is a
  miss. The share of misses is counted from gitsm's access log and printed, so the figure says how
  cold it was. The same stream and writer run against moto_server, which caches nothing.
- **one boto3 client**: GetSecretValue in a loop for ``--loop-seconds``: calls/s.
- **writes**: PutSecretValue over HTTP against gitsm.client in this process on the same store (the
  library's rate), alternating one write each so that load drift hits both, fsync off and on. Two
  clients: requests signed before the clock starts and sent as they are on one keep-alive
  connection, as wrk sends the reads (the target is judged on this one: it is the server's rate),
  and boto3 (printed as a figure: each call also pays boto3's own building, signing and parsing,
  about 1.4 ms, which no server can save).

gitsm serve runs in normal mode: every request's SigV4 signature is checked against an access key
made for the run, and authorized by a server policy (``.gitsm/server.yaml``) committed to the
bench store; moto_server checks no signature.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import gitsm
from tests.servekit import REGION, Server, start_gitsm_signed, start_moto
from tests.serving import make_store

TARGET = "secretsmanager.GetSecretValue"
CONTENT_TYPE = "application/x-amz-json-1.1"
VALUE = '{"username":"app","password":"' + "p" * 48 + '"}'
SPREAD = 10
"""Writes go round this many secrets, so none reaches the quota of 200 versions (all younger
than 24 hours, none can be pruned): one secret would after 200 writes."""
TARGETS = {"hot": 8.0, "p99": 0.25, "cold": 3.0, "boto3": 2.0, "writes": 0.8}


def load() -> str:
    """The load average (1, 5, 15 minutes)."""
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def signed(server: Server, body: str, target: str = TARGET) -> dict[str, str]:
    """The headers of a request (GetSecretValue unless ``target`` says) with ``body``, signed now
    with SigV4 (botocore) with ``server``'s access key."""
    request = AWSRequest(method="POST", url=server.url + "/", data=body.encode(),
                         headers={"X-Amz-Target": target, "Content-Type": CONTENT_TYPE})  # fmt: skip
    credentials = Credentials(server.access_key, server.secret_key)
    SigV4Auth(credentials, "secretsmanager", REGION).add_auth(request)
    # botocore signs the Host header from the URL without adding it; wrk sends none of its own
    # when a script gives the headers, so it must be there for the signature to hold
    return {"Host": urlsplit(server.url).netloc} | {k: str(v) for k, v in request.headers.items()}


def check_request(url: str, body: str, headers: dict[str, str]) -> None:
    """Send one pre-signed request as wrk will, and check it answers the value."""
    request = urllib.request.Request(url + "/", data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        got = json.loads(answer.read())
    if got.get("SecretString") != VALUE:
        raise SystemExit(f"{url}: unexpected answer to the benchmark's request: {got}")


def lua(server: Server, names: list[str]) -> str:
    """A wrk script that sends a pre-signed GetSecretValue of each name in turn."""
    out = ["local reqs = {"]
    for name in names:
        body = json.dumps({"SecretId": name})
        headers = signed(server, body)
        if name == names[0]:
            check_request(server.url, body, headers)
        fields = ", ".join(f"[ [==[{k}]==] ] = [==[{v}]==]" for k, v in headers.items())
        out.append(f"  wrk.format('POST', '/', {{{fields}}}, [==[{body}]==]),")
    out += ["}", "local i, counter = 0, 0",  # each wrk thread starts at its own place
            "function setup(thread) thread:set('offset', counter * 7919); counter = counter + 1 end",
            "function init(args) i = (offset or 0) % #reqs end",
            "function request() i = i % #reqs + 1; return reqs[i] end"]  # fmt: skip
    return "\n".join(out) + "\n"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk(url: str, script: Path, seconds: float, connections: int) -> dict[str, float]:
    """Run wrk; requests/s, p50 and p99 (ms), and the count of non-2xx answers and errors."""
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
         url + "/"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    text = done.stdout

    def latency(pct: str) -> float:
        number, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M).groups()  # type: ignore[union-attr]
        return float(number) * _UNITS[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "p50": latency("50"), "p99": latency("99"),
        "bad": float(bad.group(1)) if bad else 0.0,
        "errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }  # fmt: skip


def show(label: str, kind: str, r: dict[str, float], extra: str = "") -> None:
    flags = f"  NON-2xx {r['bad']:.0f}" if r["bad"] else ""
    flags += f"  SOCKET ERRORS {r['errors']:.0f}" if r["errors"] else ""
    print(f"  [{label}] {kind:<6} {r['rps']:9.0f} req/s   p50 {r['p50']:7.2f} ms   "
          f"p99 {r['p99']:7.2f} ms{flags}{extra}   ({load()})", flush=True)  # fmt: skip
    if r["bad"]:  # a refused request is no measure of serving one: never report it as a rate
        raise SystemExit(f"{kind} answered {r['bad']:.0f} requests of the [{label}] run with a "
                         "status other than 2xx: the figures above do not count")  # fmt: skip


class Writer(threading.Thread):
    """PutSecretValue of the ``bench/writer/N`` secrets in turn, one every ``1/rate`` s over HTTP, until stopped."""

    def __init__(self, server: Server, rate: float) -> None:
        super().__init__(daemon=True)
        self.client, self.period, self.count = server.client(), 1.0 / rate, 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.period):
            self.client.put_secret_value(SecretId=f"bench/writer/{self.count % SPREAD}",
                                         SecretString=str(self.count))  # fmt: skip
            self.count += 1


def misses(log: Path, start: int) -> tuple[int, int]:
    """(cache misses, GetSecretValue answers) in gitsm's access log after byte ``start``."""
    with log.open("rb") as f:
        f.seek(start)
        lines = [json.loads(line) for line in f.read().splitlines() if line.strip()]
    gets = [e for e in lines if e.get("operation") == "GetSecretValue"]
    return sum(1 for e in gets if e.get("cache") == "miss"), len(gets)


def loop_rate(server: Server, seconds: float) -> float:
    """GetSecretValue calls/s of one boto3 client in a loop."""
    client, calls = server.client(), 0
    client.get_secret_value(SecretId="bench/hot")
    end = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        client.get_secret_value(SecretId="bench/hot")
        calls += 1
    return calls / (time.perf_counter() - start)


def write_rates(server: Server, writes: int, fsync: bool = False) -> tuple[float, float]:
    """(HTTP writes/s, library writes/s): PutSecretValue of the ``bench/write/N`` secrets of the
    server's store in turn,
    alternately through the server and through gitsm.client in this process (the same store, key
    ring and secret: only the path differs), one write each in turn so that load drift hits both
    alike; each rate is writes over the time its own writes took."""
    assert server.repo is not None and server.home is not None
    os.environ["GITSM_HOME"] = str(server.home)
    http = server.client()
    lib = gitsm.client(repo=server.repo, fsync=fsync)
    for n in range(SPREAD):
        if fsync:  # the same secrets, written before with fsync off
            break
        http.create_secret(Name=f"bench/write/{n}", SecretString="0")
    spent = {"http": 0.0, "lib": 0.0}
    for i in range(writes):
        for key, client in (("http", http), ("lib", lib))[:: 1 if i % 2 else -1]:
            start = time.perf_counter()
            client.put_secret_value(SecretId=f"bench/write/{i % SPREAD}",
                                    SecretString=f"{key}-{i}")  # fmt: skip
            spent[key] += time.perf_counter() - start
    return writes / spent["http"], writes / spent["lib"]


def raw_write_rates(server: Server, writes: int, fsync: bool = False) -> tuple[float, float]:
    """(HTTP writes/s, library writes/s) as :func:`write_rates`, but the HTTP writes are
    PutSecretValue requests signed before the clock starts and sent as they are on one keep-alive
    connection (as wrk sends the reads): the figure is the server's, without boto3's own cost of
    building, signing and parsing each call. Each answer is read and checked."""
    assert server.repo is not None and server.home is not None
    os.environ["GITSM_HOME"] = str(server.home)
    lib = gitsm.client(repo=server.repo, fsync=fsync)
    requests = []
    for i in range(writes):
        body = json.dumps({"SecretId": f"bench/write/{i % SPREAD}", "SecretString": f"raw-{i}",
                           "ClientRequestToken": str(uuid.uuid4())})  # fmt: skip
        requests.append((body, signed(server, body, "secretsmanager.PutSecretValue")))
    netloc = urlsplit(server.url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=30)
    spent = {"http": 0.0, "lib": 0.0}
    try:
        for i, (body, headers) in enumerate(requests):
            for key in ("http", "lib")[:: 1 if i % 2 else -1]:
                start = time.perf_counter()
                if key == "http":
                    connection.request("POST", "/", body=body.encode(), headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    if answer.status != 200:
                        raise SystemExit(f"PutSecretValue over HTTP failed: {data[:200]!r}")
                else:
                    lib.put_secret_value(SecretId=f"bench/write/{i % SPREAD}",
                                         SecretString=f"lib-{i}")  # fmt: skip
                spent[key] += time.perf_counter() - start
    finally:
        connection.close()
    return writes / spent["http"], writes / spent["lib"]


def seed(server: Server, names: list[str]) -> None:
    client = server.client()
    writers = [f"bench/writer/{n}" for n in range(SPREAD)]
    for name in ["bench/hot", *writers, *names]:
        client.create_secret(Name=name, SecretString=VALUE)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def write_rows(
    servers: dict[str, Server], repo: Path, home: Path, log: Path, writes: int, quick: bool
) -> dict[str, float]:
    """The four [write] rows (boto3 and pre-signed raw HTTP, fsync off then on), printed; their
    ratios HTTP/library by name. Starts ``servers["gitsm-fsync"]`` (stopped by the caller)."""
    ratios, server = {}, servers["gitsm"]
    for fsync, n, suffix in ((False, writes, ""), (True, 10 if quick else 60, "_fsync")):
        if fsync:  # the shipped default: every object and the ref fsynced
            server = servers["gitsm-fsync"] = start_gitsm_signed(
                repo, home, log=log, fsync=True, key=(server.access_key, server.secret_key)
            )  # fmt: skip
        for name, how, rates in (("boto3", "boto3 over HTTP", write_rates),
                                 ("raw", "pre-signed raw HTTP", raw_write_rates)):  # fmt: skip
            http, library = rates(server, n, fsync)
            print(f"  [write] gitsm serve ({how}) {http:7.1f} writes/s   library (gitsm.client in "
                  f"process) {library:7.1f} writes/s   fsync {'on (the default)' if fsync else 'off'}"
                  f", {n} writes each, alternating ({load()})")  # fmt: skip
            ratios[name + suffix] = http / library
    return ratios


def write_verdicts(w: dict[str, float]) -> None:
    """The [target] lines of the writes, and boto3's [figure]."""
    print(f"[target] writes HTTP (pre-signed, as wrk)/library, fsync on (the default) "
          f"{w['raw_fsync']:.2f}x (>= {TARGETS['writes']:g}x): "
          f"{verdict(w['raw_fsync'] >= TARGETS['writes'])}")  # fmt: skip
    print(f"[target] writes HTTP (pre-signed, as wrk)/library, fsync off {w['raw']:.2f}x "
          f"(>= {TARGETS['writes']:g}x): {verdict(w['raw'] >= TARGETS['writes'])}")  # fmt: skip
    print(f"[figure] writes through boto3 (its own ~1.4 ms a call included)/library: fsync on "
          f"{w['boto3_fsync']:.2f}x, fsync off {w['boto3']:.2f}x")  # fmt: skip


def writes_only(quick: bool) -> None:
    """``--writes-only``: gitsm serve alone (no moto_server, no wrk), the four [write] rows and
    their verdicts."""
    started = time.perf_counter()
    print(f"gitsm serve writes: {os.cpu_count()} CPUs, {load()}")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        repo, home = make_store(Path(tmp) / "gitsm")
        log = Path(tmp) / "gitsm" / "access.log"
        servers = {"gitsm": start_gitsm_signed(repo, home, log=log)}
        try:
            w = write_rows(servers, repo, home, log, 30 if quick else 300, quick)
        finally:
            for server in servers.values():
                server.stop()
    write_verdicts(w)
    print(f"total bench time {time.perf_counter() - started:.0f} s ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s wrk runs, 100 secrets")
    parser.add_argument("--seconds", type=float, help="length of each wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--secrets", type=int, help="secrets of the cold stream (default 1000)")
    parser.add_argument("--write-rate", type=float, default=20.0, help="writes/s during cold runs")
    parser.add_argument("--loop-seconds", type=float, help="one boto3 client's loop (default 5)")
    parser.add_argument("--writes-only", action="store_true",
                        help="only the [write] rows: gitsm serve alone, no moto_server nor wrk")  # fmt: skip
    args = parser.parse_args()
    os.environ["GITSM_FSYNC"] = "0"  # this process's library writes (the servers' too: servekit)
    for who in ("AUTHOR", "COMMITTER"):
        os.environ.setdefault(f"GIT_{who}_NAME", "bench")
        os.environ.setdefault(f"GIT_{who}_EMAIL", "bench@example.com")
    if args.writes_only:
        return writes_only(args.quick)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    n_secrets = args.secrets or (100 if args.quick else 1000)
    loop_seconds = args.loop_seconds or (1.0 if args.quick else 5.0)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian's package)")
    started = time.perf_counter()
    print(f"gitsm serve vs moto_server: {os.cpu_count()} CPUs, {load()}, wrk -t2 "
          f"-c{args.connections} -d{seconds:g}s keep-alive, SigV4-signed requests (checked by gitsm "
          "serve, not by moto_server)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        (work / "moto").mkdir()
        repo, home = make_store(work / "gitsm")
        log = work / "gitsm" / "access.log"
        servers = {"gitsm": start_gitsm_signed(repo, home, log=log),
                   "moto": start_moto(work / "moto")}  # fmt: skip
        try:
            names = [f"bench/cold/{i:05d}" for i in range(n_secrets)]
            t = time.perf_counter()
            for server in servers.values():
                seed(server, names)
            print(f"  seeded {len(names) + 1 + SPREAD} secrets on each server in "
                  f"{time.perf_counter() - t:.1f} s")  # fmt: skip
            hot: dict[str, dict[str, float]] = {}
            cold: dict[str, dict[str, float]] = {}
            for kind, server in servers.items():  # hot: one secret
                script = work / f"hot-{kind}.lua"
                script.write_text(lua(server, ["bench/hot"]))
                hot[kind] = wrk(server.url, script, seconds, args.connections)
                show("hot", kind, hot[kind])
            for kind, server in servers.items():  # cold: many secrets, a writer
                script = work / f"cold-{kind}.lua"
                script.write_text(lua(server, names))
                offset = log.stat().st_size
                writer = Writer(server, args.write_rate)
                writer.start()
                cold[kind] = wrk(server.url, script, seconds, args.connections)
                writer.halt.set()
                writer.join()
                extra = f"   {writer.count} writes meanwhile"
                if kind == "gitsm":
                    missed, gets = misses(log, offset)
                    extra += f", cache misses {missed}/{gets} ({100 * missed / max(gets, 1):.0f}%)"
                show("cold", kind, cold[kind], extra)
            loops = {}
            for kind, server in servers.items():
                loops[kind] = loop_rate(server, loop_seconds)
                print(f"  [boto3] {kind:<6} {loops[kind]:9.0f} calls/s, one client in a loop "
                      f"({load()})")  # fmt: skip
            w = write_rows(servers, repo, home, log, 30 if args.quick else 300, args.quick)
        finally:
            for server in servers.values():
                server.stop()
    r_hot = hot["gitsm"]["rps"] / hot["moto"]["rps"]
    r_p99 = hot["gitsm"]["p99"] / hot["moto"]["p99"]
    r_cold = cold["gitsm"]["rps"] / cold["moto"]["rps"]
    r_loop = loops["gitsm"] / loops["moto"]
    print(f"[target] hot req/s gitsm/moto {r_hot:.2f}x (>= {TARGETS['hot']:g}x): "
          f"{verdict(r_hot >= TARGETS['hot'])}")  # fmt: skip
    print(f"[target] hot p99 gitsm/moto {r_p99:.3f} (<= {TARGETS['p99']:g}): "
          f"{verdict(r_p99 <= TARGETS['p99'])}")  # fmt: skip
    print(f"[target] cold req/s gitsm/moto {r_cold:.2f}x (>= {TARGETS['cold']:g}x): "
          f"{verdict(r_cold >= TARGETS['cold'])}")  # fmt: skip
    print(f"[target] one boto3 client gitsm/moto {r_loop:.2f}x (>= {TARGETS['boto3']:g}x): "
          f"{verdict(r_loop >= TARGETS['boto3'])}")  # fmt: skip
    write_verdicts(w)
    print(f"total bench time {time.perf_counter() - started:.0f} s ({load()})")


if __name__ == "__main__":
    main()
