"""Hostile store trees (``tests/hostile.py``): what an attacker with push access could commit.

Each hostile file (a YAML alias bomb, an anchor, a tag, a file over its byte limit, a field of the
wrong type, a symbolic link, a gitlink, an executable) must be one named problem in
``gitsm verify --rev`` (exit 1, no traceback), judged in well under a second and in bounded memory,
and reads of the same tree must refuse it with a clear error and a documented exit code (253 for
a manifest or the config, 254 DecryptionFailure for an envelope), never 255.

The corpus is built once for the module; the CLI runs in-process for every case and through the
installed entry point (a subprocess, measured with ``os.wait4``) for the bounds and a sample.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitsm import paths
from gitsm.cli.app import app
from gitsm.store import SecretStore
from gitsm.verify import run_verify
from tests.cli.conftest import GITSM_BIN, run_gitsm
from tests.conftest import git
from tests.hostile import ALL, BASE, Case, build, together

MB = 1024 * 1024
Corpus = tuple[Path, list[Case]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The base store and every hostile case, each on its branch ``h/<case>``."""
    return build(tmp_path_factory.mktemp("hostile"))


def on_branch(store: Path, branch: str) -> None:
    """Point the bare store's HEAD (the branch its reads use) at ``branch``."""
    git(store, "symbolic-ref", "HEAD", f"refs/heads/{branch}")


