"""gitsm's API model: the operations it serves, as the client, the CLI and ``gitsm serve`` read them.

GENERATED from botocore's secretsmanager service model by ``tests/gen_apimodel.py`` (which holds
the only hand-written list of operations): do not edit; ``tests/test_apimodel.py`` fails when it is
stale. Pure data.

- ``OPERATIONS``: each operation's input shape, restricted to the members gitsm implements and
  those it accepts only to refuse them. A shape is ``{"type": ...}`` with botocore's ``min`` and
  ``sensitive`` where the model has them, ``members`` and ``required`` for a structure, ``member``
  for a list, ``key`` and ``value`` for a map: what botocore's parameter validation reads
  (:mod:`gitsm.paramcheck`), and what a wire decoder reads.
- ``ERRORS``: the service's error shapes (the classes of a boto3 client's ``exceptions``).
- ``SERVICE``: the service's protocol metadata (``targetPrefix``: a request's ``X-Amz-Target`` is
  ``<targetPrefix>.<Operation>``; ``jsonVersion``: its content type is
  ``application/x-amz-json-<jsonVersion>``; ``signingName``: SigV4's service name...).
- ``ACCESS``: the operations gitsm serves, each ``"read"`` (changes nothing) or ``"write"`` (may
  change the store); ``READS`` and ``WRITES`` split it.
- ``OUTPUT_TIMESTAMPS_BLOBS``: per operation, the output members that are timestamps or blobs, as a
  shape pruned to the branches that hold one: ``"timestamp"`` or ``"blob"``, ``{"Member": shape}``
  for a structure, ``[shape]`` for a list's items, ``{"*": shape}`` for a map's values. The client
  returns them as aware datetimes and bytes; a wire encoder converts them.
- ``CLI``: per operation the CLI has a command for, ``command`` (the aws CLI name), ``doc``,
  ``options`` (the members it takes, in the API's order, and each one's aws CLI option), ``enums``
  (the allowed values of string members that have them, by dotted member path; lists and maps
  add nothing to a path), ``idempotency_token``, ``docs`` (each option's first reference
  sentence), ``output_skeleton`` (botocore's sample output) and ``paginator`` (or None). Member
  shapes and required members are ``OPERATIONS``'s (:mod:`gitsm.cli.awsmodel` combines the two).
"""

from __future__ import annotations

from typing import Any, Literal

