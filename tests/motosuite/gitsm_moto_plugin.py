"""A pytest plugin that runs moto's own Secrets Manager tests against gitsm (``scripts/moto-suite``).

Loaded with ``-p gitsm_moto_plugin`` in a run of moto's ``tests/test_secretsmanager``:

- every ``boto3.client("secretsmanager", ...)`` (``boto3.session.Session.client``, which
  ``boto3.client`` calls) made inside a test returns ``gitsm.client`` on a gitsm store made for
  that test: one bare store per account the test uses (``gitsm.init`` with that account id and
  the first region a client of it names), shared by every client the test makes for that account,
  each with its own region (``region_name``: the ARNs it makes and accepts), as ``gitsm serve``
  serves every region of one store. A gitsm store is not partitioned by region
  (docs/SEMANTICS.md, "Identifiers"): a replica in another region is the same secret
  ("Replication"), so a test that creates one name in two regions gets ResourceExistsException,
  as it does against ``gitsm serve``. Every other service (lambda, iam, sts, dynamodb) is moto's,
  under the test's own ``mock_aws``.
- the stores are throwaway: fsync off, a private ``GITSM_HOME`` (key ring) for the run, a git
  identity; freezegun's default ignore list loses ``"gi"`` (README, Library), so gitsm's dates
  follow ``freeze_time`` as moto's do.
- rotation: every store has gitsm's generic password function (``gitsm.rotation.password``) as its
  default rotation function, so a RotateSecret without RotationLambdaARN rotates (gitsm's managed
  rotation) where it would otherwise be refused. When a test passes ``RotationLambdaARN`` naming a
  Lambda function that exists in moto, the plugin registers a rotation function of that name in the
  test's store first. Its command (``gitsm_moto_lambda.py``) invokes that moto Lambda function with
  the step's event, through a small HTTP bridge into this process (where moto's backends live), as
  Secrets Manager invokes the Lambda, and then does the step's work with gitsm's generic password
  function (``gitsm.rotation.password``), since moto's Lambda functions run no code here (no
  docker). The bridge and the default function are ``gitsm_moto_bridge.py``'s, shared with the
  server-mode plugin.
- tests listed in ``deselected.txt`` do not run (they assert moto internals or need moto's
  server), and tests listed in ``expected_failures.txt`` must fail: they are marked
  ``xfail(strict=True)``, so a listed test that passes fails the run, as does an unlisted test
  that fails, and an entry naming no collected test is a usage error.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3.session
import freezegun
import pytest
from botocore.exceptions import NoRegionError
from freezegun.config import DEFAULT_IGNORE_LIST
from gitsm_moto_bridge import (
    BRIDGE_ENV,
    DEFAULT_COMMAND,
    DEFAULT_FUNCTION,
    bridge_command,
    moto_function_exists,
    start_bridge,
)
from gitsm_moto_lists import EXPECTED_FAILURES, expected_failures
from gitsm_moto_marks import ListedRun, seeded_uuid4  # noqa: F401 (an autouse fixture)

import gitsm
from gitsm import rotationstate
from gitsm.awsclient import SecretsManagerClient

# -- the stores ----------------------------------------------------------------------------------


@dataclass
class Stores:
    """The gitsm stores of the running test: one per account (every region's clients share it,
    as every region's requests share ``gitsm serve``'s store), made on first use."""

    root: Path
    stores: dict[str, Path] = field(default_factory=dict)

    def path(self, account_id: str, region: str) -> Path:
        """The store of ``account_id`` (created the first time, with ``region`` in its config)."""
        key = account_id
        if key not in self.stores:
            path = self.root / f"{account_id}.git"
            store = gitsm.init(path, bare=True, account_id=account_id, region=region, fsync=False)
            store.register_rotation_function(DEFAULT_FUNCTION, DEFAULT_COMMAND)
            store.set_default_rotation_function(DEFAULT_FUNCTION)
            self.stores[key] = path
        return self.stores[key]


_current: Stores | None = None
_original_client = boto3.session.Session.client


def _account_id() -> str:
    """The account moto's tests run as (moto's default, or ``MOTO_ACCOUNT_ID``)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    return os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID


class MotoSuiteClient(SecretsManagerClient):
    """gitsm's client, which before a RotateSecret naming a moto Lambda function registers that
    function in the store (a command that invokes it through the bridge)."""

    def rotate_secret(self, **p: Any) -> dict[str, Any]:
        """RotateSecret, with the moto Lambda function it names registered first."""
        arn = p.get("RotationLambdaARN")
        if isinstance(arn, str) and moto_function_exists(arn):
            name = rotationstate.function_name(arn)
            self.store.register_rotation_function(name, bridge_command(arn))
        return super().rotate_secret(**p)


def _client(self: boto3.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
    """``Session.client``: a gitsm client for secretsmanager inside a test, else boto3's."""
    if service_name != "secretsmanager" or _current is None:
        return _original_client(self, service_name, *args, **kwargs)
    region = (args[0] if args else kwargs.get("region_name")) or self.region_name
    if region is None:
        raise NoRegionError()
    path = _current.path(kwargs.get("aws_account_id") or _account_id(), region)
    base = gitsm.client(repo=path, region_name=region, fsync=False, config=kwargs.get("config"))
    return MotoSuiteClient(base.store, check_minimums=base.check_minimums)


@pytest.fixture(autouse=True)
def _gitsm_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """This test's stores (made when its first secretsmanager client is)."""
    global _current
    _current = Stores(tmp_path_factory.mktemp("stores"))
    try:
        yield _current
    finally:
        _current = None


# -- pytest hooks --------------------------------------------------------------------------------

_bridge: ThreadingHTTPServer | None = None
_home: tempfile.TemporaryDirectory[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point boto3's secretsmanager clients at gitsm, start the bridge, isolate gitsm."""
    global _bridge, _home
    freezegun.configure(default_ignore_list=[m for m in DEFAULT_IGNORE_LIST if m != "gi"])
    _home = tempfile.TemporaryDirectory(prefix="gitsm-moto-home-")
    os.environ["GITSM_HOME"] = _home.name
    os.environ["GITSM_FSYNC"] = "0"
    os.environ.pop("GITSM_LOCAL_KEYS", None)
    for name in ("GIT_AUTHOR", "GIT_COMMITTER"):
        os.environ[f"{name}_NAME"] = "moto suite"
        os.environ[f"{name}_EMAIL"] = "moto-suite@example.com"
    boto3.session.Session.client = _client  # type: ignore[method-assign]
    _bridge, os.environ[BRIDGE_ENV] = start_bridge()
    config.pluginmanager.register(ListedRun(EXPECTED_FAILURES.name, expected_failures), "listed")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Undo what pytest_configure did."""
    boto3.session.Session.client = _original_client  # type: ignore[method-assign]
    if _bridge is not None:
        _bridge.shutdown()
    if _home is not None:
        _home.cleanup()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say what runs against what."""
    import moto

    return [
        f"gitsm_moto_plugin: moto {moto.__version__}'s tests, secretsmanager served by gitsm "
        f"{gitsm.__version__} (other services by moto)"
    ]