def invoke(store: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process on ``store``: exit code, stdout, stderr."""
    result = CliRunner().invoke(app, ["--repo", str(store), *args])
    return result.exit_code, result.stdout, result.stderr


def measured(*args: str) -> tuple[int, str, str, float, int]:
    """Run the installed ``gitsm`` entry point: exit code, stdout, stderr, CPU seconds and the
    process's own peak resident memory in bytes (``os.wait4`` reports both for that child alone;
    CPU time, unlike wall time, does not grow with the machine's load)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(GITSM_BIN), *args], stdout=out, stderr=err, env=dict(os.environ)
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait
        out.seek(0)
        err.seek(0)
        return (
            proc.returncode,
            out.read().decode(),
            err.read().decode(),
            elapsed,
            usage.ru_maxrss * 1024,
        )


def test_the_corpus_covers_every_kind_of_hostile_file(corpus: Corpus) -> None:
    store, cases = corpus
    assert run_verify(store, rev=BASE) == []
    names = {c.name for c in cases}
    for kind in ("bomb-kms", "bomb-tag", "bomb-stages", "config-bomb-key-id", "config-bomb-keys"):
        assert kind in names
    assert {c.mode for c in cases} == {"100644", "100755", "120000", "160000"}
    assert {c.kind for c in cases if c.mode == "120000"} == {"manifest", "config", "envelope"}
    bombs = [c for c in cases if "bomb" in c.name]
    assert all(len(c.data) < 2048 and b"*a8" in c.data for c in bombs)  # 10**9 leaves each
    assert any(len(c.data) > MB for c in cases if c.kind == "manifest")


def test_each_hostile_file_is_one_named_problem_judged_fast(corpus: Corpus) -> None:
    store, cases = corpus
    for case in cases:
        tracemalloc.start()
        start = time.process_time()  # CPU seconds: a guard against unbounded work, not a speed
        problems = run_verify(store, rev=case.branch)  # target (bench/bench_parse.py has those)
        elapsed = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert [p.path for p in problems] == [case.path], (case.name, problems)
        assert case.expect in problems[0].problem, (case.name, problems[0])
        assert problems[0].fix, case.name
        assert elapsed < 2.0, (case.name, elapsed)
        assert peak < 100 * MB, (case.name, peak)
        assert "hostile-corpus" not in str(problems[0])  # never a value


def test_verify_cli_prints_one_line_per_hostile_file(corpus: Corpus) -> None:
    store, cases = corpus
    for case in cases:
        code, out, err = invoke(store, "verify", "--rev", case.branch)
        assert code == 1, (case.name, out, err)
        (line,) = out.splitlines()
        assert line.startswith(f"{case.path}: ") and case.expect in line, (case.name, line)
        assert line.endswith(")"), line  # path: problem (how to fix)
        assert err == "gitsm verify: 1 problem(s) found.\n", (case.name, err)


def test_verify_of_every_hostile_file_at_once_is_bounded(corpus: Corpus) -> None:
    """One ``gitsm verify`` process judges the whole corpus (alias bombs of 10**9 leaves, files
    over 1 MiB, links) in about the time and memory of a clean tree."""
    store, cases = corpus
    code, out, err, clean_time, clean_rss = measured("--repo", str(store), "verify", "--rev", BASE)
    assert (code, out) == (0, ""), err
    code, out, err, elapsed, rss = measured("--repo", str(store), "verify", "--rev", ALL)
    assert code == 1 and "Traceback" not in err, err
    expected = {c.path: c.expect for c in together(cases)}
    lines = out.splitlines()
    assert len(lines) == len(expected) == len(cases) - 10, lines
    for line in lines:
        path = line.split(": ", 1)[0]
        assert expected[path] in line, line
    assert rss < clean_rss + 100 * MB, (rss, clean_rss)
    # a guard against unbounded work (an alias bomb expanded, a huge file read whole), not a speed
    # target (bench/bench_parse.py measures that): CPU seconds, a bound no load can reach
    assert elapsed < 3 * clean_time + 1.0, (elapsed, clean_time)


# what each read answers on each kind of hostile file: (exit code, a fragment of stderr)
REFUSED = 253  # MalformedStoreFile, a StoreError: the environment (the store) is unusable


def expected_reads(case: Case) -> list[tuple[list[str], int, str]]:
    """(arguments, exit code, fragment of stderr) of the reads to try on ``case``'s tree."""
    secret = case.secret or "ok"
    if case.kind == "envelope":
        return [
            (["get-secret-value", "--secret-id", secret], 254, "(DecryptionFailure) when calling "
             "the GetSecretValue operation: Secrets Manager can't decrypt version"),
            (["describe-secret", "--secret-id", secret], 0, ""),  # reads no envelope
            (["list-secrets"], 0, ""),
        ]  # fmt: skip
    return [
        (["get-secret-value", "--secret-id", secret], REFUSED, f"The store file {case.path} "),
        (["describe-secret", "--secret-id", secret], REFUSED, f"The store file {case.path} "),
        (["list-secrets"], REFUSED, f"The store file {case.path} "),
    ]


def test_reads_refuse_each_hostile_file_cleanly(corpus: Corpus) -> None:
    store, cases = corpus
    try:
        for case in cases:
            on_branch(store, case.branch)
            for args, want, fragment in expected_reads(case):
                code, _out, err = invoke(store, *args)
                assert code == want, (case.name, args, err)
                assert fragment in err and "Traceback" not in err, (case.name, args, err)
                if want:
                    assert case.expect in err, (case.name, err)
                    assert "hostile-corpus" not in err
    finally:
        on_branch(store, BASE)


def test_batch_reads_give_an_error_for_the_hostile_file_and_values_for_the_rest(
    corpus: Corpus,
) -> None:
    store, cases = corpus
    try:
        for case in (c for c in cases if c.kind in ("manifest", "envelope") and c.mode != "120000"):
            on_branch(store, case.branch)
            code, out, err = invoke(store, "batch-get-secret-value", "--secret-id-list",
                                    case.secret, "ok")  # fmt: skip
            assert code == 0, (case.name, err)
            assert "hostile-corpus-ok-value" not in err
            want = "MalformedStoreFile" if case.kind == "manifest" else "DecryptionFailure"
            assert want in out and case.secret in out, (case.name, out)
    finally:
        on_branch(store, BASE)


SAMPLE = [  # one of each kind of refusal, each file kind and each read (a process costs ~0.3 s)
    ("bomb-kms", ["get-secret-value", "--secret-id", "m/bomb-kms"], 253),
    ("config-bomb-key-id", ["describe-secret", "--secret-id", "ok"], 253),
    ("size-1mib", ["list-secrets"], 253),
    ("type-description", ["describe-secret", "--secret-id", "m/type-description"], 253),
    ("envelope-gitlink", ["get-secret-value", "--secret-id", "e/envelope-gitlink"], 254),
]


def test_reads_through_the_entry_point_fail_cleanly_and_quickly(corpus: Corpus) -> None:
    store, cases = corpus
    by_name = {c.name: c for c in cases}
    code, _, err, clean_time, clean_rss = measured("--repo", str(store), "describe-secret",
                                                   "--secret-id", "ok")  # fmt: skip
    assert code == 0, err
    try:
        for name, args, want in SAMPLE:
            on_branch(store, by_name[name].branch)
            code, out, err, elapsed, rss = measured("--repo", str(store), *args)
            assert code == want and out == "", (name, code, err)
            assert by_name[name].expect in err and "Traceback" not in err, (name, err)
            assert elapsed < 3 * clean_time + 1.0 and rss < clean_rss + 100 * MB, (
                name,
                elapsed,
                rss,
            )
        done = run_gitsm(["--repo", str(store), "list-secrets"])  # the fixture's own runner
        assert done.returncode == 0, done.stderr
    finally:
        on_branch(store, BASE)


def test_a_write_over_a_symlinked_manifest_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    """A checkout whose manifest became a symbolic link (committed with plain git): the next
    write fails cleanly (exit 253) before touching the tree, instead of following the link."""
    path = tmp_path / "store"
    store = SecretStore.init(path)
    store.create_secret("app", secret_string="symlink-test-value")
    store.create_secret("other", secret_string="other-test-value")
    manifest = path / paths.manifest_path("app")
    manifest.unlink()
    manifest.symlink_to(Path("..") / "other" / paths.MANIFEST)
    git(path, "add", "-A")
    git(path, "commit", "-q", "--no-verify", "-m", "link the manifest")
    head = git(path, "rev-parse", "HEAD")
    code, _, err = invoke(path, "put-secret-value", "--secret-id", "app", "--secret-string", "new")
    assert code == 253 and "is a symbolic link (mode 120000)" in err, err
    assert git(path, "rev-parse", "HEAD") == head
    assert manifest.is_symlink()
    code, _, err = invoke(path, "put-secret-value", "--secret-id", "other", "--secret-string", "v2")
    assert code == 0, err  # the other secret is unaffected
    (problem,) = run_verify(path)
    assert problem.path == paths.manifest_path("app") and "symbolic link" in problem.problem


def test_the_staged_check_reports_links_and_gitlinks_at_store_paths(tmp_path: Path) -> None:
    """The pre-commit check sees what --rev sees: a manifest turned into a symbolic link, an
    executable envelope and a gitlink staged at a manifest's path are one problem each."""
    path = tmp_path / "store"
    store = SecretStore.init(path)
    for name in ("a", "b", "c"):
        store.create_secret(name, secret_string=f"staged-test-{name}-value")
    manifest = path / paths.manifest_path("a")
    manifest.unlink()
    manifest.symlink_to(Path("..") / "b" / paths.MANIFEST)
    (vid,) = store.describe_secret("b").versions
    (path / paths.version_path("b", vid)).chmod(0o755)
    git(path, "add", "-A")
    git(path, "rm", "-q", "--cached", paths.manifest_path("c"))
    git(
        path,
        "update-index",
        "--add",
        "--cacheinfo",
        f"160000,{'1' * 40},{paths.manifest_path('c')}",
    )
    found = {p.path: p.problem for p in run_verify(path, staged=True)}
    assert found.keys() == {
        paths.manifest_path("a"),
        paths.version_path("b", vid),
        paths.manifest_path("c"),
    }, found
    assert "symbolic link" in found[paths.manifest_path("a")]
    assert "executable" in found[paths.version_path("b", vid)]
    assert "gitlink" in found[paths.manifest_path("c")]


def test_a_stray_link_under_secrets_is_named_for_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "store"
    SecretStore.init(path).create_secret("keep", secret_string="stray-link-test-value")
    (path / "secrets" / "app").symlink_to(tmp_path)
    git(path, "add", "-A")
    git(path, "commit", "-q", "--no-verify", "-m", "a link under secrets/")
    expected = ["is not a gitsm file (a symbolic link)"]
    assert [(p.path, p.problem) for p in run_verify(path)] == [("secrets/app", expected[0])]
    code, _, err = invoke(path, "create-secret", "--name", "app/db", "--secret-string", "v-123456")
    assert code == 253 and "nothing was written" in err, err  # never written through the link
    assert list(tmp_path.glob("db")) == [] and git(path, "status", "--porcelain") == ""
