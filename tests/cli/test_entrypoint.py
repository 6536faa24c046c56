"""The installed ``gitsm`` entry point, as a user runs it (subprocesses; kept few: ~0.4 s each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.cli.conftest import GITSM_BIN, run_gitsm
from tests.conftest import git

KMS_ARN = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"
SECRET = '{"user":"diegor","password":"EXAMPLE-PASSWORD"}'


def ok(args: list[str], **kwargs: object) -> object:
    done = run_gitsm(args, **kwargs)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout) if done.stdout.strip() else None


def map_kms_arn_to_local_key(store: Path) -> None:
    """What a store admin does for a KMS key id without an AWS KMS provider: name it in the key
    registry, pointing at the store's local key, and commit."""
    config = store / ".gitsm" / "config.yaml"
    text = config.read_text()
    key_id = yaml.safe_load(text)["keys"]["alias/aws/secretsmanager"][0]["key_id"]
    entry = f"keys:\n  {KMS_ARN}:\n  - provider: local\n    key_id: {key_id}\n"
    config.write_text(text.replace("keys:\n", entry, 1))
    git(store, "commit", "-qam", "Map the example KMS key ARN to the local key")


def test_update_secret_reference_page_examples(store: Path) -> None:
    """The three examples of the aws CLI reference page, verbatim with aws -> gitsm."""
    ok(["--repo", str(store), "create-secret", "--name", "MyTestSecret", "--secret-string", "v0"])
    map_kms_arn_to_local_key(store)
    examples = [
        ["update-secret", "--secret-id", "MyTestSecret",
         "--description", "This is a new description for the secret."],
        ["update-secret", "--secret-id", "MyTestSecret", "--kms-key-id", KMS_ARN],
        ["update-secret", "--secret-id", "MyTestSecret", "--secret-string", SECRET],
    ]  # fmt: skip
    outputs = [ok(["secretsmanager", *args], cwd=store) for args in examples]
    assert [list(o) for o in outputs] == [
        ["ARN", "Name"],
        ["ARN", "Name"],
        ["ARN", "Name", "VersionId"],
    ]  # type: ignore[call-overload]
    arn = outputs[0]["ARN"]  # type: ignore[index]
    assert arn.startswith("arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret-")
    got = ok(["get-secret-value", "--secret-id", "MyTestSecret"], cwd=store)
    assert got["SecretString"] == SECRET  # type: ignore[index]
    versions = ok(["list-secret-version-ids", "--secret-id", arn], cwd=store)
    assert {k for v in versions["Versions"] for k in v["KmsKeyIds"]} == {KMS_ARN}  # type: ignore[index]
    assert git(store, "status", "--porcelain") == ""


def test_values_from_files_and_stdin(store: Path, tmp_path: Path) -> None:
    repo = ["--repo", str(store)]
    blob = bytes(range(256)) * 3
    ok([*repo, "create-secret", "--name", "b", "--secret-binary", "fileb:///dev/stdin"], input=blob)
    text = tmp_path / "value.json"
    text.write_text(SECRET + "\n")
    ok([*repo, "create-secret", "--name", "t", "--secret-string", f"file://{text}"])
    ok([*repo, "put-secret-value", "--secret-id", "t", "--secret-string", "file:///dev/stdin"],
       input=b"from stdin")  # fmt: skip
    raw = run_gitsm([*repo, "get-secret-value", "--secret-id", "b", "--query", "SecretBinary",
                     "--output", "text"])  # fmt: skip
    import base64

    assert base64.b64decode(raw.stdout) == blob
    previous = ok([*repo, "get-secret-value", "--secret-id", "t", "--version-stage", "AWSPREVIOUS",
                   "--query", "SecretString"])  # fmt: skip
    assert previous == SECRET + "\n"


