#!/usr/bin/env bash
# Opt-in end-to-end run against whatever cluster KUBECONFIG points at (kind, k3d, ...):
# installs the CRDs, runs the controller on this machine against that cluster and a local KMS
# server, applies deploy/examples/, waits for every resource to be Ready, checks status, then
# deletes them and waits for the finalizers. Not part of CI: CI has no cluster.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

command -v kubectl >/dev/null || { echo "e2e: kubectl is required" >&2; exit 1; }
kubectl version --request-timeout=5s >/dev/null 2>&1 || { echo "e2e: no reachable cluster in KUBECONFIG" >&2; exit 1; }

bash scripts/venv.sh
cargo build --quiet
bin="$root/target/debug/kms-operator"
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
metrics_port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p .cache
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > .cache/e2e-kms.log 2>&1 &
kms=$!
controller=""
cleanup() {
  kubectl delete -f deploy/examples/ --ignore-not-found --wait=false >/dev/null 2>&1 || true
  [[ -n "$controller" ]] && kill "$controller" 2>/dev/null || true
  kill "$kms" 2>/dev/null || true
}
trap cleanup EXIT

kubectl apply -f crds/
kubectl create namespace platform-kms --dry-run=client -o yaml | kubectl apply -f -
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null

AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=e2e AWS_SECRET_ACCESS_KEY=e2e AWS_REGION=ap-southeast-2 \
  AWS_EC2_METADATA_DISABLED=true KMS_OPERATOR_RESYNC_SECONDS=30 \
  "$bin" run --metrics-addr "127.0.0.1:$metrics_port" > .cache/e2e-controller.log 2>&1 &
controller=$!

kubectl apply -f deploy/examples/
for kind in awsaccount kmskey kmsalias kmsgrant; do
  kubectl wait --for=condition=Ready "$kind" --all -A --timeout=180s
done
kubectl get awsaccounts,kmskeys,kmsaliases,kmsgrants -A
[[ -n "$(kubectl get kmskey datamesh-manager-prod -n platform-kms -o jsonpath='{.status.keyId}')" ]]
curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -q kms_operator_reconciles_total
kubectl describe kmskey datamesh-manager-prod -n platform-kms | tail -20

kubectl delete -f deploy/examples/ --timeout=180s
echo "e2e: passed"
