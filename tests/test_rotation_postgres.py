"""The PostgreSQL rotation function end to end, against a throwaway cluster from Debian's packages
(``postgresql``; .ci/run installs it): started once for the module, with ``initdb``/``pg_ctl``.

PostgreSQL refuses to run as root; when the tests run as root the cluster runs as the ``postgres``
user the package creates (through ``runuser``), in a directory of its own under /tmp.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitsm.awsclient import SecretsManagerClient
from gitsm.rotation.postgres import run_sql
from gitsm.store import SecretStore
from tests.rotating import ARN

SUPERUSER_PASSWORD = "super-Secret-for-the-test-cluster"
FIRST_PASSWORD = "first-App-password-0123"
POSTGRES = ["gitsm", "rotation", "run-lambda", "gitsm.rotation.postgres"]


@dataclass(frozen=True)
class Cluster:
    """A running throwaway cluster: where to reach it and its psql."""

    port: int
    psql: str

    def secret(self, username: str, password: str) -> dict[str, object]:
        return {"engine": "postgres", "host": "127.0.0.1", "port": self.port,
                "username": username, "password": password, "dbname": "postgres"}  # fmt: skip


def program(name: str) -> str | None:
    """A PostgreSQL program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    return (found[-1] if found else None) or shutil.which(name)


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in path.split("/")[4].split(".") if p.isdigit())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    tools = {name: program(name) for name in ("initdb", "pg_ctl", "psql")}
    if not all(tools.values()):
        pytest.skip(
            "PostgreSQL is NOT INSTALLED, so the PostgreSQL rotation example is NOT TESTED: "
            f"missing {[n for n, p in tools.items() if not p]}. Install Debian's postgresql "
            "package (.ci/run does)."
        )
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the package's user
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            pytest.skip("running as root without runuser or a postgres user: the PostgreSQL "
                        "rotation example is NOT TESTED")  # fmt: skip
        as_user = [runuser, "-u", "postgres", "--"]
    work = Path(tempfile.mkdtemp(prefix="gitsm-pg-"))
    (work / "pw").write_text(SUPERUSER_PASSWORD + "\n")
    if owner is not None:
        for path in (work, work / "pw"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    data, port = work / "data", free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, cwd=work)
        assert done.returncode == 0, done.stdout + done.stderr

    run(str(tools["initdb"]), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
        f"--pwfile={work / 'pw'}", "-E", "UTF8", "--no-sync")  # fmt: skip
    options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(tools["pg_ctl"]), "-D", str(data), "-l", str(work / "log"), "-o", options, "-w",
        "start")  # fmt: skip
    try:
        found = Cluster(port, str(tools["psql"]))
        os.environ["PSQL"] = found.psql  # for run_sql here; the test passes it on too
        made = run_sql(found.secret("postgres", SUPERUSER_PASSWORD),
                       f"CREATE ROLE app LOGIN PASSWORD '{FIRST_PASSWORD}';")  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield found
    finally:
        os.environ.pop("PSQL", None)
        subprocess.run([*as_user, str(tools["pg_ctl"]), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, cwd=work)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


def logs_in(cluster: Cluster, password: str) -> subprocess.CompletedProcess[str]:
    return run_sql(cluster.secret("app", password), "SELECT current_user;")


def test_the_postgres_function_rotates_the_password_on_the_server(
    cluster: Cluster, repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PSQL", cluster.psql)
    store = SecretStore.open(repo_path)
    sm = SecretsManagerClient(store)
    first = cluster.secret("app", FIRST_PASSWORD)
    sm.create_secret(Name="db/app", SecretString=json.dumps(first))
    store.register_rotation_function("postgres", POSTGRES)
    assert logs_in(cluster, FIRST_PASSWORD).stdout.strip() == "app"

    new = sm.rotate_secret(SecretId="db/app", RotationLambdaARN=ARN.format("postgres"),
                           RotationRules={"AutomaticallyAfterDays": 30})["VersionId"]  # fmt: skip
    current = sm.get_secret_value(SecretId="db/app")
    assert current["VersionId"] == new and current["VersionStages"] == ["AWSCURRENT"]
    rotated = json.loads(current["SecretString"])
    assert rotated["password"] != FIRST_PASSWORD
    assert {k: v for k, v in rotated.items() if k != "password"} == {
        k: v for k, v in first.items() if k != "password"
    }
    assert logs_in(cluster, rotated["password"]).stdout.strip() == "app"
    refused = logs_in(cluster, FIRST_PASSWORD)
    assert refused.returncode != 0 and "password authentication failed" in refused.stderr
    previous = sm.get_secret_value(SecretId="db/app", VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"])["password"] == FIRST_PASSWORD
    assert sm.describe_secret(SecretId="db/app")["RotationEnabled"] is True
