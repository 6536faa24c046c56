"""The lists' part of a run of moto's Secrets Manager tests against gitsm: a pytest plugin object
that both runs register (in process, ``gitsm_moto_plugin.py``; over HTTP against ``gitsm serve``,
``gitsm_moto_server_plugin.py``), each with its own list of expected failures.

- tests listed in ``deselected.txt`` do not run (whole files are not even imported);
- tests listed in the run's expected failures must fail: they are marked ``xfail(strict=True)``,
  so a listed test that passes fails the run, as does an unlisted test that fails, and an entry
  naming no collected test of a collected file is a usage error (a list out of date); an entry of
  a kind in ``NOT_RUN_KINDS`` (``docker``) is marked ``xfail(run=False)``: listed, not run;
- the summary counts the run in the list's terms.

Both plugins also import :func:`seeded_uuid4`, an autouse fixture that makes moto's random name
suffixes the same in every run.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gitsm_moto_lists import KINDS, NOT_RUN_KINDS, Entry, ListError, deselected


@pytest.fixture(autouse=True)
def seeded_uuid4(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """``uuid4`` in a moto test module draws from a generator seeded with the test's node id, so
    every run gives a test the same ids. moto's list tests end names with ``str(uuid4())[:6]``, and
    under AWS's word splitting (between letters and digits too) that suffix decides what a
    one-letter search finds: with random suffixes such a test would pass or fail by chance."""
    module = getattr(request.node, "module", None)
    if module is not None and getattr(module, "uuid4", None) is uuid.uuid4:
        rng = random.Random(request.node.nodeid)
        monkeypatch.setattr(module, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))


def relative(item: pytest.Item) -> str:
    """The item's node id from moto's source tree root (``tests/test_secretsmanager/...``)."""
    return item.nodeid[item.nodeid.index("tests/") :] if "tests/" in item.nodeid else item.nodeid


class ListedRun:
    """The hooks that apply ``deselected.txt`` and one list of expected failures to a run."""

    def __init__(self, list_name: str, expected: Callable[[], list[Entry]]) -> None:
        self.list_name, self.expected = list_name, expected

    def lists(self) -> tuple[dict[str, Entry], dict[str, Entry]]:
        """(deselected, expected failures), by node id; a malformed list is a usage error."""
        try:
            return ({e.node_id: e for e in deselected()}, {e.node_id: e for e in self.expected()})
        except ListError as exc:
            raise pytest.UsageError(str(exc)) from None

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        """Whole files listed as deselected are not even imported (test_server.py needs moto's
        server, which needs flask)."""
        for node_id in self.lists()[0]:
            if "::" not in node_id and collection_path.as_posix().endswith(node_id):
                return True
        return None

    @pytest.hookimpl(tryfirst=True)  # before -k and -m narrow the items down
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Deselect the listed tests; mark the expected failures strict xfail. A listed node id
        without its parameters (``test_x`` for ``test_x[a]``) names every parametrization. A
        listed test missing from a file that was collected is a usage error."""
        deselect, expected = self.lists()
        deselect = {n: e for n, e in deselect.items() if "::" in n}
        collected = {relative(item) for item in items}
        bases = {n.split("[")[0] for n in collected}
        files = {n.split("::")[0] for n in collected}
        stale = sorted(
            n for n in [*deselect, *expected]
            if n not in collected and n not in bases and n.split("::")[0] in files
        )  # fmt: skip
        if stale:
            raise pytest.UsageError(
                "listed tests that moto's suite does not have (renamed or removed in this moto "
                "version? update the lists): " + ", ".join(stale)
            )
        kept, dropped = [], []
        for item in items:
            node_id = relative(item)
            base = node_id.split("[")[0]
            if node_id in deselect or base in deselect:
                dropped.append(item)
                continue
            entry = expected.get(node_id) or expected.get(base)
            if entry is not None:
                reason = f"{KINDS[entry.kind]}: {entry.reason}"
                run = entry.kind not in NOT_RUN_KINDS
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True, run=run))
            kept.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept

    def pytest_terminal_summary(
        self, terminalreporter: Any, exitstatus: int, config: pytest.Config
    ) -> None:
        """The run in the list's terms: passed, expected failures (those that ran, those listed
        not to run), moto's own skips, what did not run, and anything unexpected (a failure not
        listed, a listed test that passed)."""
        if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
            return
        stats = terminalreporter.stats
        count = {key: len(stats.get(key, [])) for key in ("passed", "xfailed", "skipped")}
        not_run = sum("[NOTRUN]" in getattr(r, "wasxfail", "") for r in stats.get("xfailed", []))
        unexpected = [r.nodeid for r in stats.get("failed", []) + stats.get("error", [])]
        deselect = self.lists()[0]
        files = [n for n in deselect if "::" not in n]
        write = terminalreporter.write_line
        terminalreporter.section("gitsm moto-suite")
        write(f"passed: {count['passed']}")
        write(f"failed as listed (tests/motosuite/{self.list_name}): {count['xfailed'] - not_run}")
        if any(e.kind in NOT_RUN_KINDS for e in self.lists()[1].values()):
            write(f"listed and not run ({', '.join(sorted(NOT_RUN_KINDS))}): {not_run}")
        write(f"skipped by moto itself: {count['skipped']}")
        write(f"not run (tests/motosuite/deselected.txt): {len(deselect) - len(files)} tests "
              f"and {', '.join(files)}")  # fmt: skip
        if unexpected:
            write("UNEXPECTED (an unlisted failure, or a listed test that passed): " +
                  ", ".join(unexpected), red=True)  # fmt: skip
        else:
            write("unexpected: none", green=True)
