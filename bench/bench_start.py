#!/usr/bin/env python3
"""Bench: start of the hot commands, cold and through the warm agent, against a bare interpreter
from the same environment and against pass and sops.

Usage: ``.venv/bin/python bench/bench_start.py [--runs 21] [--quick] [--dir D]``

Times, each in a fresh process, on a store of 20 secrets (3 with ``--quick``) in a temporary
directory with the local default key and fsync off unless said:

* ``python -c pass`` from this venv: the floor, what the interpreter alone costs;
* cold (``GITSM_AGENT=0``): ``gitsm get-secret-value``, ``put-secret-value`` and
  ``list-secrets`` through the installed ``gitsm`` (the native launcher, where there is one, runs
  the Python launcher for them) (target: get-secret-value <= 8x the floor); get-secret-value takes its quick read (gitsm.quickread), and once more as the full
  command (``GITSM_QUICK_READ=0``, the path of every read the quick one leaves to it);
* through a warm agent started here (``gitsm agent start`` in the work directory, handed over
  by the installed ``gitsm``: the native launcher where scripts/setup built one, a line says,
  ``GITSM_AGENT=require``, so a command that did not go through it fails the run):
  ``get-secret-value`` (target: <= 1.0x the fastest peer read), ``update-secret`` with fsync off
  (target: <= 1.0x ``pass insert``) and on (target: <= 1.5x ``pass insert``), ``list-secrets``;
* ``pass show`` and ``pass insert -m -f`` (a password store made here, a git repository as
  ``pass git init`` makes it, so that insert commits; its gpg key without a passphrase) and
  ``sops -d`` (one file, an age key made here) of one value when they are installed, and ``gopass
  show`` of pass's entry (gopass reads a pass store as it is; the line below the table says which
  gopass ran: Debian's ``gopass`` package, which ``.ci/run`` installs, is aviau/gopass, a pass in
  Go that decrypts through gpg as gopasspw/gopass does with its default gpg backend); each prints
  'not installed' otherwise.

The rounds start once the store's config, written by ``gitsm init`` seconds before, has been left
alone for ``answers.SETTLED`` seconds (not with ``--quick``): before that every write asks git
for the identities and signing config a commit needs, which a store in use keeps from one command
to the next. Rounds are interleaved (one run of each command per round, after one untimed warm-up
round that also writes the bytecode caches), so that a change of machine load hits all alike;
figures are medians of wall and CPU (user + system) time, and each command's ratio to the floor is
measured in the same run. ``PYTHONDONTWRITEBYTECODE`` is dropped from the commands' environment: without
bytecode caches every start compiles gitsm's modules again, which no installed gitsm does. The
load average is printed at the start and at the end. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import medians_ms

VENV_BIN = Path(sys.executable).parent
GITSM = VENV_BIN / "gitsm"
TARGET = 8.0
SECRET = "bench/app0/db"


def load() -> str:
    """The 1-minute load average, for the record."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def setup_pass(work: Path, env: dict[str, str]) -> list[str]:
    """A password store with one entry, its gpg key without a passphrase; the read command."""
    gpg, pass_bin = shutil.which("gpg"), shutil.which("pass")
    assert gpg is not None and pass_bin is not None
    home, store = work / "gnupg", work / "pass-store"
    home.mkdir(mode=0o700)
    env.update(GNUPGHOME=str(home), PASSWORD_STORE_DIR=str(store))
    env.pop("GPG_AGENT_INFO", None)

    def run(cmd: list[str], data: bytes | None = None) -> str:
        return subprocess.run(
            cmd, env=env, input=data, check=True, capture_output=True
        ).stdout.decode()

    run([gpg, "--batch", "--passphrase", "", "--quick-gen-key", "gitsm bench <bench@invalid>",
         "default", "default", "never"])  # fmt: skip
    listing = run([gpg, "--batch", "--with-colons", "--list-keys"])
    fingerprint = next(x.split(":")[9] for x in listing.splitlines() if x.startswith("fpr:"))
    run([pass_bin, "init", fingerprint])
    run([pass_bin, "git", "init"])
    run([pass_bin, "insert", "-m", "bench/db"], b"value\n")
    return [pass_bin, "show", "bench/db"]


