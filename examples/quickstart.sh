#!/bin/sh
# Quickstart: a GitOps repository whose secrets live beside the code, guarded by gitsm's hook.
#
#   sh examples/quickstart.sh [DIRECTORY]     (default: a new temporary directory)
#
# It makes a repository with a gitsm store, adds two secrets, installs the pre-commit hook, shows
# that a commit pasting a managed value into config/app.env is refused (the file and line are
# named, the value is not), commits the fixed file, and verifies the store. It uses a private key
# ring in DIRECTORY, so it touches nothing of yours. Needs gitsm on PATH (or GITSM=<command>).
set -eu

gitsm() {
    # shellcheck disable=SC2086 # GITSM is a command line, split on purpose
    ${GITSM:-command gitsm} "$@"
}

workdir=${1:-$(mktemp -d)}
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
export GITSM_HOME="$workdir/gitsm-home" # the demo's own key ring (a local key is made on first use)
repo="$workdir/gitops"

step() { printf '\n== %s\n' "$*"; }

step "A repository with a gitsm store"
gitsm init "$repo" >/dev/null
cd "$repo"
git config user.name >/dev/null || git config user.name "Quickstart"
git config user.email >/dev/null || git config user.email "quickstart@example.com"
ls -A "$repo"

step "Two secrets (values read from stdin, never from argv)"
printf '%s' 'correct-horse-battery-staple' |
    gitsm create-secret --name prod/db/password --secret-string file:///dev/stdin >/dev/null
printf '%s' '{"token": "tok_live_4f9a8c7e2b1d", "account": "acme-payments"}' |
    gitsm create-secret --name prod/payments/api --secret-string file:///dev/stdin >/dev/null
git log --format='  %h %s' | cat
find secrets -type f | sort | sed 's/^/  /'

step "The pre-commit hook"
gitsm hook install

step "A config file with a pasted password is refused"
mkdir -p config
printf 'DB_HOST=db.internal\nDB_USER=app\nDB_PASSWORD=correct-horse-battery-staple\n' >config/app.env
git add config/app.env
if git commit -q -m "Add app config" 2>"$workdir/refused.txt"; then
    echo "the leak was NOT refused" >&2
    exit 1
fi
sed 's/^/  /' "$workdir/refused.txt"
if grep -q 'correct-horse-battery-staple' "$workdir/refused.txt"; then
    echo "the refusal printed the value" >&2
    exit 1
fi

step "The same config, reading the secret at run time instead, is accepted"
cat >config/app.env <<'EOF'
DB_HOST=db.internal
DB_USER=app
# DB_PASSWORD comes from the store: gitsm exec --env DB_PASSWORD=prod/db/password -- ./app
EOF
git add config/app.env
git commit -q -m "Add app config"
git log --format='  %h %s' -1 | cat

step "The store verifies"
gitsm verify
echo "  ok"
printf '\nDone: %s\n' "$repo"
