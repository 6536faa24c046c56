"""A writer process for the race and crash tests (run as ``python tests/_writer.py MODE ...``).

Every call that returned is reported on stdout, flushed, as one line *after* the call returned, so
the parent knows exactly which writes were acknowledged, even when it kills this process:

- ``race REPO SECRET COUNT PREFIX``: open a client, print ``ready``, wait for a line on stdin, then
  make COUNT UpdateSecret calls on SECRET with distinct tokens, printing ``ACK <token>`` after each;
  finally ``CONFLICTS <n> <m>``: how many commits lost the compare-and-swap and were retried, and
  how many calls gave up (InternalServiceError, nothing written) and were repeated with their token.
- ``crash REPO SEED NAME...``: import everything, print ``loaded`` and wait for a line on stdin
  (so the parent can start the next writer while it kills the current one); then one UpdateSecret
  on the first NAME (which proves that this writer got past whatever the previous, killed, writer
  left behind), print its ``ACK``, then ``ready``; wait for a line on stdin, then loop
  CreateSecret/UpdateSecret/PutSecretValue with fresh tokens until killed, printing
  ``ACK <operation> <name> <token>`` after each call.
- ``interloper GITDIR BRANCH COUNT PAUSE_MS SEED``: a plain-git writer that ignores gitsm's lock:
  after ``ready`` and a line on stdin, COUNT commits, PAUSE_MS/2 to PAUSE_MS apart (drawn from
  SEED), each adding
  ``interloper/n<i>`` on the branch tip with ``git commit-tree`` and moving the branch there with
  ``git update-ref <ref> NEW OLD`` (retried when the branch moved), printing ``ICOMMIT <i> <sha>``
  after each landed commit and ``IRETRIES <n>`` at the end.

The value written under token T is always ``value_for(T)``, so the parent can check every value.
The parent's side lives here too: :class:`Writer` starts and reads such a process, and ``fsck``,
``wait_for_gc`` and ``history_tokens`` check the repository with the git CLI.
"""

from __future__ import annotations

import os
import random
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def room_for_versions(path: Path, max_versions: int) -> None:
    """Raise the store's retention.max_versions (one Retention commit): a secret holds at most
    twice that many versions, and the races and kill -9 rounds keep every version they write to
    one secret, all younger than 24 hours (800 racing writes, 500 killed writers at full size)."""
    from dataclasses import replace
    from datetime import datetime

    from gitsm import paths
    from gitsm.gitrepo import Snapshot
    from gitsm.manifest import StoreConfig
    from gitsm.store import SecretStore
    from gitsm.store.core import Change

    store = SecretStore.open(path)

    def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
        files: dict[str, bytes | None] = {
            paths.CONFIG_PATH: replace(config, max_versions=max_versions).dump()
        }
        return Change(None, "Retention", "", files)

    store._transact(plan)


def value_for(token: str) -> str:
    """The SecretString written under ``token``."""
    return f"value-of-{token}"


def new_token(prefix: str) -> str:
    """A fresh ClientRequestToken (32-64 characters) starting with ``prefix``."""
    return f"{prefix}-{uuid.uuid4().hex}"[:64]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _race(repo: str, secret: str, count: int, prefix: str) -> None:
    import gitsm
    from gitsm.gitrepo import GitRepo, RefConflict

    conflicts = 0
    original = GitRepo.commit

    def counting_commit(self: GitRepo, *args: object, **kwargs: object) -> object:
        nonlocal conflicts
        try:
            return original(self, *args, **kwargs)  # type: ignore[arg-type]
        except RefConflict:
            conflicts += 1
            raise

    GitRepo.commit = counting_commit  # type: ignore[assignment,method-assign]
    client = gitsm.client(repo=repo)
    _say("ready")
    sys.stdin.readline()
    gave_up = 0
    for i in range(count):
        token = new_token(f"{prefix}{i:04d}")
        while True:
            try:
                client.update_secret(
                    SecretId=secret, SecretString=value_for(token), ClientRequestToken=token
                )
                break
            except client.exceptions.InternalServiceError:
                gave_up += 1  # the branch kept moving; nothing written: retry, same token
        _say(f"ACK {token}")
    _say(f"CONFLICTS {conflicts} {gave_up}")


def _crash(repo: str, seed: int, names: list[str]) -> None:
    import gitsm
    import gitsm.awsclient  # import everything before saying "loaded"

    rng = random.Random(seed)
    _say("loaded")
    sys.stdin.readline()
    client = gitsm.client(repo=repo)
    known = list(names)
    token = new_token(f"p{seed}")
    client.update_secret(SecretId=known[0], SecretString=value_for(token), ClientRequestToken=token)
    _say(f"ACK UpdateSecret {known[0]} {token}")
    _say("ready")
    sys.stdin.readline()
    n = 0
    while True:
        n += 1
        token = new_token(f"s{seed}n{n}")
        op = rng.choice(("CreateSecret", "UpdateSecret", "PutSecretValue"))
        if op == "CreateSecret":
            name = f"crash/w{seed}/s{n}"
            client.create_secret(Name=name, SecretString=value_for(token), ClientRequestToken=token)
            known.append(name)
        elif op == "UpdateSecret":
            name = rng.choice(known)
            client.update_secret(
                SecretId=name, SecretString=value_for(token), ClientRequestToken=token
            )
        else:
            name = rng.choice(known)
            client.put_secret_value(
                SecretId=name, SecretString=value_for(token), ClientRequestToken=token
            )
        _say(f"ACK {op} {name} {token}")