def setup_sops(sops: str, keygen: str, work: Path, env: dict[str, str]) -> list[str]:
    """One sops file encrypted to a new age key; the read command."""
    key = work / "age.key"
    subprocess.run([keygen, "-o", str(key)], check=True, capture_output=True)
    recipient = next(
        line.split(": ")[1]
        for line in key.read_text().splitlines()
        if line.startswith("# public key:")
    )
    plain = work / "value.json"
    plain.write_text('{"value": "v"}')
    env["SOPS_AGE_KEY_FILE"] = str(key)
    enc = subprocess.run([sops, "-e", "--age", recipient, str(plain)], env=env,
                         check=True, capture_output=True).stdout  # fmt: skip
    (work / "value.sops.json").write_bytes(enc)
    return [sops, "-d", str(work / "value.sops.json")]


def setup_gopass(
    pass_show: list[str] | None, env: dict[str, str]
) -> tuple[list[str] | None, list[str]]:
    """``gopass show`` of the entry ``pass show`` reads, when a gopass on the PATH reads the
    password store made for pass (gopass uses a pass store as it is: ``PASSWORD_STORE_DIR``, the
    same gpg key); else None. The lines to print: which gopass, or why it is not timed."""
    gopass = shutil.which("gopass")
    if gopass is None:
        return None, ["gopass show: not installed"]
    if pass_show is None:
        return None, ["gopass show: installed, not timed (no pass store made here: pass missing)"]
    version = subprocess.run([gopass, "version"], env=env, capture_output=True, text=True)
    which = (version.stdout.strip().splitlines() or ["version unknown"])[0]
    cmd = [gopass, "show", pass_show[-1]]
    shown = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if shown.returncode != 0 or shown.stdout.strip() != "value":
        said = (shown.stderr.strip().splitlines() or [f"exit {shown.returncode}"])[0]
        return None, [f"gopass show: installed ({which}), not timed: it did not read the pass "
                      f"store made here ({said})"]  # fmt: skip
    return cmd, [f"gopass show: {gopass} ({which}), on the password store made for pass"]