def test_cli_input_json_round_trips_the_skeleton(store: Path, tmp_path: Path) -> None:
    skeleton = ok(["create-secret", "--generate-cli-skeleton"])
    assert set(skeleton) == {"Name", "ClientRequestToken", "Description", "KmsKeyId",  # type: ignore[arg-type]
                             "SecretBinary", "SecretString", "Tags", "AddReplicaRegions",
                             "ForceOverwriteReplicaSecret"}  # fmt: skip
    filled = dict(skeleton)  # type: ignore[call-overload]
    filled.update(Name="from-skeleton", SecretString=SECRET, Description="d",
                  Tags=[{"Key": "k", "Value": "v"}], ClientRequestToken="c" * 36)  # fmt: skip
    del filled["KmsKeyId"], filled["SecretBinary"], filled["AddReplicaRegions"]
    path = tmp_path / "input.json"
    path.write_text(json.dumps(filled))
    created = ok(["--repo", str(store), "create-secret", "--cli-input-json", f"file://{path}"])
    assert created["VersionId"] == "c" * 36  # type: ignore[index]
    described = ok(["--repo", str(store), "describe-secret", "--secret-id", "from-skeleton",
                    "--query", "{D: Description, T: Tags}"])  # fmt: skip
    assert described == {"D": "d", "T": [{"Key": "k", "Value": "v"}]}


def test_query_and_text_output(store: Path) -> None:
    ok(["--repo", str(store), "create-secret", "--name", "q", "--secret-string", SECRET])
    done = run_gitsm(["--repo", str(store), "get-secret-value", "--secret-id", "q",
                      "--query", "SecretString", "--output", "text"])  # fmt: skip
    assert done.stdout.decode() == SECRET + "\n"


def test_exit_codes_and_no_value_in_errors(store: Path, tmp_path: Path) -> None:
    repo = ["--repo", str(store)]
    ok([*repo, "create-secret", "--name", "e", "--secret-string", "first-value",
        "--client-request-token", "e" * 32])  # fmt: skip
    cases = {
        252: [*repo, "put-secret-value", "--secret-id", "e", "--secret-string", SECRET, "--bogus"],
        253: ["--repo", str(tmp_path / "nowhere"), "put-secret-value", "--secret-id", "e",
              "--secret-string", SECRET],
        254: [*repo, "put-secret-value", "--secret-id", "e", "--secret-string", SECRET,
              "--client-request-token", "e" * 32],
    }  # fmt: skip
    for code, args in cases.items():
        done = run_gitsm(args)
        assert done.returncode == code, (code, done.stderr)
        assert b"EXAMPLE-PASSWORD" not in done.stderr and b"Traceback" not in done.stderr
    assert (
        b"An error occurred (ResourceExistsException) when calling the PutSecretValue"
        in done.stderr
    )
    lock = store / ".git" / "gitsm.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # an environment nobody planned for (the lock file is a directory): exit 253
    done = run_gitsm([*repo, "put-secret-value", "--secret-id", "e", "--secret-string", SECRET])
    assert done.returncode == 253, done.stderr
    assert b"Is a directory" in done.stderr and str(lock).encode() in done.stderr
    assert b"Nothing was written." in done.stderr
    assert b"EXAMPLE-PASSWORD" not in done.stderr and b"Traceback" not in done.stderr


def test_start_up_imports_stay_lazy(store: Path) -> None:
    """--help loads neither the store nor pygit2/cryptography; no command loads pydantic or rich."""
    probe = (
        "import sys\nfrom gitsm.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = ('pygit2', 'cryptography', 'pydantic', 'rich', 'jmespath', 'gitsm.store')\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    python = str(Path(GITSM_BIN).with_name("python"))
    help_run = subprocess.run([python, "-c", probe, "--help"], capture_output=True, text=True)
    assert help_run.stderr.strip() == ""
    get = subprocess.run(
        [python, "-c", probe, "--repo", str(store), "get-secret-value", "--secret-id", "nope"],
        capture_output=True, text=True,
    )  # fmt: skip
    loaded = get.stderr.strip().splitlines()[-1].split()
    assert "pydantic" not in loaded and "rich" not in loaded and "jmespath" not in loaded
    assert sys.executable  # the probe ran under the venv's python, like the entry point