def _git(gitdir: str, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    return subprocess.run(
        ["git", "--git-dir", gitdir, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()


def _interloper(gitdir: str, branch: str, count: int, pause_ms: int, seed: int) -> None:
    rng = random.Random(seed)
    ref = f"refs/heads/{branch}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    index_env = dict(base_env, GIT_INDEX_FILE=os.path.join(gitdir, f"interloper-{os.getpid()}.idx"))
    retries = 0
    _say("ready")
    sys.stdin.readline()
    for i in range(count):
        time.sleep(rng.uniform(pause_ms / 2000, pause_ms / 1000))
        blob = _git(gitdir, "hash-object", "-w", "--stdin", env=base_env, stdin=f"note {i}\n")
        while True:
            old = _git(gitdir, "rev-parse", ref, env=base_env)
            _git(gitdir, "read-tree", old, env=index_env)
            _git(
                gitdir,
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{blob},interloper/n{i}",
                env=index_env,
            )
            tree = _git(gitdir, "write-tree", env=index_env)
            new = _git(
                gitdir, "commit-tree", tree, "-p", old, "-m", f"interloper {i}", env=base_env
            )
            moved = subprocess.run(
                ["git", "--git-dir", gitdir, "update-ref", ref, new, old],
                capture_output=True,
                env=base_env,
            )
            if moved.returncode == 0:
                _say(f"ICOMMIT {i} {new}")
                break
            retries += 1
    os.unlink(index_env["GIT_INDEX_FILE"])
    _say(f"IRETRIES {retries}")


# -- the parent's side: starting writers and checking repositories ------------------------------

WRITER = os.path.abspath(__file__)


class Writer:
    """A writer subprocess (``python tests/_writer.py ...``) whose stdout is read line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, WRITER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
            bufsize=0,
        )
        self._buf = b""
        self.lines: list[str] = []

    def _fill(self, deadline: float) -> bool:
        """Read what is available before ``deadline``; False at end of file."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        left = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            raise TimeoutError(f"writer {self.proc.args[2:]} said nothing in time: {self.lines}")
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        self._buf += chunk
        *complete, self._buf = self._buf.split(b"\n")
        self.lines.extend(c.decode() for c in complete)
        return True

    def wait_for(self, word: str, timeout: float = 60.0) -> None:
        """Read lines until one equals ``word`` (fails if the writer dies or takes too long)."""
        deadline = time.monotonic() + timeout
        while word not in self.lines:
            if not self._fill(deadline):
                raise AssertionError(f"writer ended before {word!r}: {self.stderr()}")

    def go(self) -> None:
        """Release a writer waiting on stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def start(self, timeout: float = 60.0) -> None:
        """Release a ``crash`` writer once it has loaded; return when its first write is done."""
        self.wait_for("loaded", timeout)
        self.go()
        self.wait_for("ready", timeout)

    def finish(self, timeout: float = 300.0) -> list[str]:
        """Read to end of file, wait for the exit, and return every complete line."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        return self.lines

    def kill(self) -> list[str]:
        """SIGKILL the writer and return the complete lines it printed (a torn last line is dropped)."""
        self.proc.kill()
        self.proc.wait()
        return self.finish(timeout=10.0)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def gitdir_of(path: Path) -> Path:
    """The git directory of a store (the path itself for a bare repository)."""
    return path / ".git" if (path / ".git").is_dir() else path


def git(path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the git CLI on the repository at ``path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    return subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, text=True, check=check, env=env
    )


def wait_for_gc(path: Path, quiet: float = 0.3, timeout: float = 120.0) -> None:
    """Wait until no background ``git gc`` (started by gitsm's auto-pack) runs on the store."""
    pidfile = gitdir_of(path) / "gc.pid"
    deadline = time.monotonic() + timeout
    calm_since = time.monotonic()
    while time.monotonic() < deadline:
        if pidfile.exists():
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            return
        time.sleep(0.05)
    raise AssertionError(f"git gc still running on {path} after {timeout} s")


def fsck(path: Path) -> None:
    """``git fsck --strict`` must be clean (unreachable objects from killed writers are fine)."""
    wait_for_gc(path)
    done = git(path, "fsck", "--strict", "--no-dangling", "--no-progress", check=False)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", (
        f"git fsck --strict failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


def history_tokens(path: Path, branch: str = "main") -> list[tuple[str, str, str]]:
    """(operation, secret, ClientRequestToken) of every commit on ``branch`` that carries a token."""
    out = git(path, "log", "--format=%B%x00", branch).stdout
    found = []
    for message in out.split("\x00"):
        trailers = {}
        for line in message.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.startswith("Gitsm-"):
                trailers[key] = value
        token = trailers.get("Gitsm-Client-Request-Token")
        if token is not None:
            found.append((trailers["Gitsm-Operation"], trailers["Gitsm-Secret"], token))
    return found


def main(argv: list[str]) -> None:
    mode, args = argv[0], argv[1:]
    if mode == "race":
        _race(args[0], args[1], int(args[2]), args[3])
    elif mode == "crash":
        _crash(args[0], int(args[1]), args[2:])
    elif mode == "interloper":
        _interloper(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
