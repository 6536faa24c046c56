#!/usr/bin/env bash
# End-to-end demo of the gitsm CLI on the embedded default: a store in a temporary directory and the
# local default key (in a throwaway key ring next to it). Needs `gitsm` on PATH; scripts/demo runs
# it with .venv/bin first on PATH.
set -euo pipefail

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GITSM_HOME="$tmp/keyring"   # the local key ring: the default key is created on first use
export GITSM_FSYNC=0               # a throwaway store: no need to fsync each commit
unset GITSM_REPO
store="$tmp/store"
kms_arn=arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE

say() { printf '\n'; printf '# %s\n' "$@"; }  # one comment line per argument
run() {  # print the command, shell-quoted where needed, then run it
  local shown="" arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then shown+="$arg "; else shown+="'${arg//\'/\'\\\'\'}' "; fi
  done
  printf '$ %s\n' "${shown% }"
  "$@"
}

say "A store is a git repository; region and account make the ARNs look like the AWS examples."
run gitsm init "$store" --region us-west-2 --account-id 123456789012
cd "$store"   # from here on, gitsm finds the store as the git repository around the current directory

say "Create a secret (its first version is encrypted with the local default key)."
run gitsm create-secret --name MyTestSecret --secret-string '{"user":"diegor","password":"first-password"}'

say "The three examples of the aws CLI's update-secret reference page, with aws replaced by gitsm."
say "1. Update the description of a secret: no new version."
run gitsm secretsmanager update-secret --secret-id MyTestSecret --description "This is a new description for the secret."

say "2. Update the encryption key of a secret. gitsm has no AWS KMS access here, so the store admin" \
    "   names that key id in the store's key registry (.gitsm/config.yaml), pointing at the local" \
    "   key, and commits: gitsm then re-wraps the AWSCURRENT/AWSPREVIOUS versions for it."
key_id=$(sed -n 's/^ *key_id: *//p' .gitsm/config.yaml | head -n 1)
sed -i "s|^keys:\$|keys:\n  $kms_arn:\n  - provider: local\n    key_id: $key_id|" .gitsm/config.yaml
grep -q "^  $kms_arn:" .gitsm/config.yaml || { echo "demo: could not edit the key registry" >&2; exit 1; }
git -c user.name="gitsm demo" -c user.email=demo@example.invalid -c commit.gpgsign=false \
  commit -q -am "Map the example KMS key ARN to the store's local key"
run gitsm secretsmanager update-secret --secret-id MyTestSecret --kms-key-id "$kms_arn"

say "3. Update the value of a secret: a new version becomes AWSCURRENT."
run gitsm secretsmanager update-secret --secret-id MyTestSecret --secret-string '{"user":"diegor","password":"EXAMPLE-PASSWORD"}'

say "Read it back, list its versions, and show the history (from commit trailers; never values)."
run gitsm get-secret-value --secret-id MyTestSecret
run gitsm list-secret-version-ids --secret-id MyTestSecret
run gitsm log --secret-id MyTestSecret

say "The key registry: its entries (here also the mapped ARN), the secrets using each, their recipients."
run gitsm keys list --query 'Aliases[].{Alias: AliasName, Secrets: SecretCount, Recipients: Recipients[].KeyId}'

say "Check the store: only manifests and envelopes under secrets/, labels, key ids, and (--decrypt)" \
    "every labeled version decrypts. No output and exit 0 means no problem."
run gitsm verify --decrypt
