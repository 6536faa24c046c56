"""The store's rotation functions: registering them, the default one, and which one rotates a
secret.

Each change is one commit that changes only ``.gitsm/config.yaml``: ``RegisterRotationFunction`` and
``DeregisterRotationFunction`` (one function, named by ``Gitsm-Rotation-Function``), and
``SetDefaultRotationFunction`` (the default: ``Gitsm-Rotation-Function`` names it, absent when the
store is left without one). The default rotates every secret set up for rotation without a
RotationLambdaARN of its own, as AWS's managed rotation rotates a secret without a Lambda function
of yours (docs/ROTATION.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from gitsm import paths, rotationstate
from gitsm.errors import InvalidRequestException, ResourceNotFoundException
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.model import Rotation
from gitsm.rotationconfig import RotationFunction, validate_function
from gitsm.store.core import Change, StoreCore

__all__ = ["RotationFunctionOps"]


def _no_function(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"This store has no rotation function named {name}.")


class RotationFunctionOps(StoreCore):
    """Rotation functions: register, deregister, list, the default, and the one a secret uses."""

    def rotation_functions(self) -> dict[str, RotationFunction]:
        """The store's rotation functions: name -> command and timeout."""
        return dict(self.config().rotation_functions)

    def default_rotation_function(self) -> str | None:
        """The name of the store's default rotation function (None: it has none)."""
        return self.config().default_rotation_function

    def register_rotation_function(
        self, name: str, command: list[str], *, timeout_seconds: int | None = None
    ) -> bool:
        """Register (or change) rotation function ``name``: one commit changing only the config
        (``RegisterRotationFunction``), none when it is registered so already. True if it
        changed anything."""
        rotationstate.validate_function_name(name)
        function = validate_function(command, timeout_seconds)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[bool]:
            if config.rotation_functions.get(name) == function:
                return Change(False)
            functions = {**config.rotation_functions, name: function}
            files: dict[str, bytes | None] = {
                paths.CONFIG_PATH: replace(config, rotation_functions=functions).dump()
            }
            trailers = {"Rotation-Function": name}
            return Change(True, "RegisterRotationFunction", "", files, trailers)

        return self._transact(plan)

    def deregister_rotation_function(self, name: str) -> None:
        """Remove rotation function ``name`` from the config (``DeregisterRotationFunction``);
        ResourceNotFoundException when there is none of that name, InvalidRequestException when
        it is the store's default rotation function."""

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            if name not in config.rotation_functions:
                raise _no_function(name)
            if config.default_rotation_function == name:
                raise InvalidRequestException(
                    f"Rotation function {name} is the store's default rotation function. Choose "
                    "another default (gitsm rotation set-default-function NAME) or none (gitsm "
                    "rotation set-default-function --none) first."
                )
            functions = {k: f for k, f in config.rotation_functions.items() if k != name}
            files: dict[str, bytes | None] = {
                paths.CONFIG_PATH: replace(config, rotation_functions=functions).dump()
            }
            return Change(None, "DeregisterRotationFunction", "", files,
                          {"Rotation-Function": name})  # fmt: skip

        self._transact(plan)

    def set_default_rotation_function(self, name: str | None) -> bool:
        """Make registered function ``name`` the store's default rotation function (None: no
        default): one commit changing only the config (``SetDefaultRotationFunction``), none when
        it is the default already. True if it changed anything. ResourceNotFoundException when no
        function of that name is registered."""
        if name is not None:
            rotationstate.validate_function_name(name)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[bool]:
            if name is not None and name not in config.rotation_functions:
                raise _no_function(name)
            if config.default_rotation_function == name:
                return Change(False)
            files: dict[str, bytes | None] = {
                paths.CONFIG_PATH: replace(config, default_rotation_function=name).dump()
            }
            trailers = {"Rotation-Function": name} if name is not None else {}
            return Change(True, rotationstate.DEFAULT_OPERATION, "", files, trailers)

        return self._transact(plan)

    @staticmethod
    def _function(config: StoreConfig, rotation: Rotation) -> RotationFunction:
        """The function that rotates a secret with ``rotation``: its RotationLambdaARN's, else the
        store's default (InvalidRequestException when there is none or it is not registered)."""
        if rotation.lambda_arn is None:
            default = config.default_rotation_function
            if default is None:
                raise InvalidRequestException(rotationstate.NO_FUNCTION)
            found = config.rotation_functions.get(default)
            if found is None:
                raise InvalidRequestException(
                    f"The store's default rotation function {default}, which rotates secrets "
                    "without a RotationLambdaARN, is not registered. Register it (gitsm rotation "
                    f"register-function {default} --command '...') or choose another default "
                    "(gitsm rotation set-default-function NAME)."
                )
            return found
        name = rotationstate.function_name(rotation.lambda_arn)
        found = config.rotation_functions.get(name)
        if found is None:
            raise InvalidRequestException(
                f"Secrets Manager cannot invoke the specified Lambda function "
                f"{rotation.lambda_arn}: this store has no rotation function named {name}. "
                f"Register one (gitsm rotation register-function {name} --command '...') or name a "
                "registered one (gitsm rotation list-functions)."
            )
        return found