# fmt: off
OPERATIONS: dict[str, dict[str, Any]] = {
    'CreateSecret': {'type': 'structure', 'members': {'Name': {'type': 'string', 'min': 1}, 'ClientRequestToken': {'type': 'string', 'min': 32}, 'Description': {'type': 'string'}, 'KmsKeyId': {'type': 'string', 'min': 0}, 'SecretBinary': {'type': 'blob', 'min': 1, 'sensitive': True}, 'SecretString': {'type': 'string', 'min': 1, 'sensitive': True}, 'Tags': {'type': 'list', 'member': {'type': 'structure', 'members': {'Key': {'type': 'string', 'min': 1}, 'Value': {'type': 'string', 'min': 0}}, 'required': []}}, 'AddReplicaRegions': {'type': 'list', 'min': 1, 'member': {'type': 'structure', 'members': {'Region': {'type': 'string', 'min': 1}, 'KmsKeyId': {'type': 'string', 'min': 0}}, 'required': []}}, 'ForceOverwriteReplicaSecret': {'type': 'boolean'}}, 'required': ['Name']},
    'UpdateSecret': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'ClientRequestToken': {'type': 'string', 'min': 32}, 'Description': {'type': 'string'}, 'KmsKeyId': {'type': 'string', 'min': 0}, 'SecretBinary': {'type': 'blob', 'min': 1, 'sensitive': True}, 'SecretString': {'type': 'string', 'min': 1, 'sensitive': True}}, 'required': ['SecretId']},
    'PutSecretValue': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'ClientRequestToken': {'type': 'string', 'min': 32}, 'SecretBinary': {'type': 'blob', 'min': 1, 'sensitive': True}, 'SecretString': {'type': 'string', 'min': 1, 'sensitive': True}, 'VersionStages': {'type': 'list', 'min': 1, 'member': {'type': 'string', 'min': 1}}, 'RotationToken': {'type': 'string', 'min': 36, 'sensitive': True}}, 'required': ['SecretId']},
    'GetSecretValue': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'VersionId': {'type': 'string', 'min': 32}, 'VersionStage': {'type': 'string', 'min': 1}}, 'required': ['SecretId']},
    'DescribeSecret': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}}, 'required': ['SecretId']},
    'ListSecrets': {'type': 'structure', 'members': {'IncludePlannedDeletion': {'type': 'boolean'}, 'MaxResults': {'type': 'integer', 'min': 1}, 'NextToken': {'type': 'string', 'min': 1}, 'Filters': {'type': 'list', 'member': {'type': 'structure', 'members': {'Key': {'type': 'string'}, 'Values': {'type': 'list', 'min': 1, 'member': {'type': 'string'}}}, 'required': []}}, 'SortOrder': {'type': 'string'}, 'SortBy': {'type': 'string'}}, 'required': []},
    'ListSecretVersionIds': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'MaxResults': {'type': 'integer', 'min': 1}, 'NextToken': {'type': 'string', 'min': 1}, 'IncludeDeprecated': {'type': 'boolean'}}, 'required': ['SecretId']},
    'UpdateSecretVersionStage': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'VersionStage': {'type': 'string', 'min': 1}, 'RemoveFromVersionId': {'type': 'string', 'min': 32}, 'MoveToVersionId': {'type': 'string', 'min': 32}}, 'required': ['SecretId', 'VersionStage']},
    'DeleteSecret': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'RecoveryWindowInDays': {'type': 'long'}, 'ForceDeleteWithoutRecovery': {'type': 'boolean'}}, 'required': ['SecretId']},
    'RestoreSecret': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}}, 'required': ['SecretId']},
    'TagResource': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'Tags': {'type': 'list', 'member': {'type': 'structure', 'members': {'Key': {'type': 'string', 'min': 1}, 'Value': {'type': 'string', 'min': 0}}, 'required': []}}}, 'required': ['SecretId', 'Tags']},
    'UntagResource': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'TagKeys': {'type': 'list', 'member': {'type': 'string', 'min': 1}}}, 'required': ['SecretId', 'TagKeys']},
    'GetResourcePolicy': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}}, 'required': ['SecretId']},
    'PutResourcePolicy': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'ResourcePolicy': {'type': 'string', 'min': 1}, 'BlockPublicPolicy': {'type': 'boolean'}}, 'required': ['SecretId', 'ResourcePolicy']},
    'DeleteResourcePolicy': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}}, 'required': ['SecretId']},
    'ValidateResourcePolicy': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'ResourcePolicy': {'type': 'string', 'min': 1}}, 'required': ['ResourcePolicy']},
    'GetRandomPassword': {'type': 'structure', 'members': {'PasswordLength': {'type': 'long', 'min': 1}, 'ExcludeCharacters': {'type': 'string', 'min': 0}, 'ExcludeNumbers': {'type': 'boolean'}, 'ExcludePunctuation': {'type': 'boolean'}, 'ExcludeUppercase': {'type': 'boolean'}, 'ExcludeLowercase': {'type': 'boolean'}, 'IncludeSpace': {'type': 'boolean'}, 'RequireEachIncludedType': {'type': 'boolean'}}, 'required': []},
    'BatchGetSecretValue': {'type': 'structure', 'members': {'SecretIdList': {'type': 'list', 'min': 1, 'member': {'type': 'string', 'min': 1}}, 'Filters': {'type': 'list', 'member': {'type': 'structure', 'members': {'Key': {'type': 'string'}, 'Values': {'type': 'list', 'min': 1, 'member': {'type': 'string'}}}, 'required': []}}, 'MaxResults': {'type': 'integer', 'min': 1}, 'NextToken': {'type': 'string', 'min': 1}}, 'required': []},
    'RotateSecret': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'ClientRequestToken': {'type': 'string', 'min': 32}, 'RotationLambdaARN': {'type': 'string', 'min': 0}, 'RotationRules': {'type': 'structure', 'members': {'AutomaticallyAfterDays': {'type': 'long', 'min': 1}, 'Duration': {'type': 'string', 'min': 2}, 'ScheduleExpression': {'type': 'string', 'min': 1}}, 'required': []}, 'RotateImmediately': {'type': 'boolean'}}, 'required': ['SecretId']},
    'CancelRotateSecret': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}}, 'required': ['SecretId']},
    'ReplicateSecretToRegions': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'AddReplicaRegions': {'type': 'list', 'min': 1, 'member': {'type': 'structure', 'members': {'Region': {'type': 'string', 'min': 1}, 'KmsKeyId': {'type': 'string', 'min': 0}}, 'required': []}}, 'ForceOverwriteReplicaSecret': {'type': 'boolean'}}, 'required': ['SecretId', 'AddReplicaRegions']},
    'RemoveRegionsFromReplication': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}, 'RemoveReplicaRegions': {'type': 'list', 'min': 1, 'member': {'type': 'string', 'min': 1}}}, 'required': ['SecretId', 'RemoveReplicaRegions']},
    'StopReplicationToReplica': {'type': 'structure', 'members': {'SecretId': {'type': 'string', 'min': 1}}, 'required': ['SecretId']},
}
ERRORS: list[str] = ['DecryptionFailure', 'EncryptionFailure', 'InternalServiceError', 'InvalidNextTokenException', 'InvalidParameterException', 'InvalidRequestException', 'LimitExceededException', 'MalformedPolicyDocumentException', 'PreconditionNotMetException', 'PublicPolicyException', 'ResourceExistsException', 'ResourceNotFoundException']
SERVICE: dict[str, str] = {'apiVersion': '2017-10-17', 'endpointPrefix': 'secretsmanager', 'jsonVersion': '1.1', 'protocol': 'json', 'signingName': 'secretsmanager', 'targetPrefix': 'secretsmanager'}
ACCESS: dict[str, Literal["read", "write"]] = {
    'CreateSecret': 'write',
    'UpdateSecret': 'write',
    'PutSecretValue': 'write',
    'GetSecretValue': 'read',
    'DescribeSecret': 'read',
    'ListSecrets': 'read',
    'ListSecretVersionIds': 'read',
    'UpdateSecretVersionStage': 'write',
    'DeleteSecret': 'write',
    'RestoreSecret': 'write',
    'TagResource': 'write',
    'UntagResource': 'write',
    'GetResourcePolicy': 'read',
    'PutResourcePolicy': 'write',
    'DeleteResourcePolicy': 'write',
    'ValidateResourcePolicy': 'read',
    'GetRandomPassword': 'read',
    'BatchGetSecretValue': 'read',
    'RotateSecret': 'write',
    'CancelRotateSecret': 'write',
    'ReplicateSecretToRegions': 'write',
    'RemoveRegionsFromReplication': 'write',
    'StopReplicationToReplica': 'write',
}
OUTPUT_TIMESTAMPS_BLOBS: dict[str, dict[str, Any]] = {
    'CreateSecret': {'ReplicationStatus': [{'LastAccessedDate': 'timestamp'}]},
    'UpdateSecret': {},
    'PutSecretValue': {},
    'GetSecretValue': {'SecretBinary': 'blob', 'CreatedDate': 'timestamp'},
    'DescribeSecret': {'LastRotatedDate': 'timestamp', 'LastChangedDate': 'timestamp', 'LastAccessedDate': 'timestamp', 'DeletedDate': 'timestamp', 'NextRotationDate': 'timestamp', 'CreatedDate': 'timestamp', 'ReplicationStatus': [{'LastAccessedDate': 'timestamp'}]},
    'ListSecrets': {'SecretList': [{'LastRotatedDate': 'timestamp', 'LastChangedDate': 'timestamp', 'LastAccessedDate': 'timestamp', 'DeletedDate': 'timestamp', 'NextRotationDate': 'timestamp', 'CreatedDate': 'timestamp'}]},
    'ListSecretVersionIds': {'Versions': [{'LastAccessedDate': 'timestamp', 'CreatedDate': 'timestamp'}]},
    'UpdateSecretVersionStage': {},
    'DeleteSecret': {'DeletionDate': 'timestamp'},
    'RestoreSecret': {},
    'TagResource': {},
    'UntagResource': {},
    'GetResourcePolicy': {},
    'PutResourcePolicy': {},
    'DeleteResourcePolicy': {},
    'ValidateResourcePolicy': {},
    'GetRandomPassword': {},
    'BatchGetSecretValue': {'SecretValues': [{'SecretBinary': 'blob', 'CreatedDate': 'timestamp'}]},
    'RotateSecret': {},
    'CancelRotateSecret': {},
    'ReplicateSecretToRegions': {'ReplicationStatus': [{'LastAccessedDate': 'timestamp'}]},
    'RemoveRegionsFromReplication': {'ReplicationStatus': [{'LastAccessedDate': 'timestamp'}]},
    'StopReplicationToReplica': {},
}
CLI: dict[str, dict[str, Any]] = {
    'CreateSecret': {
        'command': 'create-secret',
        'doc': 'Creates a new secret.',
        'options': {'Name': '--name', 'ClientRequestToken': '--client-request-token', 'Description': '--description', 'KmsKeyId': '--kms-key-id', 'SecretBinary': '--secret-binary', 'SecretString': '--secret-string', 'Tags': '--tags', 'AddReplicaRegions': '--add-replica-regions', 'ForceOverwriteReplicaSecret': '--force-overwrite-replica-secret'},
        'enums': {},
        'idempotency_token': ['ClientRequestToken'],
        'docs': {'Name': 'The name of the new secret.', 'ClientRequestToken': 'If you include SecretString or SecretBinary, then Secrets Manager creates an initial version for the secret, and this parameter specifies the unique identifier for the new version.', 'Description': 'The description of the secret.', 'KmsKeyId': 'The ARN, key ID, or alias of the KMS key that Secrets Manager uses to encrypt the secret value in the secret.', 'SecretBinary': 'The binary data to encrypt and store in the new version of the secret.', 'SecretString': 'The text data to encrypt and store in this new version of the secret.', 'Tags': 'A list of tags to attach to the secret.', 'AddReplicaRegions': 'A list of Regions and KMS keys to replicate secrets.', 'ForceOverwriteReplicaSecret': 'Specifies whether to overwrite a secret with the same name in the destination Region.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'VersionId': 'VersionId', 'ReplicationStatus': [{'Region': 'Region', 'KmsKeyId': 'KmsKeyId', 'Status': 'Status', 'StatusMessage': 'StatusMessage', 'LastAccessedDate': '1970-01-01T00:00:00+00:00'}]},
        'paginator': None,
    },
    'UpdateSecret': {
        'command': 'update-secret',
        'doc': 'Modifies the details of a secret, including metadata and the secret value.',
        'options': {'SecretId': '--secret-id', 'ClientRequestToken': '--client-request-token', 'Description': '--description', 'KmsKeyId': '--kms-key-id', 'SecretBinary': '--secret-binary', 'SecretString': '--secret-string'},
        'enums': {},
        'idempotency_token': ['ClientRequestToken'],
        'docs': {'SecretId': 'The ARN or name of the secret.', 'ClientRequestToken': 'If you include SecretString or SecretBinary, then Secrets Manager creates a new version for the secret, and this parameter specifies the unique identifier for the new version.', 'Description': 'The description of the secret.', 'KmsKeyId': "The ARN, key ID, or alias of the KMS key that Secrets Manager uses to encrypt new secret versions as well as any existing versions with the staging labels AWSCURRENT, AWSPENDING, or AWSPREVIOUS. If you don't have kms:Encrypt permission to the new key, Secrets Manager does not re-encrypt existing secret versions with the new key.", 'SecretBinary': 'The binary data to encrypt and store in the new version of the secret.', 'SecretString': 'The text data to encrypt and store in the new version of the secret.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'VersionId': 'VersionId'},
        'paginator': None,
    },
    'PutSecretValue': {
        'command': 'put-secret-value',
        'doc': 'Creates a new version of your secret by creating a new encrypted value and attaching it to the secret. version can contain a new SecretString value or a new SecretBinary value.',
        'options': {'SecretId': '--secret-id', 'ClientRequestToken': '--client-request-token', 'SecretBinary': '--secret-binary', 'SecretString': '--secret-string', 'VersionStages': '--version-stages', 'RotationToken': '--rotation-token'},
        'enums': {},
        'idempotency_token': ['ClientRequestToken'],
        'docs': {'SecretId': 'The ARN or name of the secret to add a new version to.', 'ClientRequestToken': 'A unique identifier for the new version of the secret.', 'SecretBinary': 'The binary data to encrypt and store in the new version of the secret.', 'SecretString': 'The text to encrypt and store in the new version of the secret.', 'VersionStages': 'A list of staging labels to attach to this version of the secret.', 'RotationToken': 'A unique identifier that indicates the source of the request.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'VersionId': 'VersionId', 'VersionStages': ['SecretVersionStageType']},
        'paginator': None,
    },
    'GetSecretValue': {
        'command': 'get-secret-value',
        'doc': 'Retrieves the contents of the encrypted fields SecretString or SecretBinary from the specified version of a secret, whichever contains content.',
        'options': {'SecretId': '--secret-id', 'VersionId': '--version-id', 'VersionStage': '--version-stage'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret to retrieve.', 'VersionId': 'The unique identifier of the version of the secret to retrieve.', 'VersionStage': 'The staging label of the version of the secret to retrieve.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'VersionId': 'VersionId', 'SecretBinary': None, 'SecretString': 'SecretString', 'VersionStages': ['SecretVersionStageType'], 'CreatedDate': '1970-01-01T00:00:00+00:00'},
        'paginator': None,
    },
    'DescribeSecret': {
        'command': 'describe-secret',
        'doc': 'Retrieves the details of a secret.',
        'options': {'SecretId': '--secret-id'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'Type': 'Type', 'Description': 'Description', 'KmsKeyId': 'KmsKeyId', 'RotationEnabled': True, 'RotationLambdaARN': 'RotationLambdaARN', 'RotationRules': {'AutomaticallyAfterDays': 0, 'Duration': 'Duration', 'ScheduleExpression': 'ScheduleExpression'}, 'ExternalSecretRotationMetadata': [{'Key': 'Key', 'Value': 'Value'}], 'ExternalSecretRotationRoleArn': 'ExternalSecretRotationRoleArn', 'LastRotatedDate': '1970-01-01T00:00:00+00:00', 'LastChangedDate': '1970-01-01T00:00:00+00:00', 'LastAccessedDate': '1970-01-01T00:00:00+00:00', 'DeletedDate': '1970-01-01T00:00:00+00:00', 'NextRotationDate': '1970-01-01T00:00:00+00:00', 'Tags': [{'Key': 'Key', 'Value': 'Value'}], 'VersionIdsToStages': {'KeyName': ['SecretVersionStageType']}, 'OwningService': 'OwningService', 'CreatedDate': '1970-01-01T00:00:00+00:00', 'PrimaryRegion': 'PrimaryRegion', 'ReplicationStatus': [{'Region': 'Region', 'KmsKeyId': 'KmsKeyId', 'Status': 'Status', 'StatusMessage': 'StatusMessage', 'LastAccessedDate': '1970-01-01T00:00:00+00:00'}], 'CrossAccountPrimary': {'PrimarySecretARN': 'PrimarySecretARN', 'ReplicationStatus': 'ReplicationStatus', 'StatusMessage': 'StatusMessage'}, 'CrossAccountReplicas': [{'ReplicaSecretARN': 'ReplicaSecretARN', 'ReplicationRoleARN': 'ReplicationRoleARN', 'ReplicationStatus': 'ReplicationStatus', 'StatusMessage': 'StatusMessage'}]},
        'paginator': None,
    },
    'ListSecrets': {
        'command': 'list-secrets',
        'doc': 'Lists the secrets that are stored by Secrets Manager in the Amazon Web Services account, not including secrets that are marked for deletion.',
        'options': {'IncludePlannedDeletion': '--include-planned-deletion', 'MaxResults': '--max-results', 'NextToken': '--next-token', 'Filters': '--filters', 'SortOrder': '--sort-order', 'SortBy': '--sort-by'},
        'enums': {'Filters.Key': ['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'], 'SortOrder': ['asc', 'desc'], 'SortBy': ['created-date', 'last-accessed-date', 'last-changed-date', 'name']},
        'idempotency_token': [],
        'docs': {'IncludePlannedDeletion': 'Specifies whether to include secrets scheduled for deletion.', 'MaxResults': 'The number of results to include in the response.', 'NextToken': 'A token that indicates where the output should continue from, if a previous call did not show all results.', 'Filters': 'The filters to apply to the list of secrets.', 'SortOrder': 'Secrets are listed by CreatedDate.', 'SortBy': 'If not specified, secrets are listed by CreatedDate.'},
        'output_skeleton': {'SecretList': [{'ARN': 'ARN', 'Name': 'Name', 'Type': 'Type', 'Description': 'Description', 'KmsKeyId': 'KmsKeyId', 'RotationEnabled': True, 'RotationLambdaARN': 'RotationLambdaARN', 'RotationRules': {'AutomaticallyAfterDays': 0, 'Duration': 'Duration', 'ScheduleExpression': 'ScheduleExpression'}, 'ExternalSecretRotationMetadata': [{'Key': 'Key', 'Value': 'Value'}], 'ExternalSecretRotationRoleArn': 'ExternalSecretRotationRoleArn', 'LastRotatedDate': '1970-01-01T00:00:00+00:00', 'LastChangedDate': '1970-01-01T00:00:00+00:00', 'LastAccessedDate': '1970-01-01T00:00:00+00:00', 'DeletedDate': '1970-01-01T00:00:00+00:00', 'NextRotationDate': '1970-01-01T00:00:00+00:00', 'Tags': [{'Key': 'Key', 'Value': 'Value'}], 'SecretVersionsToStages': {'KeyName': ['SecretVersionStageType']}, 'OwningService': 'OwningService', 'CreatedDate': '1970-01-01T00:00:00+00:00', 'PrimaryRegion': 'PrimaryRegion'}], 'NextToken': 'NextToken'},
        'paginator': {'input_token': 'NextToken', 'limit_key': 'MaxResults', 'output_token': 'NextToken', 'result_key': 'SecretList'},
    },
    'ListSecretVersionIds': {
        'command': 'list-secret-version-ids',
        'doc': 'Lists the versions of a secret.',
        'options': {'SecretId': '--secret-id', 'MaxResults': '--max-results', 'NextToken': '--next-token', 'IncludeDeprecated': '--include-deprecated'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret whose versions you want to list.', 'MaxResults': 'The number of results to include in the response.', 'NextToken': 'A token that indicates where the output should continue from, if a previous call did not show all results.', 'IncludeDeprecated': "Specifies whether to include versions of secrets that don't have any staging labels attached to them."},
        'output_skeleton': {'Versions': [{'VersionId': 'VersionId', 'VersionStages': ['SecretVersionStageType'], 'LastAccessedDate': '1970-01-01T00:00:00+00:00', 'CreatedDate': '1970-01-01T00:00:00+00:00', 'KmsKeyIds': ['KmsKeyIdType']}], 'NextToken': 'NextToken', 'ARN': 'ARN', 'Name': 'Name'},
        'paginator': None,
    },
    'UpdateSecretVersionStage': {
        'command': 'update-secret-version-stage',
        'doc': 'Modifies the staging labels attached to a version of a secret.',
        'options': {'SecretId': '--secret-id', 'VersionStage': '--version-stage', 'RemoveFromVersionId': '--remove-from-version-id', 'MoveToVersionId': '--move-to-version-id'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or the name of the secret with the version and staging labelsto modify.', 'VersionStage': 'The staging label to add to this version.', 'RemoveFromVersionId': 'The ID of the version that the staging label is to be removed from.', 'MoveToVersionId': 'The ID of the version to add the staging label to.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name'},
        'paginator': None,
    },
    'DeleteSecret': {
        'command': 'delete-secret',
        'doc': 'Deletes a secret and all of its versions.',
        'options': {'SecretId': '--secret-id', 'RecoveryWindowInDays': '--recovery-window-in-days', 'ForceDeleteWithoutRecovery': '--force-delete-without-recovery'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret to delete.', 'RecoveryWindowInDays': 'The number of days from 7 to 30 that Secrets Manager waits before permanently deleting the secret.', 'ForceDeleteWithoutRecovery': 'Specifies whether to delete the secret without any recovery window.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'DeletionDate': '1970-01-01T00:00:00+00:00'},
        'paginator': None,
    },
    'RestoreSecret': {
        'command': 'restore-secret',
        'doc': 'Cancels the scheduled deletion of a secret by removing the DeletedDate time stamp.',
        'options': {'SecretId': '--secret-id'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret to restore.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name'},
        'paginator': None,
    },
    'TagResource': {
        'command': 'tag-resource',
        'doc': 'Attaches tags to a secret.',
        'options': {'SecretId': '--secret-id', 'Tags': '--tags'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The identifier for the secret to attach tags to.', 'Tags': 'The tags to attach to the secret as a JSON text string argument.'},
        'output_skeleton': {},
        'paginator': None,
    },
    'UntagResource': {
        'command': 'untag-resource',
        'doc': 'Removes specific tags from a secret.',
        'options': {'SecretId': '--secret-id', 'TagKeys': '--tag-keys'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret.', 'TagKeys': 'A list of tag key names to remove from the secret.'},
        'output_skeleton': {},
        'paginator': None,
    },
    'GetResourcePolicy': {
        'command': 'get-resource-policy',
        'doc': 'Retrieves the JSON text of the resource-based policy document attached to the secret.',
        'options': {'SecretId': '--secret-id'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret to retrieve the attached resource-based policy for.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'ResourcePolicy': 'ResourcePolicy', 'PolicyName': 'PolicyName'},
        'paginator': None,
    },
    'PutResourcePolicy': {
        'command': 'put-resource-policy',
        'doc': 'Attaches a resource-based permission policy to a secret.',
        'options': {'SecretId': '--secret-id', 'ResourcePolicy': '--resource-policy', 'BlockPublicPolicy': '--block-public-policy'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret to attach the resource-based policy.', 'ResourcePolicy': 'A JSON-formatted string for an Amazon Web Services resource-based policy.', 'BlockPublicPolicy': 'Specifies whether to block resource-based policies that allow broad access to the secret, for example those that use a wildcard for the principal.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'PolicyName': 'PolicyName'},
        'paginator': None,
    },
    'DeleteResourcePolicy': {
        'command': 'delete-resource-policy',
        'doc': 'Deletes the resource-based permission policy attached to the secret.',
        'options': {'SecretId': '--secret-id'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret to delete the attached resource-based policy for.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'PolicyName': 'PolicyName'},
        'paginator': None,
    },
    'ValidateResourcePolicy': {
        'command': 'validate-resource-policy',
        'doc': 'Validates that a resource policy does not grant a wide range of principals access to your secret.',
        'options': {'SecretId': '--secret-id', 'ResourcePolicy': '--resource-policy'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret with the resource-based policy you want to validate.', 'ResourcePolicy': 'A JSON-formatted string that contains an Amazon Web Services resource-based policy.'},
        'output_skeleton': {'PolicyValidationPassed': True, 'ValidationErrors': [{'CheckName': 'CheckName', 'ErrorMessage': 'ErrorMessage'}]},
        'paginator': None,
    },
    'GetRandomPassword': {
        'command': 'get-random-password',
        'doc': 'Generates a random password.',
        'options': {'PasswordLength': '--password-length', 'ExcludeCharacters': '--exclude-characters', 'ExcludeNumbers': '--exclude-numbers', 'ExcludePunctuation': '--exclude-punctuation', 'ExcludeUppercase': '--exclude-uppercase', 'ExcludeLowercase': '--exclude-lowercase', 'IncludeSpace': '--include-space', 'RequireEachIncludedType': '--require-each-included-type'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'PasswordLength': 'The length of the password.', 'ExcludeCharacters': "A string of the characters that you don't want in the password.", 'ExcludeNumbers': 'Specifies whether to exclude numbers from the password.', 'ExcludePunctuation': 'Specifies whether to exclude the following punctuation characters from the password: ! " # $ % & \' ( ) * +, -. /:; < = > ? @ [ \\ ] ^ _ ` { | } ~. If you don\'t include this switch, the password can contain punctuation.', 'ExcludeUppercase': 'Specifies whether to exclude uppercase letters from the password.', 'ExcludeLowercase': 'Specifies whether to exclude lowercase letters from the password.', 'IncludeSpace': 'Specifies whether to include the space character.', 'RequireEachIncludedType': 'Specifies whether to include at least one upper and lowercase letter, one number, and one punctuation.'},
        'output_skeleton': {'RandomPassword': 'RandomPassword'},
        'paginator': None,
    },
    'BatchGetSecretValue': {
        'command': 'batch-get-secret-value',
        'doc': 'Retrieves the contents of the encrypted fields SecretString or SecretBinary for up to 20 secrets.',
        'options': {'SecretIdList': '--secret-id-list', 'Filters': '--filters', 'MaxResults': '--max-results', 'NextToken': '--next-token'},
        'enums': {'Filters.Key': ['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all']},
        'idempotency_token': [],
        'docs': {'SecretIdList': 'The ARN or names of the secrets to retrieve.', 'Filters': 'The filters to choose which secrets to retrieve.', 'MaxResults': 'The number of results to include in the response.', 'NextToken': 'A token that indicates where the output should continue from, if a previous call did not show all results.'},
        'output_skeleton': {'SecretValues': [{'ARN': 'ARN', 'Name': 'Name', 'VersionId': 'VersionId', 'SecretBinary': None, 'SecretString': 'SecretString', 'VersionStages': ['SecretVersionStageType'], 'CreatedDate': '1970-01-01T00:00:00+00:00'}], 'NextToken': 'NextToken', 'Errors': [{'SecretId': 'SecretId', 'ErrorCode': 'ErrorCode', 'Message': 'Message'}]},
        'paginator': None,
    },
    'RotateSecret': {
        'command': 'rotate-secret',
        'doc': 'Configures and starts the asynchronous process of rotating the secret.',
        'options': {'SecretId': '--secret-id', 'ClientRequestToken': '--client-request-token', 'RotationLambdaARN': '--rotation-lambda-arn', 'RotationRules': '--rotation-rules', 'RotateImmediately': '--rotate-immediately'},
        'enums': {},
        'idempotency_token': ['ClientRequestToken'],
        'docs': {'SecretId': 'The ARN or name of the secret to rotate.', 'ClientRequestToken': 'A unique identifier for the new version of the secret.', 'RotationLambdaARN': 'For secrets that use a Lambda rotation function to rotate, the ARN of the Lambda rotation function.', 'RotationRules': 'A structure that defines the rotation configuration for this secret.', 'RotateImmediately': 'Specifies whether to rotate the secret immediately or wait until the next scheduled rotation window.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'VersionId': 'VersionId'},
        'paginator': None,
    },
    'CancelRotateSecret': {
        'command': 'cancel-rotate-secret',
        'doc': 'Turns off automatic rotation, and if a rotation is currently in progress, cancels the rotation.',
        'options': {'SecretId': '--secret-id'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret.'},
        'output_skeleton': {'ARN': 'ARN', 'Name': 'Name', 'VersionId': 'VersionId'},
        'paginator': None,
    },
    'ReplicateSecretToRegions': {
        'command': 'replicate-secret-to-regions',
        'doc': 'Replicates the secret to a new Regions.',
        'options': {'SecretId': '--secret-id', 'AddReplicaRegions': '--add-replica-regions', 'ForceOverwriteReplicaSecret': '--force-overwrite-replica-secret'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret to replicate.', 'AddReplicaRegions': 'A list of Regions in which to replicate the secret.', 'ForceOverwriteReplicaSecret': 'Specifies whether to overwrite a secret with the same name in the destination Region.'},
        'output_skeleton': {'ARN': 'ARN', 'ReplicationStatus': [{'Region': 'Region', 'KmsKeyId': 'KmsKeyId', 'Status': 'Status', 'StatusMessage': 'StatusMessage', 'LastAccessedDate': '1970-01-01T00:00:00+00:00'}]},
        'paginator': None,
    },
    'RemoveRegionsFromReplication': {
        'command': 'remove-regions-from-replication',
        'doc': 'For a secret that is replicated to other Regions, deletes the secret replicas from the Regions you specify.',
        'options': {'SecretId': '--secret-id', 'RemoveReplicaRegions': '--remove-replica-regions'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the secret.', 'RemoveReplicaRegions': 'The Regions of the replicas to remove.'},
        'output_skeleton': {'ARN': 'ARN', 'ReplicationStatus': [{'Region': 'Region', 'KmsKeyId': 'KmsKeyId', 'Status': 'Status', 'StatusMessage': 'StatusMessage', 'LastAccessedDate': '1970-01-01T00:00:00+00:00'}]},
        'paginator': None,
    },
    'StopReplicationToReplica': {
        'command': 'stop-replication-to-replica',
        'doc': 'Removes the link between a replica secret and its primary secret, and stops replication to the replica.',
        'options': {'SecretId': '--secret-id'},
        'enums': {},
        'idempotency_token': [],
        'docs': {'SecretId': 'The ARN or name of the replica secret.'},
        'output_skeleton': {'ARN': 'ARN'},
        'paginator': None,
    },
}
# fmt: on

READS: frozenset[str] = frozenset(op for op, access in ACCESS.items() if access == "read")
"""The operations that change nothing."""
WRITES: frozenset[str] = frozenset(op for op, access in ACCESS.items() if access == "write")
"""The operations that may change the store."""
