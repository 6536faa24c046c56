"""Replicas through ``gitsm serve`` in normal mode: the Region of a request's SigV4 scope is the
Region whose replicas it sees, and a replica carries its primary's resource policy (AWS replicates
it), which grants and denies there as on the primary."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.test_serve_auth import ACCOUNT, Site, code_of, site

__all__ = ["site"]


def in_region(site: Site, who: str, region: str) -> Any:
    key_id, key_secret = site.keys[who]
    return boto3.client(
        "secretsmanager", endpoint_url=site.server.url, region_name=region,
        aws_access_key_id=key_id, aws_secret_access_key=key_secret,
        config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip


def test_a_replicas_resource_policy_grants_and_denies_in_its_region(site: Site) -> None:
    admin = site.client("admin")
    arn = admin.create_secret(Name="other/rep", SecretString="rep-value-3Vw",
                              AddReplicaRegions=[{"Region": "eu-west-1"}])["ARN"]  # fmt: skip
    replica = arn.replace(":us-east-1:", ":eu-west-1:")
    reader = in_region(site, "reader", "eu-west-1")
    with pytest.raises(ClientError) as exc:  # the server policy lets reader read app/ only
        reader.get_secret_value(SecretId=replica)
    assert code_of(exc)[0] == "AccessDeniedException"
    reader_arn = f"arn:aws:iam::{ACCOUNT}:user/reader"
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal":
             {"AWS": reader_arn}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}  # fmt: skip
    admin.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(allow))
    got = reader.get_secret_value(SecretId=replica)
    assert (got["ARN"], got["SecretString"]) == (replica, "rep-value-3Vw")
    with pytest.raises(ClientError) as exc:  # granted reading, not writing
        reader.put_secret_value(SecretId=replica, SecretString="nope")
    assert code_of(exc)[0] == "AccessDeniedException"
    west_admin = in_region(site, "admin", "eu-west-1")
    with pytest.raises(ClientError) as exc:  # allowed, and refused as a replica
        west_admin.put_secret_value(SecretId=replica, SecretString="nope")
    assert code_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        west_admin.get_resource_policy(SecretId=replica)
    assert code_of(exc)[0] == "InvalidParameterException"
    admin.delete_resource_policy(SecretId=arn)
    admin.remove_regions_from_replication(SecretId=arn, RemoveReplicaRegions=["eu-west-1"])
    admin.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
