"""Key providers and their registry: a provider is one module and one line in PROVIDERS."""

from __future__ import annotations

from gitsm.providers.age import AgeProvider
from gitsm.providers.awskms import AwsKmsProvider
from gitsm.providers.base import KeyProvider, KeySourceUnusable, KeyUnavailable
from gitsm.providers.local import LocalProvider

PROVIDERS: dict[str, type[KeyProvider]] = {
    LocalProvider.name: LocalProvider,
    AgeProvider.name: AgeProvider,
    AwsKmsProvider.name: AwsKmsProvider,
}

__all__ = [
    "PROVIDERS",
    "AgeProvider",
    "AwsKmsProvider",
    "KeyProvider",
    "KeySourceUnusable",
    "KeyUnavailable",
    "LocalProvider",
]
