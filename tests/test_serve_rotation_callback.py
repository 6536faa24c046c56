"""A rotation function that calls back into the ``gitsm serve`` that runs it, as an AWS rotation
Lambda calls Secrets Manager: its PutSecretValue and UpdateSecretVersionStage must be served while
the RotateSecret that started it waits for it (a real server, real boto3 on both sides)."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from gitsm.store import SecretStore
from tests.servekit import free_port
from tests.serving import Served, make_store

FUNCTION = textwrap.dedent(
    """\
    import json, sys
    import boto3
    from botocore.config import Config

    event = json.load(sys.stdin)
    client = boto3.client(
        "secretsmanager", endpoint_url=sys.argv[1], region_name="us-east-1",
        aws_access_key_id="AKIDTEST", aws_secret_access_key="test-secret",
        config=Config(retries={"max_attempts": 1}, read_timeout=15, connect_timeout=5),
    )
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step == "createSecret":
        client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                SecretString="rotated through the endpoint",
                                VersionStages=["AWSPENDING"])
    elif step == "finishSecret":
        stages = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
        current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
        client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                           MoveToVersionId=token, RemoveFromVersionId=current)
    """
)


def test_a_rotation_function_calling_the_server_back_is_served(tmp_path: Path) -> None:
    repo, home = make_store(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    script = tmp_path / "callback.py"
    script.write_text(FUNCTION)
    os.environ["GITSM_HOME"] = str(home)  # the root conftest restores it after the test
    SecretStore.open(repo).register_rotation_function(
        "callback", [sys.executable, str(script), url], timeout_seconds=60
    )
    served = Served(repo, home, "--test-reset", "--port", str(port))
    try:
        client = served.client(read_timeout=90)
        client.create_secret(Name="app/db", SecretString="before")
        out = client.rotate_secret(SecretId="app/db", RotationLambdaARN="callback",
                                   RotationRules={"AutomaticallyAfterDays": 30})  # fmt: skip
        value = client.get_secret_value(SecretId="app/db")
        assert value["SecretString"] == "rotated through the endpoint"
        assert value["VersionId"] == out["VersionId"]
        stages = client.describe_secret(SecretId="app/db")["VersionIdsToStages"]
        assert sorted(map(sorted, stages.values())) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    finally:
        served.stop()
