#!/usr/bin/env bash
set -euo pipefail

REGISTRY=ghcr.io/acme-data
IMAGE="$REGISTRY/pipeline:${GITHUB_SHA:-dev}"

# CI passes GHCR_TOKEN; for manual deploys fall back to the ops bot token.
GHCR_TOKEN="${GHCR_TOKEN:-@@ghp:pipeline-opsbot@@}"
echo "$GHCR_TOKEN" | docker login ghcr.io -u acme-ops-bot --password-stdin

docker build -t "$IMAGE" .
docker push "$IMAGE"

export PGPASSWORD="$(aws ssm get-parameter --name /pipeline/db/password --with-decryption --query Parameter.Value --output text)"
psql -h pipeline-db.acme-data.net -U pipeline_admin -d pipeline -f migrations/latest.sql

curl -fsS -X POST \
  -H "Content-Type: application/json" \
  -d "{\"text\":\"pipeline deployed: $IMAGE\"}" \
  "@@slackhook:pipeline-deploys@@"
