"""The moto suite's lists (tests/motosuite/*.txt) are well formed and docs/SEMANTICS.md shows
them as they are: the run of moto's tests (scripts/moto-suite) is not part of this suite, but its
lists are cheap to check here."""

from __future__ import annotations

import re

from tests.motosuite.gitsm_moto_lists import (
    SEMANTICS,
    deselected,
    expected_failures,
    rewrite,
    server_expected_failures,
)


def test_semantics_shows_the_lists_as_they_are() -> None:
    text = SEMANTICS.read_text(encoding="utf-8")
    assert rewrite(text) == text, "run: python tests/motosuite/gitsm_moto_lists.py"


def test_every_listed_test_has_a_reason_of_its_kind() -> None:
    headings = set(re.findall(r"^## (.+)$", SEMANTICS.read_text(encoding="utf-8"), re.M))
    failures, skipped = expected_failures(), deselected()
    assert failures and skipped
    for entry in failures:
        assert entry.node_id.startswith("tests/test_secretsmanager/"), entry
        if entry.kind == "gitsm":  # a rule of SEMANTICS.md, named by its section
            named = re.findall(r"SEMANTICS\.md, ([^)]+?)\)", entry.reason)
            assert named and all(any(h.startswith(n) for h in headings) for n in named), entry
        else:  # what AWS does, and where AWS says so
            assert "AWS" in entry.reason or "API reference" in entry.reason, entry
    assert {e.node_id for e in failures}.isdisjoint(e.node_id for e in skipped)


PASS_IN_SERVER_MODE = {
    "tests/test_secretsmanager/test_secretsmanager.py::test_rotate_secret":
        "its NextRotationDate check, the one it fails in process, runs only in decorator mode "
        "(moto skips it under TEST_SERVER_MODE)",
}  # fmt: skip
"""In-process failures whose failing check moto's test skips in server mode."""


def test_the_server_runs_list_gives_every_failure_a_reason_of_its_kind() -> None:
    """server_expected_failures.txt (scripts/moto-suite --server): every failure of the in-process
    run fails there for the same reason, and the rest are tests whose moto Lambda function's code
    must run, which needs docker (kind docker), as the reason says."""
    headings = set(re.findall(r"^## (.+)$", SEMANTICS.read_text(encoding="utf-8"), re.M))
    server = {e.node_id: e for e in server_expected_failures()}
    for entry in expected_failures():
        if entry.node_id in PASS_IN_SERVER_MODE:
            assert entry.node_id not in server, entry
            continue
        assert server.get(entry.node_id) == entry, entry
    for entry in server.values():
        assert entry.node_id.startswith("tests/test_secretsmanager/"), entry
        if entry.kind == "docker":
            assert "Lambda function's code" in entry.reason and "docker" in entry.reason, entry
        elif entry.kind == "gitsm":
            named = re.findall(r"SEMANTICS\.md, ([^)]+?)\)", entry.reason)
            assert named and all(any(h.startswith(n) for h in headings) for n in named), entry
        else:
            assert "AWS" in entry.reason or "API reference" in entry.reason, entry
    assert set(server).isdisjoint(e.node_id for e in deselected())
