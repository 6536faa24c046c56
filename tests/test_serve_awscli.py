"""The aws CLI against ``gitsm serve``: the ``update-secret`` examples of the AWS CLI reference
page (docs.aws.amazon.com/cli/latest/reference/secretsmanager/update-secret.html), run verbatim
through bash with only ``--endpoint-url`` added, answer with the page's output shapes.

The aws CLI lives in ``.venv-awscli/`` (``scripts/setup-awscli``; .ci/run runs it), never in
``.venv``, since awscli pins its own botocore. Examples 1 and 2 are the page's; the stored copies
of the current page stop there, so the value change is the example of the page's earlier revision
("To create a new version of the encrypted secret value", output ARN, Name and VersionId) with the
value of the aws CLI's put-secret-value example, as tests/cli/test_entrypoint.py runs it against
the gitsm CLI.

Example 2 names ``arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE``.
gitsm takes it as a key id when the store's key registry (.gitsm/config.yaml) has an entry of that
name: the test maps it to the store's local key, as a store admin without AWS KMS would
(docs/SEMANTICS.md, Keys). The store is in us-west-2 and account 123456789012, the page's.

The server runs in test mode (``--test-reset``), which checks no signature. A wrong access key is
for the SigV4 work to cover: it is not here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import git
from tests.servekit import ACCESS_KEY, SECRET_KEY, Server, new_store, serving

ROOT = Path(__file__).resolve().parent.parent
AWS = ROOT / ".venv-awscli" / "bin" / "aws"
KMS_ARN = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"
EXAMPLES = [
    (  # Example 1: To update the description of a secret
        """aws secretsmanager update-secret \\
    --secret-id MyTestSecret \\
    --description "This is a new description for the secret." """,
        {"ARN": "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret-a1b2c3",
         "Name": "MyTestSecret"},
    ),
    (  # Example 2: To update the encryption key associated with a secret
        """aws secretsmanager update-secret \\
    --secret-id MyTestSecret \\
    --kms-key-id arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE""",
        {"ARN": "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret-a1b2c3",
         "Name": "MyTestSecret"},
    ),
    (  # the value change (the page's earlier revision; the put-secret-value example's value)
        """aws secretsmanager update-secret \\
    --secret-id MyTestSecret \\
    --secret-string "{\\"user\\":\\"diegor\\",\\"password\\":\\"EXAMPLE-PASSWORD\\"}" """,
        {"ARN": "arn:aws:secretsmanager:us-west-2:123456789012:secret:MyTestSecret-a1b2c3",
         "Name": "MyTestSecret", "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"},
    ),
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not AWS.exists(),
    reason=f"THE AWS CLI IS NOT INSTALLED ({AWS} is missing): run scripts/setup-awscli",
)


def aws_env(tmp: Path) -> dict[str, str]:
    """The aws CLI's environment: the page's region, dummy keys, no user config, no pager."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{AWS.parent}{os.pathsep}{env.get('PATH', '')}",
        AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-west-2", AWS_CONFIG_FILE=str(tmp / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"), AWS_PAGER="",
        AWS_EC2_METADATA_DISABLED="true",
    )  # fmt: skip
    return env


def run_example(command: str, server: Server, env: dict[str, str]) -> dict[str, Any]:
    """The page's command, verbatim, with ``--endpoint-url`` added, through bash; its JSON."""
    line = f"{command.rstrip()} \\\n    --endpoint-url {server.url}"
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, f"{line}\n{done.stderr}"
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def map_kms_arn_to_the_local_key(store: Path) -> None:
    """Register the example's KMS key ARN in the store's key registry, pointing at the store's
    local default key (one commit, as a store admin makes it)."""
    config = store / ".gitsm" / "config.yaml"
    text = config.read_text()
    key_id = yaml.safe_load(text)["keys"]["alias/aws/secretsmanager"][0]["key_id"]
    config.write_text(text.replace("keys:\n", f"keys:\n  {KMS_ARN}:\n  - provider: local\n"
                                              f"    key_id: {key_id}\n", 1))  # fmt: skip
    git(store, "commit", "-qam", "Map the example KMS key ARN to the local key")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """gitsm serve (test mode) on a checkout store in us-west-2, account 123456789012."""
    store = new_store(tmp_path / "store", tmp_path / "home", region="us-west-2",
                      account_id="123456789012")  # fmt: skip
    with serving(tmp_path, repo=store) as running:
        yield running


def test_update_secret_examples_of_the_reference_page(server: Server, tmp_path: Path) -> None:
    sm = server.client(region="us-west-2")
    made = sm.create_secret(Name="MyTestSecret", SecretString="first value")
    if server.kind == "gitsm":
        assert server.repo is not None
        map_kms_arn_to_the_local_key(server.repo)
    env = aws_env(tmp_path)
    for command, page in EXAMPLES:
        out = run_example(command, server, env)
        print(f"$ {command}\n{json.dumps(out, indent=4)}")  # the page's Output, from gitsm
        assert list(out) == list(page), (out, page)
        assert out["ARN"] == made["ARN"] and out["Name"] == "MyTestSecret"
        assert out["ARN"].startswith("arn:aws:secretsmanager:us-west-2:123456789012:secret:"
                                     "MyTestSecret-")  # fmt: skip
    described = sm.describe_secret(SecretId="MyTestSecret")
    assert described["Description"] == "This is a new description for the secret."
    assert described["KmsKeyId"] == KMS_ARN
    value = sm.get_secret_value(SecretId="MyTestSecret")
    assert json.loads(value["SecretString"]) == {"user": "diegor", "password": "EXAMPLE-PASSWORD"}
    assert value["VersionId"] == out["VersionId"]
    previous = sm.get_secret_value(SecretId="MyTestSecret", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "first value"
