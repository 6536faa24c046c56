"""``gitsm serve create-access-key | list-access-keys | delete-access-key`` through the installed
entry point, with GITSM_HOME in a temporary directory (the root conftest's)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from typer.testing import CliRunner, Result

from gitsm.cli.app import app
from gitsm.serve.accesskeys import AccessKeys, access_keys_path
from gitsm.serve.sigv4 import SigV4Verifier
from tests.cli.conftest import GITSM_BIN, run_gitsm


def test_create_list_delete(tmp_path: Path) -> None:
    made = run_gitsm(["serve", "create-access-key", "--principal", "ci-deploy"])
    assert made.returncode == 0 and made.stderr == b"", made.stderr
    key = json.loads(made.stdout)["AccessKey"]
    assert list(key) == ["UserName", "AccessKeyId", "Status", "SecretAccessKey", "CreateDate"]
    assert key["UserName"] == "ci-deploy" and key["Status"] == "Active"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    path = access_keys_path()
    assert path.parent == Path(os.environ["GITSM_HOME"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    listed = run_gitsm(["serve", "list-access-keys", "--output", "text"])
    assert listed.returncode == 0, listed.stderr
    assert key["AccessKeyId"].encode() in listed.stdout
    assert key["SecretAccessKey"].encode() not in listed.stdout + listed.stderr

    gone = run_gitsm(["serve", "delete-access-key", "--access-key-id", key["AccessKeyId"]])
    assert (gone.returncode, gone.stdout, gone.stderr) == (0, b"", b"")
    again = CliRunner().invoke(app, ["serve", "delete-access-key", "--access-key-id",
                                     key["AccessKeyId"]])  # fmt: skip
    assert again.exit_code == 254
    assert again.stderr.strip() == (
        "An error occurred (NoSuchEntity) when calling the DeleteAccessKey operation: The "
        f"Access Key with id {key['AccessKeyId']} cannot be found."
    )
    empty = CliRunner().invoke(app, ["serve", "list-access-keys"])
    assert json.loads(empty.stdout) == {"AccessKeyMetadata": []}


def test_a_key_made_by_the_cli_signs_requests_the_server_accepts() -> None:
    made = run_gitsm(["serve", "create-access-key", "--principal", "alice"])
    key = json.loads(made.stdout)["AccessKey"]
    request = AWSRequest("POST", "http://localhost:8080/", data=b"{}",
                         headers={"X-Amz-Target": "secretsmanager.ListSecrets"})  # fmt: skip
    credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    SigV4Auth(credentials, "secretsmanager", "eu-west-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = "localhost:8080"
    caller = SigV4Verifier(AccessKeys().lookup).authenticate("POST", "/", "", headers, b"{}")
    assert (caller.principal, caller.access_key_id, caller.region) == (
        "alice", key["AccessKeyId"], "eu-west-1",
    )  # fmt: skip


def test_failures_have_the_cli_s_exit_codes() -> None:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["serve", *args])

    missing = invoke("create-access-key")
    assert missing.exit_code == 252 and "--principal" in missing.stderr
    bad = invoke("create-access-key", "--principal", "a b")
    assert bad.exit_code == 254 and "(ValidationException)" in bad.stderr
    assert not access_keys_path().exists()
    assert invoke("create-access-key", "--principal", "alice").exit_code == 0
    access_keys_path().chmod(0o640)
    exposed = invoke("list-access-keys")
    assert exposed.exit_code == 253 and exposed.stdout == ""
    assert f"Run 'chmod 600 {access_keys_path()}'" in exposed.stderr


def test_the_verbs_load_no_pydantic() -> None:
    probe = (
        "import sys\nfrom gitsm.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = ('pygit2', 'pydantic', 'rich', 'jmespath', 'gitsm.store')\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    python = str(Path(GITSM_BIN).with_name("python"))
    run = subprocess.run([python, "-c", probe, "serve", "list-access-keys"], capture_output=True,
                         text=True, env=dict(os.environ))  # fmt: skip
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr
