# kms-operator controller image.
#   docker build -t ghcr.io/kms-operator/kms-operator:0.1.0 .
# Multi-stage: a full Rust toolchain builds the release binary; the final image is distroless
# (glibc, CA certificates, no shell) and runs as the non-root user 65532. The `ci` stage is the
# image for CI jobs (docs/gitops.md).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that source changes rebuild only the crate. Cargo reads every target
# Cargo.toml names before it accepts the manifest, the benchmarks included (it builds none of
# them here), so benches/ comes with it. tests/image replays these steps on the host.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin kms-operator

# `docker build --target ci -t <registry>/kms-operator:0.1.0-ci .`: the binary with a shell, curl,
# jq and git, and the pull-request plan script, for CI jobs (docs/gitops.md). It runs as root, as
# CI job images do; the controller image below is the hardened one and the default target.
FROM debian:bookworm-slim AS ci
# Debian's stable point releases replace package versions and drop the old ones from the
# mirror, so pinned versions would break the build; the base image's tag pins the release.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends bash ca-certificates curl git jq \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/kms-operator /usr/local/bin/kms-operator
COPY deploy/ci/kms-operator-pr-plan.sh /usr/local/bin/kms-operator-pr-plan

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/kms-operator /usr/local/bin/kms-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kms-operator"]
CMD ["run"]
