#!/usr/bin/env python3
"""Key-provider benchmarks: wrap/unwrap cost per provider, and reading 1,000 age- vs local-keyed secrets.

Prints figures and ratios and whether the target (age reads within 2x of local reads) is met; it
asserts nothing.

    .venv/bin/python bench/bench_keys.py            # full run (1,000 secrets per store)
    .venv/bin/python bench/bench_keys.py --quick    # small run (seconds), same report lines

Providers are timed directly (``wrap``/``unwrap`` of a 32-byte data key with an encryption context,
and ``generate``). aws-kms runs against moto's in-process ``mock_aws``: its figures measure boto3 plus
moto, not AWS (a real KMS call costs a network round trip, typically milliseconds).

The read benchmark builds two stores of N secrets (one AWSCURRENT version each, names spread over 32
folders): one whose secrets use a local key, one whose secrets use an age alias. Each store is
written in one commit composed by gitsm's own code (``keys.resolve``, ``envelope.seal``,
``manifest.dump_secret``, ``paths``) through the store's transaction. It then reads every secret
through ``SecretStore`` (manifest, blob reads, unwrap, AES-GCM) in two ways: one GetSecretValue call
per secret, and one bulk ``get_secret_values`` call (one snapshot, the path of materialize, exec and
BatchGetSecretValue). Passes alternate between the two stores (so that load drift hits both alike);
it reports the median pass, wall-clock and process CPU time, and judges the target on each way.
Everything happens in a temporary directory and a temporary GITSM_HOME.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyrage import x25519

from gitsm import envelope, paths
from gitsm.gitrepo import Snapshot
from gitsm.keys import KeyService
from gitsm.manifest import StoreConfig, dump_secret
from gitsm.model import AWSCURRENT, Secret, VersionInfo, make_arn
from gitsm.providers import AgeProvider, AwsKmsProvider, KeyProvider, LocalProvider
from gitsm.providers.age import ENV_KEY
from gitsm.store import SecretStore
from gitsm.store.core import Change

FULL = {"ops": 2_000, "kms_ops": 300, "secrets": 1_000, "runs": 7}
QUICK = {"ops": 200, "kms_ops": 30, "secrets": 200, "runs": 2}
TARGET_RATIO = 2.0
CONTEXT = {
    "SecretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench/key-AbCdEf",
    "SecretVersionId": "0f3c1a52-6a36-4d57-8a55-3a1d3bd1b8a4",
}


def per_op_us(fn: Callable[[], object], n: int) -> float:
    """Median of 3 runs of ``n`` calls, in microseconds per call."""
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def time_provider(label: str, provider: KeyProvider, key_id: str, n: int) -> dict[str, float]:
    data_key = os.urandom(32)
    stanza = provider.wrap(key_id, data_key, CONTEXT)
    assert provider.unwrap(key_id, stanza, CONTEXT) == data_key
    figures = {
        "wrap": per_op_us(lambda: provider.wrap(key_id, data_key, CONTEXT), n),
        "unwrap": per_op_us(lambda: provider.unwrap(key_id, stanza, CONTEXT), n),
        "generate": per_op_us(lambda: provider.generate(key_id, CONTEXT), n),
    }
    size = sum(len(v) for v in stanza.values())
    print(
        f"[provider] {label:<24} wrap {figures['wrap']:9.1f} us  unwrap {figures['unwrap']:9.1f} us"
        f"  generate {figures['generate']:9.1f} us  stanza {size} B"
    )
    return figures


def bench_providers(cfg: dict[str, int], home: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    local = LocalProvider(home=home, env={})
    out["local"] = time_provider("local", local, local.create_key(), cfg["ops"])
    identity = x25519.Identity.generate()
    age = AgeProvider(env={ENV_KEY: str(identity)})
    out["age"] = time_provider("age", age, str(identity.to_public()), cfg["ops"])
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        print("[provider] aws-kms (moto)             skipped: boto3 and moto are not installed")
        return out
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    try:
        with mock_aws():
            arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
            out["aws-kms"] = time_provider(
                "aws-kms (moto, mock)", AwsKmsProvider(), arn, cfg["kms_ops"]
            )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


def build(
    path: Path, keys: KeyService, kms_key_id: str | None, n: int
) -> tuple[SecretStore, float]:
    """A store holding ``n`` secrets keyed by ``kms_key_id``, written in one commit."""
    store = SecretStore.init(path, fsync=False, keys=keys)
    if kms_key_id is not None and kms_key_id.startswith("age1"):
        store.create_key_alias("alias/bench-age", [kms_key_id])
        kms_key_id = "alias/bench-age"
    names = [f"app{i % 32}/service/key{i}" for i in range(n)]
    start = time.perf_counter()

    def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
        recipients, new_config = keys.resolve(kms_key_id, config)
        files: dict[str, bytes | None] = {}
        if new_config is not None:
            files[paths.CONFIG_PATH] = new_config.dump()
        key_label = kms_key_id or config.default_kms_key_id
        for i, name in enumerate(names):
            arn = make_arn(config.region, config.account_id, name)
            vid = f"00000000-0000-4000-8000-{i:012d}"
            files[paths.version_path(name, vid)] = envelope.seal(
                f"value-{i}".encode(), "string", name=name, arn=arn, version_id=vid,
                recipients=recipients, keys=keys,
            )  # fmt: skip
            version = VersionInfo(vid, now, "string", [key_label], [AWSCURRENT])
            secret = Secret(name, arn, now, now, kms_key_id=kms_key_id, versions={vid: version})
            files[paths.manifest_path(name)] = dump_secret(secret)
        return Change(None, "BenchImport", "", files)

    store._transact(plan)
    return store, time.perf_counter() - start


def read_pass(store: SecretStore, names: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds to GetSecretValue every name once, one call per name."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for name in names:
        store.get_secret_value(name)
    return time.perf_counter() - start, time.process_time() - start_cpu


def bulk_pass(store: SecretStore, names: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds to read every name in one ``get_secret_values`` call: one
    snapshot, every envelope decrypted in one go (how materialize, exec and BatchGetSecretValue
    read)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    out = store.get_secret_values([(name, None, None) for name in names])
    elapsed = time.perf_counter() - start, time.process_time() - start_cpu
    bad = [r for r in out if not hasattr(r, "value")]
    if bad:
        raise SystemExit(f"bench: {len(bad)} reads failed, first: {bad[0]}")
    return elapsed


PASSES: dict[str, Callable[[SecretStore, list[str]], tuple[float, float]]] = {
    "GetSecretValue per secret": read_pass,
    "bulk (get_secret_values)": bulk_pass,
}


def bench_reads(cfg: dict[str, int], root: Path) -> None:
    n = cfg["secrets"]
    identity = x25519.Identity.generate()
    env = {**os.environ, ENV_KEY: str(identity)}
    readers: dict[str, SecretStore] = {}
    for label, key_id in (("local", None), ("age", str(identity.to_public()))):
        keys = KeyService(home=root / "home", env=env)
        store, built = build(root / f"store-{label}", keys, key_id, n)
        print(f"[build] {label:<6} {n} secrets in one commit: {built:.1f} s")
        readers[label] = SecretStore.open(store.repo.gitdir, fsync=False, keys=KeyService(env=env))
    names = sorted(s.name for s in readers["local"]._all(readers["local"].repo.tip()))
    for reader in readers.values():
        read_pass(reader, names)  # warm up: identity parse, key file, object cache
    passes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(cfg["runs"]):  # alternate the stores so that load drift hits both alike
        for way, timed in PASSES.items():
            for label, reader in readers.items():
                passes.setdefault((way, label), []).append(timed(reader, names))
    verdicts = []
    for way in PASSES:
        medians = {}
        for label in readers:
            runs = passes[(way, label)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            medians[label] = wall, cpu
            print(
                f"[read] {way:<26} {label:<6} {n} secrets: {wall * 1e3:8.1f} ms wall "
                f"({wall / n * 1e6:6.1f} us/secret), {cpu * 1e3:8.1f} ms CPU; median of "
                f"{cfg['runs']} alternating passes"
            )
        ratio = medians["age"][0] / medians["local"][0]
        cpu_ratio = medians["age"][1] / medians["local"][1]
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        verdicts.append(verdict)
        print(
            f"[target] {way}: age/local read time {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
            f"(target <= {TARGET_RATIO:.0f}x, judged on wall): {verdict}"
        )
    print(f"[target] overall: {'met' if all(v == 'met' for v in verdicts) else 'NOT met'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    print(f"# bench_keys {'quick' if args.quick else 'full'}: {cfg}")
    print(f"# {platform.python_implementation()} {platform.python_version()} on "
          f"{platform.machine()}, {os.cpu_count()} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        os.environ["GITSM_HOME"] = str(root / "home")
        os.environ["GITSM_FSYNC"] = "0"
        figures = bench_providers(cfg, root / "home")
        base = figures["local"]
        for name, fig in figures.items():
            if name != "local":
                label = f"{name} (moto)" if name == "aws-kms" else name
                print(
                    f"[ratio] {label:<16} / local: wrap {fig['wrap'] / base['wrap']:7.1f}x  "
                    f"unwrap {fig['unwrap'] / base['unwrap']:7.1f}x"
                )
        bench_reads(cfg, root)


if __name__ == "__main__":
    main()
