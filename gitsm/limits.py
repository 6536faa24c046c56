"""The limits of gitsm's values and store files, with no imports: shared by the model, the strict
readers and the quick read of ``get-secret-value`` (:mod:`gitsm.quickread`), which must start
without loading the model."""

from __future__ import annotations

NAME_MAX = 512
VALUE_MAX = 65_536
DESCRIPTION_MAX = 2_048
KMS_KEY_ID_MAX = 2_048
TOKEN_MIN, TOKEN_MAX = 32, 64
STAGE_MAX_LEN = 256
STAGES_PER_VERSION = 20
TAGS_MAX = 50
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
ARN_MAX = 2_048
REGION_MAX = 64
"""A store's region (the config's ``region``)."""
REPLICA_REGION_MAX = 128
"""A replica Region code (the API's RegionType: 1-128 characters of ``([a-z]+-)+[0-9]+``)."""
REPLICAS_MAX = 64
"""Replica Regions of one secret (AWS publishes no number; every Region AWS has fits twice)."""
ALIAS_MAX = 256
RESOURCE_POLICY_MAX = 20_480

# Limits of the files gitsm reads from a tree (docs/FORMAT.md, "Limits"). Each is far above what
# gitsm writes for real data and far below what would cost a reader noticeable time or memory.
MANIFEST_MAX_BYTES = 256 * 1024
"""A manifest: about 1,700 versions of one line each, beside 50 tags and a 2,048-character
description, even with every character escaped."""
CONFIG_MAX_BYTES = 256 * 1024
"""The store config: over 2,000 recipients across the key registry."""
ENVELOPE_MAX_BYTES = 1024 * 1024
"""An envelope: a 65,536-byte value (87,404 characters of base64) and RECIPIENTS_MAX stanzas."""
RECIPIENTS_MAX = 256
"""Recipients of one key alias, and so key stanzas of one envelope."""
KEY_IDS_PER_VERSION = 20
"""Entries of a version's ``kms_key_ids`` in a manifest (gitsm writes one)."""
TIMESTAMP_MAX = 64
"""Longest timestamp text (gitsm writes 27 characters)."""
