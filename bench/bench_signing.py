"""Bench: what signing costs a write (commit.gpgsign), by signing method.

Usage: ``.venv/bin/python bench/bench_signing.py [--writes 40] [--quick]``

Builds a store in a temporary directory, makes an ed25519 ssh key (and, when GnuPG is installed, an
ed25519 OpenPGP key in a throwaway GNUPGHOME) and times PutSecretValue on one secret, median per
write:

* in one process (``gitsm.client``): unsigned, signed with an ssh key file, with a key held only by
  ssh-agent (``user.signingkey = key::ssh-ed25519 ...``), and with OpenPGP through gpg-agent;
* one ``gitsm put-secret-value`` process per write (start-up included), unsigned and ssh-signed;
* the ``git config --get-regexp`` that reads the signing settings, paid once per process (and again
  only when the config changes), signed or not.

Beside each wall time it prints the CPU time (user + sys) of the programs a write ran, which a busy
machine inflates less than wall time.

The agents it starts are stopped by their own process id / GNUPGHOME at the end. It asserts
nothing; ``tests/test_signing.py`` runs it with ``--quick``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gitsm  # noqa: E402
from gitsm.gitrepo import identity, signing  # noqa: E402

GITSM = Path(sys.executable).with_name("gitsm")


def git(path: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)


def configure(path: Path, fmt: str | None, key: str = "") -> None:
    """Signing on with ``fmt`` and ``key``, or off (None)."""
    if fmt is None:
        git(path, "config", "commit.gpgsign", "false")
    else:
        git(path, "config", "gpg.format", fmt)
        git(path, "config", "user.signingkey", key)
        git(path, "config", "commit.gpgsign", "true")
    signing.clear_cache()
    identity.clear_cache()


CHILD_CPU: list[float] = []
"""CPU seconds (user + sys) of the programs each measurement ran, per call, in order."""


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_write(action: Callable[[int], None], writes: int) -> float:
    """Median seconds of ``action`` over ``writes`` calls, after one warm-up call; the CPU time
    of the programs it ran (signers, git), per call, goes to CHILD_CPU."""
    action(-1)
    times = []
    cpu = _child_cpu()
    for n in range(writes):
        start = time.perf_counter()
        action(n)
        times.append(time.perf_counter() - start)
    CHILD_CPU.append((_child_cpu() - cpu) / writes)
    return statistics.median(times)


def library_writes(path: Path, writes: int, tag: str) -> float:
    client = gitsm.client(repo=path)
    return per_write(
        lambda n: client.put_secret_value(SecretId="bench", SecretString=f"{tag}-{n}"), writes
    )


def cli_writes(path: Path, writes: int, tag: str) -> float:
    def write(n: int) -> None:
        subprocess.run(
            [str(GITSM), "--repo", str(path), "put-secret-value", "--secret-id", "bench",
             "--secret-string", f"{tag}-{n}"], check=True, capture_output=True,
        )  # fmt: skip

    return per_write(write, writes)


def start_agent(key: Path) -> int:
    out = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    values = dict(p.split("=", 1) for p in out.replace("\n", ";").split(";") if "=" in p)
    os.environ["SSH_AUTH_SOCK"] = values["SSH_AUTH_SOCK"].strip()
    subprocess.run(["ssh-add", "-q", str(key)], check=True, capture_output=True)
    return int(values["SSH_AGENT_PID"].strip())


def gpg_key(home: Path) -> str:
    env = {**os.environ, "GNUPGHOME": str(home)}
    gen = ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Bench <bench@example.com>",
           "ed25519", "sign", "never"]  # fmt: skip
    subprocess.run(gen, env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--with-colons", "--list-secret-keys"], env=env,
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def report(label: str, seconds: float, base: float | None = None) -> None:
    extra = "" if base is None else f"  (+{(seconds - base) * 1e3:.1f} ms signing)"
    cpu = f"  [programs' CPU {CHILD_CPU[-1] * 1e3:.1f} ms]" if CHILD_CPU else ""
    print(f"{label:<44} {seconds * 1e3:7.1f} ms/write{extra}{cpu}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="a few writes of each kind")
    args = parser.parse_args()
    writes = 3 if args.quick else args.writes
    cli_count = 2 if args.quick else writes
    work = Path(tempfile.mkdtemp(prefix="gitsm-bench-sign-"))
    os.environ.setdefault("GITSM_HOME", str(work / "home"))
    os.environ["GITSM_FSYNC"] = os.environ.get("GITSM_FSYNC", "1")
    agent_pid: int | None = None
    gnupg = work / "gnupg"
    try:
        store = work / "store"
        gitsm.init(store)
        gitsm.client(repo=store).create_secret(Name="bench", SecretString="first")
        key = work / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True, capture_output=True)  # fmt: skip
        print(
            f"# {writes} writes each, fsync {'on' if os.environ['GITSM_FSYNC'] != '0' else 'off'}"
        )
        gitdir = store / ".git"
        times = []
        for _ in range(max(writes, 10)):
            start = time.perf_counter()
            signing._ask_git(gitdir, signing.cache_key(gitdir))
            times.append(time.perf_counter() - start)
        report("[config] git config --get-regexp (per process)", statistics.median(times))
        CHILD_CPU.clear()

        configure(store, None)
        base = library_writes(store, writes, "plain")
        report("[library] unsigned", base)
        configure(store, "ssh", str(key))
        report("[library] ssh, key file", library_writes(store, writes, "ssh"), base)
        if shutil.which("ssh-agent"):
            agent_pid = start_agent(key)
            public = Path(f"{key}.pub").read_text().strip()
            configure(store, "ssh", f"key::{public}")
            report("[library] ssh, key in ssh-agent", library_writes(store, writes, "agent"), base)
        if shutil.which("gpg"):
            gnupg.mkdir(mode=0o700)
            os.environ["GNUPGHOME"] = str(gnupg)
            configure(store, "openpgp", gpg_key(gnupg))
            report("[library] openpgp, gpg-agent", library_writes(store, writes, "pgp"), base)

        configure(store, None)
        cli_base = cli_writes(store, cli_count, "cli-plain")
        report("[cli] unsigned (one process per write)", cli_base)
        configure(store, "ssh", str(key))
        report(
            "[cli] ssh, key file (one process per write)",
            cli_writes(store, cli_count, "cli"),
            cli_base,
        )
    finally:
        if agent_pid is not None:
            os.kill(agent_pid, signal.SIGTERM)
        if gnupg.exists():
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True, check=False,
                           env={**os.environ, "GNUPGHOME": str(gnupg)})  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
