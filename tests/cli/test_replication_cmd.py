"""The replication commands, as the aws CLI spells them: create-secret --add-replica-regions,
replicate-secret-to-regions, remove-regions-from-replication, stop-replication-to-replica; and
--region, which picks the Region whose replicas a command sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Invoke, run_gitsm
from tests.conftest import commits

IN_SYNC = {"KmsKeyId": "alias/aws/secretsmanager", "Status": "InSync",
           "StatusMessage": "Replication succeeded"}  # fmt: skip


def out(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    return json.loads(result.stdout)


def test_the_aws_cli_examples(cli: Invoke, store: Path) -> None:
    """The aws CLI's examples of replicate-secret-to-regions and remove-regions-from-replication
    (its store is in us-west-2, as theirs)."""
    created = out(cli("create-secret", "--name", "MyTestSecret", "--secret-string", "x",
                      "--add-replica-regions", "Region=eu-west-1"))  # fmt: skip
    assert created["ReplicationStatus"] == [{"Region": "eu-west-1", **IN_SYNC}]
    before = commits(store)
    added = out(cli("replicate-secret-to-regions", "--secret-id", "MyTestSecret",
                    "--add-replica-regions", "Region=eu-west-3"))  # fmt: skip
    assert added == {"ARN": created["ARN"], "ReplicationStatus": [
        {"Region": "eu-west-1", **IN_SYNC}, {"Region": "eu-west-3", **IN_SYNC}]}  # fmt: skip
    assert commits(store) == before + 1
    removed = out(cli("remove-regions-from-replication", "--secret-id", "MyTestSecret",
                      "--remove-replica-regions", "eu-west-3", "eu-west-1"))  # fmt: skip
    assert removed == {"ARN": created["ARN"], "ReplicationStatus": []}
    assert commits(store) == before + 2


def test_region_picks_the_replica(cli: Invoke, store: Path, tmp_path: Path) -> None:
    arn = out(cli("create-secret", "--name", "app", "--secret-string", "replicated-value"))["ARN"]
    request = tmp_path / "add.json"
    request.write_text(json.dumps({"SecretId": "app", "AddReplicaRegions": [
        {"Region": "eu-west-1", "KmsKeyId": "alias/aws/secretsmanager"}],
        "ForceOverwriteReplicaSecret": True}))  # fmt: skip
    out(cli("replicate-secret-to-regions", "--cli-input-json", f"file://{request}"))
    replica = arn.replace(":us-west-2:", ":eu-west-1:")
    described = out(cli("--region", "eu-west-1", "describe-secret", "--secret-id", "app"))
    assert (described["ARN"], described["PrimaryRegion"]) == (replica, "us-west-2")
    value = cli("get-secret-value", "--secret-id", replica, "--region", "eu-west-1",
                "--query", "SecretString", "--output", "text")  # fmt: skip
    assert value.stdout == "replicated-value\n"
    before = commits(store)
    refused = cli("--region", "eu-west-1", "put-secret-value", "--secret-id", "app",
                  "--secret-string", "never-written")  # fmt: skip
    assert refused.exit_code == 254
    assert refused.stderr.strip() == (
        "An error occurred (InvalidParameterException) when calling the PutSecretValue "
        "operation: Operation not permitted on a replica secret. Call must be made in primary "
        "secret's region."
    )
    undeleted = cli("delete-secret", "--secret-id", "app")
    assert undeleted.exit_code == 254
    assert f"You can't delete secret {arn} that still has replica regions [eu-west-1]." in (
        undeleted.stderr
    )
    assert commits(store) == before


def test_stop_replication_is_refused_and_own_region_is_invalid(cli: Invoke, store: Path) -> None:
    out(cli("create-secret", "--name", "app", "--secret-string", "x",
            "--add-replica-regions", "Region=eu-west-1"))  # fmt: skip
    before = commits(store)
    stopped = cli("--region", "eu-west-1", "stop-replication-to-replica", "--secret-id", "app")
    assert stopped.exit_code == 254
    assert "(InvalidRequestException) when calling the StopReplicationToReplica" in stopped.stderr
    assert "a gitsm store holds one secret per name" in stopped.stderr
    own = cli("replicate-secret-to-regions", "--secret-id", "app",
              "--add-replica-regions", "Region=us-west-2")  # fmt: skip
    assert own.exit_code == 254
    assert own.stderr.endswith("(InvalidParameterException) when calling the "
                               "ReplicateSecretToRegions operation: Invalid replica region.\n")  # fmt: skip
    assert commits(store) == before


def test_the_entry_point_runs_them(store: Path) -> None:
    """The installed command (the lean path where it applies), exit codes included."""
    repo = ["--repo", str(store)]
    made = run_gitsm([*repo, "create-secret", "--name", "e", "--secret-string", "v",
                      "--add-replica-regions", "Region=ap-south-1"])  # fmt: skip
    assert made.returncode == 0, made.stderr
    seen = run_gitsm([*repo, "--region", "ap-south-1", "list-secrets", "--query",
                      "SecretList[].[ARN, PrimaryRegion]", "--output", "text"])  # fmt: skip
    assert seen.returncode == 0 and b":ap-south-1:" in seen.stdout and b"us-west-2" in seen.stdout
    gone = run_gitsm([*repo, "remove-regions-from-replication", "--secret-id", "e",
                      "--remove-replica-regions", "ap-south-1"])  # fmt: skip
    assert gone.returncode == 0 and json.loads(gone.stdout)["ReplicationStatus"] == []
    bad = run_gitsm([*repo, "remove-regions-from-replication", "--secret-id", "e"])
    assert bad.returncode == 252 and b"--remove-replica-regions" in bad.stderr
