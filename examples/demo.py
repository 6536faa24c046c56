"""End-to-end demo of the library on the embedded default: a temporary store, the local key."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gitsm


def main() -> None:
    """Create a store, write and rotate a secret, and show what git recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store"
        gitsm.init(path)
        sm = gitsm.client(repo=path)
        out = sm.create_secret(Name="prod/db/password", SecretString="first-value")
        print("create-secret:", json.dumps({k: out[k] for k in ("ARN", "Name", "VersionId")}))
        sm.update_secret(SecretId="prod/db/password", SecretString="second-value")
        got = sm.get_secret_value(SecretId="prod/db/password")
        print("get-secret-value: VersionStages", got["VersionStages"])
        for v in sm.list_secret_version_ids(SecretId="prod/db/password")["Versions"]:
            print("version", v["VersionId"], v["VersionStages"])


if __name__ == "__main__":
    main()
