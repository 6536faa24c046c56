"""The input shapes of the operations ``gitsm.client`` serves. GENERATED: do not edit.

Made from botocore's secretsmanager service model by ``tests/cli/gen_awsmodel.py`` (the members gitsm
implements, and those it accepts only to refuse them); ``tests/cli/test_awsmodel.py`` fails when it
is stale. A shape is ``{"type": ...}`` with botocore's ``min`` and ``sensitive`` where the model
has them, ``members`` and ``required`` for a structure, ``member`` for a list, ``key`` and
``value`` for a map: what botocore's parameter validation reads. ``ERRORS`` lists the service's
error shapes (the classes of a boto3 client's ``exceptions``).
"""

from __future__ import annotations

from typing import Any

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
# fmt: on
