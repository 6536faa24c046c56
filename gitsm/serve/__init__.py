"""``gitsm serve``: the AWS Secrets Manager API (AWS JSON 1.1) over a gitsm store.

Boto3, the aws CLI, External Secrets Operator and Terraform's aws provider reach a store through it
with a custom endpoint. Its modules: the wire format, SigV4 checking, access keys, the server policy
(``.gitsm/server.yaml``), the per-commit response cache and the HTTP server. Needs the ``server``
extra only for the fast HTTP parser; the rest is the standard library and gitsm's client.
"""
