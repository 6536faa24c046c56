"""The benchmarks run end to end in their quick modes and print every metric line.

No timing thresholds here: the benchmark reports numbers; this only checks that it works. Each
takes 5-20 s, so all are marked slow: ``scripts/test`` (the 4-minute suite) leaves them out and
``.ci/run`` runs them right after it (``scripts/test -m slow tests/test_bench_smoke.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_store.py"


def quick_run(script: str, work: Path, home: Path) -> list[str]:
    """The lines a bench script prints in ``--quick`` mode (it must exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITSM_"))}
    env["GITSM_HOME"] = str(home)
    out = subprocess.run(
        [sys.executable, str(BENCH.parent / script), "--quick", "--dir", str(work)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_bench_quick_prints_every_metric(tmp_path: Path) -> None:
    lines = quick_run(BENCH.name, tmp_path / "stores", tmp_path / "home")

    def having(*parts: str) -> list[str]:
        return [line for line in lines if all(p in line for p in parts)]

    for layout in ("hier", "flat"):
        assert len(having("[build]", layout)) == 2
        assert len(having("[size]", layout, "as built", "B/version")) == 2
        assert len(having("[size]", layout, "after", "B/version", "B packed")) == 2
        for fsync in ("on", "off"):
            assert len(having("[write]", layout, f"fsync={fsync}", "writes/s")) == 2
            assert len(having("[floor]", layout, f"fsync={fsync}", "gitsm/raw")) == 2
            assert len(having("[target]", layout, f"fsync={fsync}", "x ->")) == 1
        for what in ("GetSecretValue", "BatchGetSecretValue", "Filters", "ListSecrets every page"):
            assert having("[read]", layout, what, "ms incl. opening the store")
        assert len(having("[target]", layout, "read+decrypt", " ms ->")) == 2
    for fsync in ("on", "off"):
        assert having("[target] hier", f"fsync={fsync}", "writes/s")
    verified = [line for line in lines if "values verified" in line]
    assert verified
    for line in verified:
        done, total = line.split(" values verified")[0].rsplit("; ", 1)[1].split("/")
        assert done == total, line
    assert any(line.startswith("total bench time") for line in lines)


def test_keys_bench_quick_reads_both_ways(tmp_path: Path) -> None:
    """bench_keys.py --quick times every provider and both ways of reading, and judges each."""
    lines = quick_run("bench_keys.py", tmp_path, tmp_path / "home")
    for provider in ("local", "age", "aws-kms"):
        assert [x for x in lines if x.startswith(f"[provider] {provider}") and "unwrap" in x]
    for way in ("GetSecretValue per secret", "bulk (get_secret_values)"):
        assert len([x for x in lines if x.startswith(f"[read] {way}")]) == 2
        assert [x for x in lines if x.startswith(f"[target] {way}: age/local read time")]
    assert [x for x in lines if x.startswith("[target] overall: ")]


def test_sync_bench_quick_prints_every_figure(tmp_path: Path) -> None:
    """bench_sync.py --quick races both ways, times the replay and the idle sync, and judges them."""
    lines = quick_run("bench_sync.py", tmp_path / "work", tmp_path / "home")
    races = [line for line in lines if line.startswith("[race]")]
    assert len(races) == 2 and "gitsm sync" in races[0] and "git pull --rebase" in races[1]
    assert " 0 of " in races[0] and "new versions lost" in races[0]  # sync loses nothing
    replays = [line for line in lines if line.startswith("[replay]") and "beyond the fetch" in line]
    assert len(replays) == 2  # a bare clone and a checkout
    targets = [line for line in lines if line.startswith("[target]")]
    assert len(targets) == 3 and all(" -> " in line for line in targets)
    assert any(line.startswith("[idle]") for line in lines)


def test_range_bench_quick_prints_every_figure(tmp_path: Path) -> None:
    """bench_range.py --quick times verify of the tip, two ranges and a hooked push."""
    lines = quick_run("bench_range.py", tmp_path / "work", tmp_path / "home")
    assert any(line.startswith("[verify] tip:") for line in lines)
    assert len([line for line in lines if line.startswith("[range]")]) == 2
    assert any(line.startswith("[target]") and " -> " in line for line in lines)
    hook = [line for line in lines if line.startswith("[pre-receive]")]
    assert len(hook) == 1 and "(accepted)" in hook[0]


def test_parse_bench_quick_judges_every_hostile_file(tmp_path: Path) -> None:
    """bench_parse.py --quick verifies every file of the hostile corpus, one problem each, and
    prints the whole-corpus run, the worst case, the peer and the target."""
    lines = quick_run("bench_parse.py", tmp_path / "corpus", tmp_path / "home")
    files = [line for line in lines if line.startswith("[file] ")]
    assert len(files) == 42 and all(line.endswith("problems=1") for line in files), files
    assert {line.split()[2] for line in files} == {"manifest", "config", "envelope"}
    (everything,) = [line for line in lines if line.startswith("[all] ")]
    assert "all 32 hostile files" in everything, everything  # one config of the 11 at a time
    assert everything.endswith("exit 1")
    assert [line for line in lines if line.startswith("[worst] in-process ")]
    assert [line for line in lines if line.startswith("[peer] PyYAML safe load")]
    (target,) = [line for line in lines if line.startswith("[target] ")]
    assert " -> " in target


def test_serve_bench_quick_prints_every_figure() -> None:
    """bench_serve.py --quick runs gitsm serve and moto_server side by side and prints each figure
    and each target (~20 s, so slow; it needs wrk)."""
    if shutil.which("wrk") is None:
        pytest.skip("WRK IS NOT INSTALLED: apt-get install wrk (bench_serve.py needs it)")
    out = subprocess.run([sys.executable, str(BENCH.parent / "bench_serve.py"), "--quick",
                          "--seconds", "1"], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for label in ("[hot] gitsm", "[hot] moto", "[cold] gitsm", "[cold] moto"):
        [line] = [x for x in lines if x.strip().startswith(label)]
        assert "req/s" in line and "p99" in line and "NON-2xx" not in line, line
    assert "cache misses" in next(x for x in lines if "[cold] gitsm" in x)
    assert len([x for x in lines if "[boto3]" in x and "calls/s" in x]) == 2
    writes = [x for x in lines if "[write]" in x and "writes/s" in x]
    assert len(writes) == 4 and len([x for x in writes if "pre-signed raw HTTP" in x]) == 2
    assert len([x for x in lines if x.startswith("[target]")]) == 6
    assert [x for x in lines if x.startswith("[figure] writes through boto3")]


def test_start_bench_quick_times_each_command_against_the_floor(tmp_path: Path) -> None:
    """bench_start.py --quick times the hot commands cold and through the agent, the bare
    interpreter and the peers, and judges the cold read and the agent's read and writes."""
    lines = quick_run("bench_start.py", tmp_path / "work", tmp_path / "home")
    for name in ("python -c pass", "gitsm get-secret-value", "gitsm put-secret-value",
                 "gitsm list-secrets", "agent get-secret-value", "agent update-secret ",
                 "agent update-secret fsync", "agent list-secrets"):  # fmt: skip
        assert [x for x in lines if name in x and "x the floor" in x], name
    for peer in ("pass show", "pass insert", "gopass show", "sops -d"):
        assert [x for x in lines if x.strip().startswith(peer)], peer
    targets = [x for x in lines if x.startswith("[target]")]
    assert [x for x in targets if x.startswith("[target] cold get-secret-value")]
    assert [x for x in targets if x.startswith("[target] agent get-secret-value")]
    if shutil.which("pass"):  # .ci/run installs it
        assert len([x for x in targets if x.startswith("[target] agent update-secret")]) == 2


def test_listing_bench_quick_prints_every_figure(tmp_path: Path) -> None:
    """bench_listing.py --quick times the first page cold and warm, a filtered batch read, the
    index update and the three verifies at both sizes, and judges both targets."""
    lines = quick_run("bench_listing.py", tmp_path / "work", tmp_path / "home")
    for n in ("100", "300"):
        listed = [x for x in lines if x.startswith(f"[list] {n} secrets")]
        assert len(listed) == 4 and all(" ms" in x for x in listed), listed
        assert len([x for x in lines if x.startswith(f"[filter] {n} secrets")]) == 1
        verified = [x for x in lines if x.startswith(f"[verify] {n} secrets")]
        assert len(verified) == 3 and all("(n=0)" in x for x in verified), verified
        assert [x for x in lines if x.startswith(f"[peer] pass ls, {n} entries")]
    agent = [x for x in lines if x.startswith("[agent]")]
    assert len(agent) == 2 and all("through the warm agent" in x for x in agent), agent
    targets = [x for x in lines if x.startswith("[target]")]
    assert len(targets) == 4 and all(" -> " in x for x in targets)


def test_writes_bench_quick_judges_size_and_versions(tmp_path: Path) -> None:
    """bench_writes.py --quick times writes against store size (checkout, split index and bare,
    fsync off and on) and against a secret's versions, and prints a target line for each ratio."""
    lines = quick_run("bench_writes.py", tmp_path / "stores", tmp_path / "home")
    for mode in ("checkout", "split", "bare"):
        assert len([x for x in lines if x.startswith("[build]") and mode in x]) == 2
        for fsync in ("on", "off"):
            found = [x for x in lines if x.startswith(f"[write] {mode}") and f"={fsync}:" in x]
            assert len(found) == 2 and all("ms/write" in x for x in found)
            assert [x for x in lines if x.startswith(f"[target] {mode} fsync={fsync}")]
    assert "100 held" in next(x for x in lines if x.startswith("[versions] bench/many"))
    assert len([x for x in lines if x.startswith("[versions] UpdateSecret")]) == 3
    judged = [x for x in lines if x.startswith("[target]")]
    assert len(judged) == 8 and all(x.endswith(("MET", "MISSED")) for x in judged)


def test_materialize_bench_times_gitsm_cold_and_through_the_agent(tmp_path: Path) -> None:
    """bench_materialize.py on 20 secrets (peers left out) times materialize in a fresh process
    and through a warm agent, checking every file each time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITSM_"))}
    out = subprocess.run(
        [sys.executable, str(BENCH.parent / "bench_materialize.py"), "--count", "20", "--runs",
         "1", "--no-peers", "--dir", str(tmp_path / "work"), "--out-root", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [x for x in lines if "fresh process (start-up included): median" in x]
    assert [x for x in lines if "through a warm agent: median" in x]


def test_bench_inodes_quick_times_creation_after_each_count(tmp_path: Path) -> None:
    """bench_inodes.py --quick times file creation after 0 and 50 freed files, and removes its
    directory."""
    lines = quick_run("bench_inodes.py", tmp_path, tmp_path / "home")
    assert lines[0].startswith("[inodes] ") and " on " in lines[0]
    timed = [line for line in lines if "files freed a second before" in line]
    assert [line.split()[1] for line in timed] == ["0", "50"]
    assert all(" us (median)" in line for line in timed)
    assert list(tmp_path.iterdir()) == []
