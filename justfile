# kms-operator tasks. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Start a local KMS server, apply deploy/examples/, show the result, then show a plan in sync.
demo:
    bash scripts/demo.sh

# Format check, clippy with warnings as errors, and every test (unit, CRD, integration, docs, chart,
# CI files, the image). Rust tests run under cargo-nextest, each in its own process under a
# deadline (.config/nextest.toml).
test: venv nextest
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    cargo nextest run --all-targets
    just chart-test
    just ci-files-test
    just image-test

# Lint and render the Helm chart with Helm's own SDK, validate what it renders, and run the Argo CD health check.
chart-test: venv
    cd tests/chart && ../../.venv/bin/python -m unittest -v test_chart test_argocd test_access

# Lint the CI files of deploy/ci against their platforms' schemas and shellcheck, and run the
# pull-request script against fake GitHub and GitLab APIs.
ci-files-test: venv
    cd tests/ci && ../../.venv/bin/python -m unittest -v test_ci_files

# Install the test runner, cargo-nextest, unless it is there already.
nextest:
    cargo nextest --version >/dev/null 2>&1 || cargo install cargo-nextest --version 0.9.143 --locked

# Lint the Dockerfile with hadolint and replay its build stages on the host (no container engine
# needed): the same files copied, the same cargo commands, up to the release binary the images ship.
image-test: venv
    cd tests/image && ../../.venv/bin/python -m unittest -v test_dockerfile

# Format and lint without testing.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Regenerate crds/ (and the chart's copy, which its templates render) from the Rust types.
crds:
    cargo run --quiet -- crds --output-dir crds
    cargo run --quiet -- crds --output-dir charts/kms-operator/files/crds

# Install the pinned Python tools (local KMS server, chart checkers) into .venv.
venv:
    bash scripts/venv.sh

# Opt-in end-to-end run against the cluster in KUBECONFIG (kind, k3d); never run by CI.
e2e:
    bash scripts/e2e.sh

# Benchmarks (not tests, not in CI): the planner with criterion, reading large and hostile
# manifest files, then fleets of 100 and 1000 keys + aliases converged against a proxy that
# enforces KMS's request quotas, by local mode and by the controller (in-memory Kubernetes API).
bench: venv
    cargo bench --bench planner
    cargo bench --bench reading
    cargo bench --bench fleet -- 100
    cargo bench --bench fleet -- 1000
    cargo bench --bench controller_fleet -- 100
    cargo bench --bench controller_fleet -- 1000
