#!/usr/bin/env bash
# `make up EMULATOR=localstack`: LocalStack in Docker with the facepipe stack deployed (docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
  echo "error: EMULATOR=localstack needs a running Docker daemon with the compose plugin ('docker info' failed)." >&2
  echo "       Start Docker, or run plain 'make up' for the embedded emulator, which needs no Docker." >&2
  exit 1
fi

echo "==> building the Lambda runtime image (first time: several minutes, ~1.3 GB)"
docker compose --profile build build lambda-runtime
echo "==> serving it from the local registry (LocalStack pulls runtime images)"
docker compose up -d --wait registry
docker compose --profile build push lambda-runtime
echo "==> starting LocalStack on 127.0.0.1:4566"
docker compose up -d --wait localstack
echo "==> deploying the stack (python -m deploy aws in the deployer container)"
docker compose --profile deploy run --rm --build deployer

cat <<EXPORTS
LocalStack is up with stack ${STACK_NAME:-facepipe}. Point the device and the grader at it:
export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_REGION=${AWS_DEFAULT_REGION:-us-east-1} STACK_NAME=${STACK_NAME:-facepipe}
Stop it with: docker compose down (add -v to drop LocalStack's data volume)
EXPORTS
