"""Rotation: RotateSecret, CancelRotateSecret, and rotating what is due.

RotateSecret sets the secret's rotation up (function, schedule) and, unless told not to, starts a
rotation in one commit (``RotateSecret``: the new version's token shows with AWSPENDING), then
runs the rotation function's four steps (:mod:`gitsm.store.rotationrun`). The function itself
writes through gitsm as a Lambda writes through Secrets Manager: ``createSecret`` puts the new
value with ``VersionStages=["AWSPENDING"]`` and the token, ``finishSecret`` moves AWSCURRENT with
UpdateSecretVersionStage; those are ordinary operations, one commit each. When the last step has
moved AWSCURRENT, one more commit (``RotationSucceeded``) records LastRotatedDate and the next
rotation window. A step that fails raises :class:`RotationFailed` and leaves AWSPENDING where it
is, as on AWS: the rotation is retried with the same ClientRequestToken (``rotate_due`` does so
when it is due), or cancelled.

With RotateImmediately=false the settings are committed, and the configuration is tested as AWS
tests it: the function's testSecret step runs with a temporary AWSPENDING copy of the AWSCURRENT
value, put in the store (PutSecretValue) and removed after the step (``RotationTestEnded``); while
a rotation is in progress, in a scratch copy of the store instead (:meth:`RotationOps._test`).

A secret set up without a function (no RotationLambdaARN) is rotated by the store's default
rotation function (:mod:`gitsm.store.rotationfuncs`), as AWS's managed rotation rotates a secret
without a Lambda function of yours; without a default, RotateSecret refuses it as AWS does.

Unlike AWS, the rotation runs while RotateSecret waits (AWS starts it and returns), so a caller
learns at once whether it worked.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import cast

from gitsm import paths, rotationstate
from gitsm.errors import (
    GitsmError,
    InvalidParameterException,
    InvalidRequestException,
)
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.model import AWSCURRENT, AWSPENDING, Secret, random_uuid, validate_token
from gitsm.rotationconfig import RotationFunction
from gitsm.rotationstate import TEST_ENDED
from gitsm.schedule import Rules, validate_rules
from gitsm.store.core import Change, WriteResult
from gitsm.store.rotationfuncs import RotationFunctionOps
from gitsm.store.rotationrun import RotationFailed, run_step, secret_texts, stderr_tail
from gitsm.store.writes import WriteOps

__all__ = ["DueRotation", "RotationFailed", "RotationOps"]


@dataclass(frozen=True)
class DueRotation:
    """One secret that :meth:`RotationOps.rotate_due` rotated, or tried to."""

    name: str
    arn: str
    version_id: str | None
    error: GitsmError | None = None


@dataclass(frozen=True)
class _Started:
    result: WriteResult
    function: RotationFunction | None = None
    """The function to run (None: nothing to run)."""
    record_only: bool = False
    """The rotation finished earlier but was not recorded: record it, run nothing."""


def rules_trailer(rules: Rules) -> str:
    """RotationRules as the ``Gitsm-Rotation-Rules`` trailer (JSON, AWS's member names)."""
    doc = {"AutomaticallyAfterDays": rules.after_days, "ScheduleExpression": rules.schedule,
           "Duration": rules.duration}  # fmt: skip
    return json.dumps({k: v for k, v in doc.items() if v is not None}, sort_keys=True)


class RotationOps(RotationFunctionOps):
    """RotateSecret, CancelRotateSecret and ``rotate_due`` (the functions: the base class)."""

    # -- RotateSecret, CancelRotateSecret ------------------------------------------------------

    def rotate_secret(
        self,
        secret_id: str,
        *,
        client_request_token: str | None = None,
        rotation_lambda_arn: str | None = None,
        rotation_rules: dict[str, object] | None = None,
        rotate_immediately: bool | None = None,
    ) -> WriteResult:
        """RotateSecret: set the rotation up and (by default) rotate now, running the rotation
        function's steps; with ``rotate_immediately=False``, run only its testSecret step on a
        temporary copy. Raises :class:`RotationFailed` when a step fails (the setup and the
        rotation's start stay committed)."""
        token = random_uuid() if client_request_token is None else client_request_token
        validate_token(token)
        lambda_arn = rotationstate.validate_lambda_arn(rotation_lambda_arn)
        rules = validate_rules(rotation_rules) if rotation_rules is not None else None
        if rotate_immediately is not None and not isinstance(rotate_immediately, bool):
            raise InvalidParameterException("RotateImmediately must be true or false.")
        start = token if rotate_immediately is not False else None

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[_Started]:
            secret = self._find_live(snap, config, secret_id)
            finished = start in secret.versions and rotationstate.pending(secret) != start
            if start is not None and finished:  # this request's rotation is done: a retry
                done = secret.rotation is not None and secret.rotation.token == start
                return Change(_Started(WriteResult(secret.arn, secret.name, start),
                                       record_only=done))  # fmt: skip
            if start is not None:
                rotationstate.check_can_start(secret, start)
            has_default = config.default_rotation_function is not None
            rotation = rotationstate.configure(secret, lambda_arn, rules, start, now,
                                               has_default=has_default)  # fmt: skip
            function = self._function(config, rotation)
            stages = secret.stage_map()
            if start is not None:
                stages = rotationstate.start_stages(stages, start)
            versions = {vid: replace(v, stages=stages[vid]) for vid, v in secret.versions.items()}
            updated = replace(secret, rotation=rotation, versions=versions)
            started = _Started(WriteResult(secret.arn, secret.name, start), function)
            if updated == secret:  # a retry of the rotation in progress: run it again
                return Change(started)
            files = self._secret_files(replace(updated, last_changed=now))
            trailers = {"Secret-Arn": secret.arn,
                        "Rotate-Immediately": "true" if start is not None else "false"}  # fmt: skip
            if start is not None:
                trailers["Client-Request-Token"] = start
            if lambda_arn is not None:
                trailers["Rotation-Lambda-Arn"] = lambda_arn
            if rules is not None:
                trailers["Rotation-Rules"] = rules_trailer(rules)
            return Change(started, "RotateSecret", secret.name, files, trailers)

        started = self._transact(plan)
        result = started.result
        if start is not None and started.function is not None:
            self._run(result, started.function, start)
        elif start is None and started.function is not None:
            self._test(result, started.function, token)
        if started.record_only:
            self._record_success(result, start or "")
        return result

    def cancel_rotate_secret(self, secret_id: str) -> WriteResult:
        """CancelRotateSecret: turn rotation off and forget the rotation in progress (its version,
        if the function put one, keeps AWSPENDING: remove it with UpdateSecretVersionStage).
        Returns that version's id as VersionId."""

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_live(snap, config, secret_id)
            rotation = secret.rotation
            if rotation is None:
                raise InvalidRequestException(rotationstate.NO_FUNCTION)
            if not rotation.enabled:
                raise InvalidRequestException(
                    f"Rotation is not turned on for secret {secret.name}, so there is no rotation "
                    "to cancel. Turn it on with RotateSecret."
                )
            result = WriteResult(secret.arn, secret.name, rotationstate.pending(secret))
            updated = replace(secret, rotation=rotationstate.cancel(rotation), last_changed=now)
            files = self._secret_files(updated)
            return Change(result, "CancelRotateSecret", secret.name, files,
                          {"Secret-Arn": secret.arn})  # fmt: skip

        return self._transact(plan)

    # -- running a rotation --------------------------------------------------------------------

    def _run(self, result: WriteResult, function: RotationFunction, token: str) -> None:
        """Run the four steps of ``function`` for the rotation ``token`` of ``result``'s secret,
        then record its success."""
        region = result.arn.split(":")[3]
        rotation_token = random_uuid()
        for step in rotationstate.STEPS:
            event = {"Step": step, "SecretId": result.arn, "ClientRequestToken": token,
                     "RotationToken": rotation_token}  # fmt: skip
            outcome = run_step(function, event, self.repo.workdir or self.repo.gitdir, region)
            if not outcome.ok:
                tail = stderr_tail(outcome.stderr, self._masked(result.arn, token))
                raise RotationFailed(
                    f"Rotation of secret {result.name} failed at step {step}: the rotation "
                    f"function {outcome.describe()}; its standard error ends: {tail}. "
                    + self._redo(result.name, token)
                )
            if step == "createSecret" and token not in self._secret(result.arn).versions:
                raise RotationFailed(
                    f"Rotation of secret {result.name} failed after step createSecret: the "
                    f"rotation function put no version {token} (createSecret must put the new "
                    f"value with ClientRequestToken {token} and VersionStages [AWSPENDING]). "
                    + self._redo(result.name, token)
                )
        self._record_success(result, token)

    def _test(self, result: WriteResult, function: RotationFunction, token: str) -> None:
        """RotateImmediately=false: test the rotation configuration as AWS does ("This test creates
        an AWSPENDING version of the secret and then removes it"), by running the function's
        testSecret step with a temporary AWSPENDING version ``token`` that holds the AWSCURRENT
        value. The version is put in the store (PutSecretValue), so the function sees it through
        every way it reads (the library, the CLI, gitsm serve), and removed after the step
        (``RotationTestEnded``). While another version holds AWSPENDING (a rotation in progress),
        or when ``token`` names a version already, the version is made in a scratch copy of the
        store instead (``GITSM_REPO`` names it for the step), so that the rotation in progress
        keeps its label. Nothing to test (no step runs) when the secret has no value."""
        snap = self.repo.tip()
        secret = self._find(snap, self.config(snap), result.arn)
        current = secret.version_with_stage(AWSCURRENT)
        if current is None:
            return
        opened = self._decrypt_many(snap, [(secret, current)])[0]
        if isinstance(opened, GitsmError):
            raise opened
        value, kind = opened
        region = result.arn.split(":")[3]
        event = {"Step": "testSecret", "SecretId": result.arn, "ClientRequestToken": token,
                 "RotationToken": random_uuid()}  # fmt: skip
        text, blob = (value.decode("utf-8"), None) if kind == "string" else (None, value)
        here = self.repo.workdir or self.repo.gitdir
        busy = any(AWSPENDING in v.stages for v in secret.versions.values())
        in_copy = busy or token in secret.versions
        with tempfile.TemporaryDirectory(prefix="gitsm-rotation-test-") as tmp:
            scratch = Path(tmp) / "store.git"
            if in_copy:
                self.repo.scratch_clone(scratch)
            target = (WriteOps.open(scratch, fsync=False, keys=self.keys, clock=self.clock,
                                    region=self.region_override)
                      if in_copy else cast(WriteOps, self))  # fmt: skip
            target.put_secret_value(result.arn, client_request_token=token,
                                    version_stages=[AWSPENDING], secret_string=text,
                                    secret_binary=blob)  # fmt: skip
            try:
                outcome = run_step(function, event, scratch if in_copy else here, region, cwd=here)
            finally:
                if not in_copy:
                    self._end_test(result, token)
        if not outcome.ok:
            tail = stderr_tail(outcome.stderr, self._masked(result.arn, token))
            raise RotationFailed(
                f"The rotation test of secret {result.name} failed: the rotation function "
                f"{outcome.describe()} at step testSecret (run with a temporary AWSPENDING version "
                f"{token} holding the AWSCURRENT value, as RotateImmediately=false runs it); its "
                f"standard error ends: {tail}. The rotation settings are saved: fix the function "
                "and call RotateSecret again, or turn rotation off (CancelRotateSecret)."
            )

    def _end_test(self, result: WriteResult, token: str) -> None:
        """The ``RotationTestEnded`` commit: the temporary version ``token`` of a rotation test
        removed, manifest line and envelope. Nothing when it is gone already or when it carries a
        label other than AWSPENDING (the function moved one to it: it stays)."""

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            secret = self._find(snap, config, result.arn)
            if not rotationstate.test_version_removable(secret, token):
                return Change(None)  # gone, labelled by the function, or a rotation's now
            versions = {vid: v for vid, v in secret.versions.items() if vid != token}
            files = self._secret_files(replace(secret, versions=versions, last_changed=now))
            files[paths.version_path(secret.name, token)] = None
            trailers = {"Secret-Arn": secret.arn, "Client-Request-Token": token}
            return Change(None, TEST_ENDED, secret.name, files, trailers)

        self._transact(plan)

    @staticmethod
    def _redo(name: str, token: str) -> str:
        return (
            f"Version {token} keeps AWSPENDING: fix the rotation function and retry (RotateSecret "
            f"--secret-id {name} --client-request-token {token}), or cancel the rotation "
            "(CancelRotateSecret)."
        )

    def _secret(self, arn: str) -> Secret:
        snap = self.repo.tip()
        return self._find(snap, self.config(snap), arn)

    def _masked(self, arn: str, token: str) -> set[str] | None:
        """The strings a failed step's standard error must not show: every labeled value of the
        secret and the new one. None when they cannot be read (no key here, say)."""
        try:
            snap = self.repo.tip()
            secret = self._find(snap, self.config(snap), arn)
            wanted = [
                (secret, vid) for vid, v in secret.versions.items() if v.stages or vid == token
            ]
            opened = self._decrypt_many(snap, wanted)
        except GitsmError:
            return None
        if any(isinstance(o, GitsmError) for o in opened):
            return None
        return secret_texts(o[0] for o in opened if not isinstance(o, GitsmError))

    def _record_success(self, result: WriteResult, token: str) -> None:
        """The ``RotationSucceeded`` commit: LastRotatedDate, the next window, AWSPENDING off the
        new AWSCURRENT version. Nothing when the rotation was cancelled meanwhile."""

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            secret = self._find_live(snap, config, result.arn)
            rotation = secret.rotation
            if rotation is None or rotation.token != token:
                return Change(None)
            version = secret.versions.get(token)
            if version is None or AWSCURRENT not in version.stages:
                raise RotationFailed(
                    f"Rotation of secret {secret.name} failed after step finishSecret: version "
                    f"{token} does not have AWSCURRENT (finishSecret must move AWSCURRENT to it "
                    "with UpdateSecretVersionStage). " + self._redo(secret.name, token)
                )
            stages = rotationstate.finish_stages(secret.stage_map(), token)
            versions = {vid: replace(v, stages=stages[vid]) for vid, v in secret.versions.items()}
            updated = replace(secret, rotation=rotationstate.succeed(rotation, now),
                              versions=versions, last_changed=now)  # fmt: skip
            trailers = {"Secret-Arn": secret.arn, "Client-Request-Token": token}
            files = self._secret_files(updated)
            return Change(None, "RotationSucceeded", secret.name, files, trailers)

        self._transact(plan)

    def rotate_due(self) -> list[DueRotation]:
        """Rotate every secret whose next rotation window has opened (in name order), each with
        its function; a due rotation that failed before is retried with its token. Failures are
        returned, not raised, so that one failing secret does not stop the others."""
        snap = self.repo.tip()
        now = self.clock()
        due = sorted((s for s in self._all(snap) if rotationstate.is_due(s, now)),
                     key=lambda s: s.name)  # fmt: skip
        out: list[DueRotation] = []
        for secret in due:
            assert secret.rotation is not None
            token = secret.rotation.token or random_uuid()
            try:
                done = self.rotate_secret(secret.arn, client_request_token=token)
            except GitsmError as exc:
                out.append(DueRotation(secret.name, secret.arn, token, exc))
            else:
                out.append(DueRotation(secret.name, secret.arn, done.version_id))
        return out
