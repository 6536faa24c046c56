"""gitsm.history: commit trailers to operations, and the bench script still running."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from gitsm.history import HistoryEntry, parse_trailers

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_cli.py"


def test_parse_trailers() -> None:
    message = (
        "PutSecretValue prod/db\n\n"
        "Gitsm-Operation: PutSecretValue\n"
        "Gitsm-Secret: prod/db\n"
        "Gitsm-Client-Request-Token: a%0Ab%25c\n"
        "Signed-off-by: Someone <s@example.com>\n"
    )
    assert parse_trailers(message) == {
        "Operation": "PutSecretValue",
        "Secret": "prod/db",
        "Client-Request-Token": "a\nb%c",
    }
    assert parse_trailers("Gitsm-Operation: only a subject\n") == {}
    assert parse_trailers("Fix typo\n\nGitsm-Operation is mentioned in prose: here\n") == {}


def test_concerns_name_full_and_partial_arn() -> None:
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:prod/db-AbCdEf"
    when = datetime(2026, 1, 1, tzinfo=UTC)
    entry = HistoryEntry("c", when, "a <a@b>", "s", {"Secret": "prod/db", "Secret-Arn": arn})
    assert entry.concerns("prod/db") and entry.concerns(arn) and entry.concerns(arn[:-7])
    assert not entry.concerns("prod") and not entry.concerns(arn[:-8])
    assert HistoryEntry("c", when, "a <a@b>", "manual edit", {}).operation is None


def test_bench_script_runs(tmp_path: Path) -> None:
    """The bench prints its report (one run, no aws comparison); no timing is checked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "1", "--no-aws"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "gitsm --help" in done.stdout and "gitsm get-secret-value" in done.stdout
