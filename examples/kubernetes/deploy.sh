#!/bin/sh
# Create or update the Kubernetes Secret `app-db` from the gitsm store, then roll the Deployment.
# Run from a checkout of the store, with the store's key at hand (GITSM_AGE_KEY,
# GITSM_AGE_IDENTITY_FILE or GITSM_LOCAL_KEYS) and kubectl pointed at the cluster.
#
# The values travel from gitsm to kubectl through the environment of `gitsm exec` and a pipe:
# never through argv (visible in the process list), never through a file.
set -eu
namespace=${NAMESPACE:-default}

gitsm exec \
    --env DB_USER=prod/db/credentials#username \
    --env DB_PASSWORD=prod/db/credentials#password \
    -- sh -c '
        printf "username=%s\npassword=%s\n" "$DB_USER" "$DB_PASSWORD" |
            kubectl create secret generic app-db --namespace "$1" \
                --from-env-file=/dev/stdin --dry-run=client -o yaml |
            kubectl apply --namespace "$1" -f -
    ' sh "$namespace"

commit=$(git rev-parse --short HEAD)
kubectl apply --namespace "$namespace" -f "$(dirname -- "$0")/deployment.yaml"
kubectl patch deployment app --namespace "$namespace" --type merge \
    -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"gitsm/store-commit\":\"$commit\"}}}}}"
