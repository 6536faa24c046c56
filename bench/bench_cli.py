#!/usr/bin/env python3
"""Bench: start-up of the ``gitsm`` CLI, beside the aws CLI's time for the same call.

Usage: ``.venv/bin/python bench/bench_cli.py [--runs 15] [--no-aws]``

Times, in fresh processes (wall clock, median of the runs after one warm-up run):

* ``gitsm --help`` (target: <= 250 ms on a 2-core machine);
* ``gitsm get-secret-value --secret-id ...`` on a store in a temporary directory with the local
  default key and fsync off (target: <= 300 ms);
* the same read through the library in a bare ``python -c`` (the floor the CLI adds to);
* when the ``aws`` CLI and ``moto_server`` are installed: ``aws secretsmanager get-secret-value``
  against moto's server on 127.0.0.1 (a free port; the server is started and stopped here), and the
  ratios gitsm / aws.

It prints numbers and whether each target is met; it asserts nothing. Wall times are noisy: the load
average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
GITSM = VENV_BIN / "gitsm"
TARGETS = {"help": 250.0, "get": 300.0}
SECRET = "bench/db/password"


def run_ms(cmd: Sequence[str], env: dict[str, str], data: bytes = b"") -> tuple[float, float]:
    """Wall and CPU (user + system) time of one run of ``cmd`` (``data`` on its standard input) in
    milliseconds; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, input=data)
    elapsed = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return elapsed, cpu


def medians_ms(
    cmds: dict[str, list[str]],
    env: dict[str, str],
    runs: int,
    envs: dict[str, dict[str, str]] | None = None,
    inputs: dict[str, bytes] | None = None,
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU time of each command; runs are interleaved so that load drifts hit all
    alike. One untimed warm-up run of each comes first. ``envs`` and ``inputs`` give a command
    an environment of its own and bytes on its standard input (default: ``env``, nothing).
    """
    times: dict[str, list[tuple[float, float]]] = {key: [] for key in cmds}
    for i in range(runs + 1):
        for key, cmd in cmds.items():
            measured = run_ms(cmd, (envs or {}).get(key, env), (inputs or {}).get(key, b""))
            if i:
                times[key].append(measured)
    return {
        key: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for key, values in times.items()
    }


def free_port() -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    """True once something accepts connections on ``port``; False if ``proc`` died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def moto_candidates() -> list[str]:
    """Every ``moto_server`` on PATH and in this venv (the venv's may lack moto's server extras)."""
    seen: list[str] = []
    for directory in [*os.environ.get("PATH", "").split(os.pathsep), str(VENV_BIN)]:
        path = Path(directory) / "moto_server"
        if path.is_file() and os.access(path, os.X_OK) and str(path) not in seen:
            seen.append(str(path))
    return seen


def bench_aws(runs: int) -> tuple[float, str] | None:
    """Median ms of ``aws secretsmanager get-secret-value`` against moto_server, and a label."""
    aws = shutil.which("aws")
    if aws is None:
        print("aws CLI: not installed; no comparison")
        return None
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="",
    )  # fmt: skip
    for server in moto_candidates():
        port = free_port()
        proc = subprocess.Popen(
            [server, "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not wait_for(port, proc):
                continue
            base = [aws, "--endpoint-url", f"http://127.0.0.1:{port}", "secretsmanager"]
            subprocess.run(
                [*base, "create-secret", "--name", SECRET, "--secret-string", "bench-value"],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
            get = [*base, "get-secret-value", "--secret-id", SECRET]
            ms = medians_ms({"get": get}, env, runs)["get"][0]
            version = subprocess.run([aws, "--version"], capture_output=True, text=True, env=env)
            label = (version.stdout or version.stderr).split()[0]
            return ms, f"{label} against {Path(server).name} on 127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print("aws CLI: installed, but no moto_server could be started; no comparison")
    return None


def main() -> None:
    """Build a throwaway store, time the commands, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--no-aws", action="store_true", help="skip the aws CLI comparison")
    args = parser.parse_args()
    if not GITSM.exists():
        raise SystemExit(f"{GITSM} is missing: run scripts/setup first")
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GIT_", "GITSM_")) and k != "PYTHONDONTWRITEBYTECODE"}  # fmt: skip
        env.update(GITSM_HOME=str(Path(tmp) / "home"), GITSM_FSYNC="0")
        store = str(Path(tmp) / "store")
        create = ["--repo", store, "create-secret", "--name", SECRET, "--secret-string", "v"]
        for cmd in (["init", store], create):
            subprocess.run([str(GITSM), *cmd], env=env, check=True, capture_output=True)
        get = [str(GITSM), "--repo", store, "get-secret-value", "--secret-id", SECRET]
        floor = [sys.executable, "-c", "import sys, gitsm; gitsm.client(sys.argv[1])"
                 ".get_secret_value(SecretId=sys.argv[2])", store, SECRET]  # fmt: skip
        cmds = {"help": [str(GITSM), "--help"], "get": get, "floor": floor}
        results = medians_ms(cmds, env, args.runs)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"gitsm CLI start-up: medians of {args.runs} runs each (wall; CPU = user + system), "
          f"{os.cpu_count()} CPUs, load average {load:.2f}")  # fmt: skip
    names = {"help": "gitsm --help", "get": "gitsm get-secret-value"}
    for key, name in names.items():
        wall, cpu = results[key]
        verdict = "met" if wall <= TARGETS[key] else "NOT met"
        print(f"  {name:<40} {wall:7.1f} ms wall {cpu:6.1f} ms CPU   "
              f"target <= {TARGETS[key]:.0f} ms: {verdict}")  # fmt: skip
    wall, cpu = results["floor"]
    share = results["get"][0] - wall
    print(f"  {'library floor (python -c gitsm.client)':<40} {wall:7.1f} ms wall {cpu:6.1f} ms CPU   "
          f"(the CLI's own share: {share:.1f} ms wall)")  # fmt: skip
    aws = None if args.no_aws else bench_aws(args.runs)
    if aws is not None:
        aws_ms, label = aws
        print(f"  {'aws secretsmanager get-secret-value':<40} {aws_ms:7.1f} ms   ({label})")
        print(f"  ratio gitsm get-secret-value / aws       {results['get'][0] / aws_ms:7.2f}x")
        print(f"  ratio gitsm --help / aws get-secret-value {results['help'][0] / aws_ms:6.2f}x")


if __name__ == "__main__":
    main()
