#!/usr/bin/env bash
# The quick-start demo: a local KMS server (moto) on a free port, the example manifests applied
# to it, the status table, and a plan that shows everything in sync.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/venv.sh
cargo build --quiet
cargo build --quiet --example local_aws_proxy
bin="$root/target/debug/kms-operator"

port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > "$root/.cache/demo-kms.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
# moto parses CloudWatch's JSON protocol, not the CBOR the Rust SDK speaks: the test proxy
# translates (docs/testing.md), in front of the server for every service.
proxy_out="$root/.cache/demo-proxy.out"
"$root/target/debug/examples/local_aws_proxy" "$port" > "$proxy_out" 2>&1 &
proxy=$!
trap 'kill "$server" "$proxy" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if [[ -s "$proxy_out" ]]; then break; fi
  sleep 0.1
done
endpoint="$(head -n 1 "$proxy_out")"

# The examples carry no endpoint: the standard AWS environment points them, KMS and STS alike,
# at the local server. Their role is assumed there in their own account, so the operator's
# check that the credentials belong to the declared account holds as it does against AWS.
export AWS_ENDPOINT_URL="$endpoint"
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=ap-southeast-2
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

echo "Local KMS server on $AWS_ENDPOINT_URL"
echo
echo "\$ kms-operator apply -f deploy/examples/"
"$bin" apply -f deploy/examples/
echo
echo "\$ kms-operator plan -f deploy/examples/"
"$bin" plan -f deploy/examples/