def peers(work: Path, env: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """The other tools' read of one value where installed, and a line for each one that is not
    timed or that needs saying (which gopass was timed)."""
    cmds: dict[str, list[str]] = {}
    missing: list[str] = []
    if shutil.which("pass") and shutil.which("gpg"):
        cmds["pass show"] = setup_pass(work, env)
        cmds["pass insert"] = [cmds["pass show"][0], "insert", "-m", "-f", "bench/db"]
    else:
        missing += ["pass show: not installed", "pass insert: not installed"]
    gopass, why = setup_gopass(cmds.get("pass show"), env)
    if gopass is not None:
        cmds["gopass show"] = gopass
    missing += why
    sops = shutil.which("sops") or (
        str(VENV_BIN / "sops") if (VENV_BIN / "sops").exists() else None
    )
    keygen = shutil.which("age-keygen")
    if sops is not None and keygen is not None:
        cmds["sops -d"] = setup_sops(sops, keygen, work, env)
    else:
        missing.append("sops -d: not installed" if sops is None else "sops -d: no age-keygen")
    return cmds, missing


def agent_rows(repo: list[str], env: dict[str, str], work: Path) -> tuple[dict[str, list[str]],
                                                                         dict[str, dict[str, str]]]:  # fmt: skip
    """The commands timed through the warm agent, and their environments (the agent's directory,
    GITSM_AGENT=require; fsync on for one write)."""
    via = {**env, "GITSM_AGENT_DIR": str(work / "agent"), "GITSM_AGENT": "require"}
    cmds = {
        "agent get-secret-value": [*repo, "get-secret-value", "--secret-id", SECRET],
        "agent update-secret": [*repo, "update-secret", "--secret-id", SECRET,
                                "--secret-string", "v3"],
        "agent update-secret fsync": [*repo, "update-secret", "--secret-id", SECRET,
                                      "--secret-string", "v4"],
        "agent list-secrets": [*repo, "list-secrets"],
    }  # fmt: skip
    envs = {name: via for name in cmds}
    envs["agent update-secret fsync"] = {**via, "GITSM_FSYNC": "1"}
    return cmds, envs


def settle(config: Path, *, quick: bool) -> None:
    """Wait until the store's config, which ``gitsm init`` wrote a few seconds ago, is older than
    ``answers.SETTLED`` (not with ``quick``): until then every write asks git for its identities
    and signing config (gitsm/gitrepo/answers.py keeps git's answers only for config files left
    alone that long), which a store in use does not do. The warm-up round's first write then
    keeps them."""
    from gitsm.gitrepo.answers import SETTLED

    wait = 0.0 if quick else max(0.0, SETTLED + 0.5 - (time.time() - config.stat().st_mtime))
    print(f"[settle] waited {wait:.1f} s for the store's config to be {SETTLED:.0f} s old (git's "
          "answers for a commit are kept only then: gitsm/gitrepo/answers.py)")  # fmt: skip
    time.sleep(wait)


def verdict(ratio: float, target: float) -> str:
    """A target's line end."""
    return f"(<= {target:.1f}x): {'met' if ratio <= target else 'NOT met'}"


def main() -> None:
    """Build a small store, time the commands interleaved, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=21, help="timed rounds")
    parser.add_argument("--quick", action="store_true", help="3 rounds (a smoke test)")
    parser.add_argument("--dir", type=Path, help="work in this directory (kept)")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    if not GITSM.exists():
        raise SystemExit(f"{GITSM} is missing: run scripts/setup first")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GIT_", "GITSM_")) and k != "PYTHONDONTWRITEBYTECODE"}  # fmt: skip
        env.update(GITSM_HOME=str(work / "home"), GITSM_FSYNC="0", GITSM_AGENT="0")
        store = str(work / "store")
        subprocess.run([str(GITSM), "init", store], env=env, check=True, capture_output=True)
        for i in range(3 if args.quick else 20):
            create = ["--repo", store, "create-secret", "--name", f"bench/app{i}/db",
                      "--secret-string", f"value-{i}"]  # fmt: skip
            subprocess.run([str(GITSM), *create], env=env, check=True, capture_output=True)
        repo = [str(GITSM), "--repo", store]
        cmds = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "gitsm get-secret-value": [*repo, "get-secret-value", "--secret-id", SECRET],
            "gitsm get-secret-value full": [*repo, "get-secret-value", "--secret-id", SECRET],
            "gitsm put-secret-value": [*repo, "put-secret-value", "--secret-id", SECRET,
                                       "--secret-string", "v2"],
            "gitsm list-secrets": [*repo, "list-secrets"],
        }  # fmt: skip
        warm, envs = agent_rows(repo, env, work)
        envs["gitsm get-secret-value full"] = {**env, "GITSM_QUICK_READ": "0"}
        cmds.update(warm)
        others, missing = peers(work, env)
        cmds.update(others)
        agent_env = envs["agent get-secret-value"]
        subprocess.run([str(GITSM), "agent", "start"], env=agent_env, check=True,
                       capture_output=True)  # fmt: skip
        settle(Path(store) / ".git" / "config", quick=args.quick)
        try:
            results = medians_ms(cmds, env, runs, envs=envs,
                                 inputs={"pass insert": b"value\n"})  # fmt: skip
        finally:
            subprocess.run([str(GITSM), "agent", "stop"], env=agent_env, capture_output=True)
            if "GNUPGHOME" in env:
                subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True)
        print(f"start: medians of {runs} interleaved rounds (wall; CPU = user + system of the "
              f"process and its children), {os.cpu_count()} CPUs, load average {load()}")  # fmt: skip
    floor_wall, floor_cpu = results["python -c pass"]
    for name, (wall, cpu) in results.items():
        print(f"  {name:<27} {wall:7.1f} ms wall {cpu:7.1f} ms CPU   "
              f"{wall / floor_wall:5.1f}x / {cpu / floor_cpu:5.1f}x the floor (wall / CPU)")  # fmt: skip
    for line in missing:
        print(f"  {line}")
    ratio = results["gitsm get-secret-value"][0] / floor_wall
    print(f"[target] cold get-secret-value {ratio:.1f}x python -c pass (wall) "
          f"{verdict(ratio, TARGET)}")  # fmt: skip
    reads = {k: results[k][0] for k in ("pass show", "gopass show", "sops -d") if k in results}
    if reads:
        best = min(reads, key=reads.__getitem__)
        ratio = results["agent get-secret-value"][0] / reads[best]
        print(f"[target] agent get-secret-value {ratio:.2f}x {best} (the fastest peer read "
              f"measured) {verdict(ratio, 1.0)}")  # fmt: skip
    if "pass insert" in results:
        insert = results["pass insert"][0]
        for name, target, what in (("agent update-secret", 1.0, "fsync off"),
                                   ("agent update-secret fsync", 1.5, "fsync on")):  # fmt: skip
            ratio = results[name][0] / insert
            print(f"[target] agent update-secret ({what}) {ratio:.2f}x pass insert "
                  f"{verdict(ratio, target)}")  # fmt: skip
    from gitsm.cli.agent.native import is_native

    kind = "the native launcher" if is_native(GITSM) else "the Python console script"
    print(f"[launcher] {GITSM} is {kind} (docs/AGENT.md)")
    print(f"load average at the end {load()}")


if __name__ == "__main__":
    main()
