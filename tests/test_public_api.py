"""The public surface, pinned: a name added to or dropped from it must change this file too."""

from __future__ import annotations

import importlib

import pytest

import gitsm
import gitsm.awsclient
import gitsm.store
from gitsm.awsclient import SecretsManagerClient

PUBLIC = {
    "gitsm": ["SecretStore", "__version__", "client", "init"],
    "gitsm.store": [
        "BatchError",
        "MergeDriverSetup",
        "SecretStore",
        "SecretValue",
        "SyncReport",
        "SyncedOp",
        "WriteResult",
    ],
    "gitsm.awsclient": [
        "ClientError",
        "ParamValidationError",
        "SecretsManagerClient",
        "client",
        "exceptions",
    ],
    "gitsm.cli": ["main", "run_here"],
}

CLIENT_METHODS = [
    "batch_get_secret_value",
    "cancel_rotate_secret",
    "create_secret",
    "delete_resource_policy",
    "delete_secret",
    "describe_secret",
    "exceptions",
    "get_random_password",
    "get_resource_policy",
    "get_secret_value",
    "list_secret_version_ids",
    "list_secrets",
    "put_resource_policy",
    "put_secret_value",
    "remove_regions_from_replication",
    "replicate_secret_to_regions",
    "restore_secret",
    "rotate_secret",
    "stop_replication_to_replica",
    "tag_resource",
    "untag_resource",
    "update_secret",
    "update_secret_version_stage",
    "validate_resource_policy",
]


@pytest.mark.parametrize("module", list(PUBLIC))
def test_all_is_exactly_the_pinned_list_and_every_name_resolves(module: str) -> None:
    loaded = importlib.import_module(module)
    assert sorted(loaded.__all__) == sorted(PUBLIC[module])
    assert len(set(loaded.__all__)) == len(loaded.__all__)
    for name in loaded.__all__:
        assert getattr(loaded, name) is not None, f"{module}.{name}"


def test_the_package_re_exports_the_store_class() -> None:
    assert gitsm.SecretStore is gitsm.store.SecretStore
    with pytest.raises(AttributeError):
        gitsm.NoSuchName  # noqa: B018 - the lazy __getattr__ refuses unknown names


def test_the_client_offers_exactly_the_pinned_operations() -> None:
    public = sorted(n for n in dir(SecretsManagerClient) if not n.startswith("_"))
    assert public == CLIENT_METHODS
    for name in ("ClientError", "ResourceNotFoundException", "InvalidParameterException"):
        assert issubclass(getattr(gitsm.awsclient.exceptions, name), gitsm.awsclient.ClientError)
