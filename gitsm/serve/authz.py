"""Authorization of gitsm serve's requests: ``.gitsm/server.yaml`` and the secrets' resource
policies (docs/SERVE.md, "Authorization"; the file's format: :mod:`gitsm.serverpolicy`).

A request is judged in two steps:

1. :meth:`ServerPolicy.allows` / :meth:`ServerPolicy.check`, before the secret is looked up: the
   SecretId as given (a name, an ARN of the store, a partial ARN) against the caller's prefixes in
   ``.gitsm/server.yaml``. It reads nothing of the store, so a denial cannot tell whether the
   secret exists.
2. :meth:`ServerPolicy.check_resource`, after the lookup: the secret's resource policy, whose
   explicit Deny wins over everything and whose Allow grants what the server policy does not.

A caller the server policy does not allow may still be allowed by a resource policy, which can only
be read once the secret is found. The server keeps the existence oracle closed by answering such a
caller one and the same AccessDeniedException (:meth:`ServerPolicy.denial`, naming the SecretId as
given) whether the secret is missing, pending deletion, or there and its policy does not allow the
call; only a caller the policy allows gets the operation's own answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from gitsm import treefiles
from gitsm.awsclient import SecretsManagerClient
from gitsm.errors import MalformedStoreFile, StoreError
from gitsm.gitrepo import Snapshot
from gitsm.paths import SERVER_PATH
from gitsm.serve.caller import Caller, EndpointError
from gitsm.serve.statements import ALLOW, DENY, evaluate
from gitsm.serverpolicy import (
    EXAMPLE,
    LIST,
    NONE,
    OPERATION_CLASS,
    ServerRules,
    parse_rules,
)
from gitsm.store.core import StoreCore

DEFAULT_ACCOUNT = "123456789012"
"""The account of principal ARNs when no store config names one (AWS's documentation account)."""
_SECRET_ARN = re.compile(r"arn:aws:secretsmanager:[^:]*:[^:]*:secret:(?P<rest>.*)", re.DOTALL)
_SUFFIX = 7  # "-" and the six random characters AWS appends to a name in an ARN


def principal_arn(account_id: str, principal: str) -> str:
    """The ARN a principal has in messages and resource policies: an IAM user of the store's
    account, ``arn:aws:iam::<account>:user/<principal>``."""
    return f"arn:aws:iam::{account_id}:user/{principal}"


def names_of(secret_id: str) -> list[str]:
    """The secret names a SecretId may stand for, as the store resolves it (without looking).

    A name is itself. An ARN of the form ``arn:aws:secretsmanager:<region>:<account>:secret:<rest>``
    stands for ``<rest>`` (a partial ARN, which spells the name) and, when ``<rest>`` ends in ``-``
    and six characters, for ``<rest>`` without them (a full ARN): a caller must be allowed on both,
    since the lookup may pick either. Any other text starting ``arn:`` names no secret the store
    could find, and is checked as the text it is (only ``"*"`` covers it)."""
    found = _SECRET_ARN.fullmatch(secret_id) if secret_id.startswith("arn:") else None
    if found is None:
        return [secret_id]
    rest = found["rest"]
    if len(rest) > _SUFFIX and rest[-_SUFFIX] == "-":
        return [rest[:-_SUFFIX], rest]
    return [rest]


@dataclass(frozen=True)
class ServerPolicy:
    """The server policy in force: the rules of ``.gitsm/server.yaml`` and the store's account.

    ``found`` is False when the tree has no server policy; ``problem`` says why a file that is
    there was refused. In both cases the rules are empty and every request is denied."""

    rules: ServerRules = field(default_factory=ServerRules)
    account_id: str = DEFAULT_ACCOUNT
    found: bool = True
    problem: str | None = None
    blob_id: str | None = None
    """The blob the rules were read from (reused while it stays the same)."""
    source: str | None = None
    """The ``.gitsm`` directory (tree id) the policy and the account were read from: while a tip
    keeps it, neither changed (a write of a secret changes only ``secrets/``)."""

    @classmethod
    def parse(
        cls, text: bytes, where: str = SERVER_PATH, *, account_id: str = DEFAULT_ACCOUNT
    ) -> ServerPolicy:
        """The server policy of a file's content, strictly parsed (MalformedStoreFile naming
        ``where``, the problem and its fix when it is not one)."""
        return cls(parse_rules(text, where), account_id)

    @classmethod
    def empty(cls, account_id: str = DEFAULT_ACCOUNT) -> ServerPolicy:
        """The policy of a store without ``.gitsm/server.yaml``: every request is denied."""
        return cls(ServerRules(), account_id, found=False)

    @property
    def advice(self) -> str | None:
        """What the server should print at start and on reload: None when the file is in force."""
        if self.problem is not None:
            return f"{self.problem}\nEvery request is denied until it is fixed."
        if not self.found:
            return (f"The store has no {SERVER_PATH}, so every request is denied. Commit one, "
                    f"such as:\n\n{EXAMPLE}")  # fmt: skip
        return None

    def user_arn(self, caller: Caller) -> str:
        """The caller's principal ARN."""
        return principal_arn(self.account_id, caller.principal)

    def name_arn(self, caller: Caller, name: str) -> str:
        """``arn:aws:secretsmanager:<region>:<account>:secret:<name>``: a secret's ARN without
        the six characters AWS appends, when its full ARN is not at hand."""
        return f"arn:aws:secretsmanager:{caller.region}:{self.account_id}:secret:{name}"

    # -- before the lookup ---------------------------------------------------------------------

    def allows(self, caller: Caller, operation: str, secret_id: str | None) -> bool:
        """True when ``.gitsm/server.yaml`` lets ``caller`` call ``operation`` on ``secret_id`` as
        given (None when the request names no secret; for CreateSecret, its Name). A listing
        (ListSecrets, BatchGetSecretValue) is checked as a whole here; its results are filtered
        with :meth:`may_read`, and each SecretId of a BatchGetSecretValue list is checked as a
        GetSecretValue."""
        kind = OPERATION_CLASS.get(operation)
        names = None if secret_id is None or kind in (LIST, NONE) else names_of(secret_id)
        return self.rules.allows(caller.principal, operation, names)

    def denial(
        self, caller: Caller, operation: str, secret_id: str | None, *, explicit: bool = False
    ) -> EndpointError:
        """AWS's AccessDeniedException for the request, naming the SecretId as given (``*``
        when there is none); ``explicit`` for a Deny of a resource policy."""
        resource = "*" if secret_id is None else secret_id
        reason = (
            "with an explicit deny in a resource-based policy"
            if explicit
            else f"because no identity-based policy allows the secretsmanager:{operation} action"
        )
        return EndpointError(
            "AccessDeniedException",
            f"User: {self.user_arn(caller)} is not authorized to perform: "
            f"secretsmanager:{operation} on resource: {resource} {reason}",
            400,
        )

    def check(self, caller: Caller, operation: str, secret_id: str | None) -> None:
        """Raise :meth:`denial` unless :meth:`allows`."""
        if not self.allows(caller, operation, secret_id):
            raise self.denial(caller, operation, secret_id)

    # -- after the lookup ----------------------------------------------------------------------

    def resource_decision(
        self, caller: Caller, operation: str, resource_policy: str | None, secret_arn: str
    ) -> str | None:
        """What the secret's resource policy says of the call: Allow, Deny or None."""
        return evaluate(
            resource_policy,
            user_arn=self.user_arn(caller),
            account_id=self.account_id,
            action=f"secretsmanager:{operation}",
            resource_arn=secret_arn,
        )

    def check_resource(
        self,
        caller: Caller,
        operation: str,
        secret_name: str,
        resource_policy_json: str | None,
        identity_allowed: bool,
        *,
        secret_arn: str | None = None,
        secret_id: str | None = None,
    ) -> None:
        """Raise AccessDeniedException when the found secret's resource policy denies the call,
        or when neither ``.gitsm/server.yaml`` (``identity_allowed``, from :meth:`allows`) nor the
        policy allows it. ``secret_arn`` is matched against the statements' Resource (without it,
        the ARN is taken to be ``...:secret:<name>``, which only patterns like ``*`` match);
        ``secret_id`` is the SecretId as given, named in the message (default: the name). A
        caller the server policy does not allow gets the same denial as before the lookup."""
        arn = secret_arn or self.name_arn(caller, secret_name)
        given = secret_name if secret_id is None else secret_id
        decision = self.resource_decision(caller, operation, resource_policy_json, arn)
        if decision == DENY:
            raise self.denial(caller, operation, given, explicit=identity_allowed)
        if not identity_allowed and decision != ALLOW:
            raise self.denial(caller, operation, given)

    def may_read(
        self,
        caller: Caller,
        name: str,
        operation: str = "GetSecretValue",
        *,
        resource_policy: str | None = None,
        secret_arn: str | None = None,
    ) -> bool:
        """True when a listing may show ``caller`` the secret ``name``: it may call ``operation``
        on it (GetSecretValue for BatchGetSecretValue's values; DescribeSecret suits ListSecrets)
        by ``.gitsm/server.yaml`` or by the secret's ``resource_policy``, and that policy does not
        deny it."""
        allowed = self.rules.allows(caller.principal, operation, [name])
        if resource_policy is None:
            return allowed
        arn = secret_arn or self.name_arn(caller, name)
        decision = self.resource_decision(caller, operation, resource_policy, arn)
        return decision != DENY and (allowed or decision == ALLOW)


def _account(store: StoreCore, snap: Snapshot) -> str:
    """The store's account at ``snap`` (the store parses its config once per config blob: a
    write moves the tip but seldom the config)."""
    try:
        return store.config(snap).account_id
    except StoreError:  # no config, or one that is refused (MalformedStoreFile)
        return DEFAULT_ACCOUNT


def load_server_policy(
    source: StoreCore | SecretsManagerClient,
    known: tuple[str | None, ServerPolicy] | None = None,
    tip: str | None = None,
) -> tuple[str | None, ServerPolicy]:
    """(the branch tip's commit id, the server policy in its tree) of a store or client.

    Pass the pair it returned last as ``known``: while the tip has not moved it is returned as it
    is (one reference read), and while ``.gitsm/server.yaml``'s blob stays the same its rules are
    reused. ``tip``: the tip's full commit id, when the caller has just read the branch (then it
    is not read again). A missing file gives :meth:`ServerPolicy.empty`; a file that is refused
    gives a policy that denies everything, with ``problem`` saying why (fail closed;
    :attr:`ServerPolicy.advice` is what to print)."""
    store = source.store if isinstance(source, SecretsManagerClient) else source
    repo = store.repo
    commit = tip or repo.ref_target(repo.ref)
    if known is not None and known[0] == commit:
        return known
    snap = repo.snapshot_of(commit)
    folder = snap.subtree_id(SERVER_PATH.rpartition("/")[0])
    if known is not None and folder is not None and known[1].source == folder:
        return commit, known[1]
    account = _account(store, snap)
    blob = snap.blob_id(SERVER_PATH)
    if known is not None and known[1].blob_id == blob and known[1].account_id == account:
        return commit, replace(known[1], source=folder)
    try:
        data = treefiles.server_policy_bytes(snap)
        if data is None:
            return commit, replace(ServerPolicy.empty(account), source=folder)
        policy = ServerPolicy.parse(data, account_id=account)
    except MalformedStoreFile as exc:
        return commit, ServerPolicy(ServerRules(), account, problem=str(exc), blob_id=blob,
                                    source=folder)  # fmt: skip
    return commit, ServerPolicy(policy.rules, account, blob_id=blob, source=folder)


__all__ = ["DEFAULT_ACCOUNT", "ServerPolicy", "load_server_policy", "names_of", "principal_arn"]
