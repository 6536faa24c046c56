"""Key providers and their registry: a provider is one module and one line in PROVIDERS.

A provider's module is imported when a key of its kind is used (the age provider brings pyrage and
cryptography's serialization, the AWS KMS one boto3 when called), so a read of local-keyed secrets
loads only the local provider.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from gitsm.providers.base import KeyProvider, KeySourceUnusable, KeyUnavailable
from gitsm.providers.local import LocalProvider

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gitsm.providers.age import AgeProvider
    from gitsm.providers.awskms import AwsKmsProvider

MODULES = {
    "local": ("gitsm.providers.local", "LocalProvider"),
    "age": ("gitsm.providers.age", "AgeProvider"),
    "aws-kms": ("gitsm.providers.awskms", "AwsKmsProvider"),
}
"""Provider name -> (module, class), in the order providers are asked to claim a key id."""


class _Registry(Mapping[str, type[KeyProvider]]):
    """Provider name -> class, each module imported on first use."""

    def __getitem__(self, name: str) -> type[KeyProvider]:
        module, cls = MODULES[name]
        found: type[KeyProvider] = getattr(importlib.import_module(module), cls)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)

    def __contains__(self, name: object) -> bool:
        return name in MODULES


PROVIDERS: Mapping[str, type[KeyProvider]] = _Registry()


def __getattr__(name: str) -> object:
    for module, cls in MODULES.values():
        if cls == name:
            return getattr(importlib.import_module(module), cls)
    raise AttributeError(name)


__all__ = [
    "PROVIDERS",
    "AgeProvider",
    "AwsKmsProvider",
    "KeyProvider",
    "KeySourceUnusable",
    "KeyUnavailable",
    "LocalProvider",
]
