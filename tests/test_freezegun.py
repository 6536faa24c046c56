"""gitsm follows freezegun's frozen clock, once freezegun stops ignoring it (README, Library).

freezegun's default ignore list holds ``"gi"``, a module-name prefix that matches every ``gitsm``
module: calls from gitsm get the real time. Dropping that entry (the README's one line) makes
CreatedDate, LastChangedDate, DeletedDate and DeletionDate the frozen time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import freezegun
import freezegun.config
import pytest

import gitsm

FROZEN = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)


@pytest.fixture
def without_gi() -> Iterator[None]:
    """The README's workaround, undone after the test (freezegun's settings are global)."""
    kept = list(freezegun.config.settings.default_ignore_list)
    freezegun.configure(
        default_ignore_list=[m for m in freezegun.config.DEFAULT_IGNORE_LIST if m != "gi"]
    )
    yield
    freezegun.configure(default_ignore_list=kept)


def test_dates_follow_the_frozen_clock(bare_path: Path, without_gi: None) -> None:
    with freezegun.freeze_time(FROZEN):
        client = gitsm.client(repo=bare_path)
        client.create_secret(Name="frozen", SecretString="v")
        described = client.describe_secret(SecretId="frozen")
        assert described["CreatedDate"] == FROZEN
        assert described["LastChangedDate"] == FROZEN
        assert client.get_secret_value(SecretId="frozen")["CreatedDate"] == FROZEN
    with freezegun.freeze_time(FROZEN + timedelta(days=1)) as frozen:
        client.update_secret(SecretId="frozen", Description="changed")
        assert client.describe_secret(SecretId="frozen")["LastChangedDate"] == FROZEN + timedelta(
            days=1
        )
        frozen.tick(timedelta(hours=2))
        later = FROZEN + timedelta(days=1, hours=2)
        out = client.delete_secret(SecretId="frozen", RecoveryWindowInDays=7)
        assert out["DeletionDate"] == later + timedelta(days=7)
        assert client.describe_secret(SecretId="frozen")["DeletedDate"] == later


def test_with_the_default_ignore_list_gitsm_sees_the_real_time(bare_path: Path) -> None:
    assert "gi" in freezegun.config.settings.default_ignore_list  # why the README's line exists
    with freezegun.freeze_time(FROZEN):
        client = gitsm.client(repo=bare_path)
        client.create_secret(Name="real", SecretString="v")
        created = client.describe_secret(SecretId="real")["CreatedDate"]
    assert created != FROZEN
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=10)
