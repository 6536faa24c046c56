"""The hot commands' start-up path loads only what a read or a write needs.

Each command runs through the console script's function (``gitsm.cli.main``) in a fresh process,
which then names the modules it loaded (get-secret-value's quick read is turned off here: this is
the path of every read it leaves to the full command). Allowed on the path: pygit2 (the store is a git repository)
and cryptography (AES-GCM and the local provider), and botocore's exceptions (``gitsm.awserrors``
derives the client's errors from botocore's ClientError when it is installed, so that ``except
botocore.exceptions.ClientError`` catches them). Not allowed: typer (the lean path,
:mod:`gitsm.cli.lean`, runs an operation's plain command line without it), PyYAML (the manifest and
the config gitsm writes have fast readers), jmespath (only with --query), boto3, and the key
providers no key of the store names (age with pyrage, aws-kms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitsm.cli import main
from gitsm.model import random_uuid

PROBE = """\
import sys
from gitsm.cli import main
from gitsm.model import random_uuid
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\nLOADED " + " ".join(sorted(sys.modules)) + "\\n")
"""
FORBIDDEN = ("typer", "click", "yaml", "jmespath", "boto3", "pyrage", "rich", "pydantic",
             "gitsm.providers.age", "gitsm.providers.awskms", "gitsm.cli.app",
             "uuid", "platform", "gitsm.serverpolicy")  # fmt: skip
"""uuid imports platform, which compiles a large regex: gitsm makes its UUIDs itself. The server
policy is gitsm serve's."""
NEEDED = ("pygit2", "cryptography", "gitsm.providers.local")


def loaded(args: list[str]) -> set[str]:
    """The modules a ``gitsm ARGS`` process loaded; it must succeed."""
    env = {**os.environ, "GITSM_QUICK_READ": "0"}  # the full command's path (the quick read's:
    # tests/cli/test_quickget.py, which checks it loads neither pygit2 nor the model)
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=env)  # fmt: skip
    out, _, modules = done.stderr.rpartition("\nLOADED ")
    assert modules, done.stderr
    assert "An error occurred" not in out and "Traceback" not in out, out
    return set(modules.split())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    for args in (
        ["init", str(path)],
        ["--repo", str(path), "create-secret", "--name", "app/db", "--secret-string", "v"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code in (0, None)  # fmt: skip
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["get-secret-value", "--secret-id", "app/db"],
        ["put-secret-value", "--secret-id", "app/db", "--secret-string", "v2"],
        ["list-secrets"],
        ["describe-secret", "--secret-id", "app/db"],
    ],
    ids=lambda args: args[0],
)
def test_a_hot_command_loads_no_more_than_it_needs(store: Path, args: list[str]) -> None:
    modules = loaded(["--repo", str(store), *args])
    tops = {m for m in modules if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN}
    assert tops == set()
    assert set(NEEDED) <= modules  # the probe sees what the command really loaded


def test_query_and_yaml_output_load_what_they_use(store: Path) -> None:
    args = ["--repo", str(store), "--output", "yaml", "--query", "Name"]
    modules = loaded([*args, "get-secret-value", "--secret-id", "app/db"])
    assert {"jmespath", "yaml"} <= modules and "typer" not in modules


def test_the_probe_reports_the_command_s_output(store: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, "--repo", str(store), "get-secret-value", "--secret-id",
         "app/db"], capture_output=True, text=True,
    )  # fmt: skip
    assert json.loads(probe.stdout)["Name"] == "app/db"


def test_random_uuid_is_what_uuid4_makes() -> None:
    import uuid

    made = {random_uuid() for _ in range(200)}
    assert len(made) == 200
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
