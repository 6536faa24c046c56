"""gitsm: a git-backed secrets manager with AWS Secrets Manager semantics.

``gitsm.client(repo=PATH)`` returns a boto3-shaped Secrets Manager client; ``gitsm.SecretStore`` is
the typed core. Both are imported lazily so that ``import gitsm`` stays cheap for the CLI.
"""

# no `from __future__ import annotations`: the launcher would import __future__ (0.1-0.3 ms)
__version__ = "0.1.0"

TYPE_CHECKING = False  # not typing's: importing typing costs the CLI's quick paths ~10 ms
if TYPE_CHECKING:
    from typing import Any

    from gitsm.awsclient import SecretsManagerClient
    from gitsm.store import SecretStore


def client(repo: "Any" = ".", **kwargs: "Any") -> "SecretsManagerClient":
    """Open the store at ``repo`` and return a boto3-shaped Secrets Manager client for it."""
    from gitsm.awsclient import client as _client

    return _client(repo, **kwargs)


def init(path: "Any" = ".", **kwargs: "Any") -> "SecretStore":
    """Create a store at ``path`` (running ``git init`` if needed); idempotent.

    Keyword arguments are those of :meth:`SecretStore.init` (``region``, ``account_id``,
    ``default_kms_key_id``: a new store's default key, ...).
    """
    from gitsm.store import SecretStore

    return SecretStore.init(path, **kwargs)


def __getattr__(name: str) -> "Any":
    if name == "SecretStore":
        from gitsm.store import SecretStore

        return SecretStore
    raise AttributeError(name)


__all__ = ["SecretStore", "__version__", "client", "init"]
