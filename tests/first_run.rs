//! What a newcomer sees on a machine with no AWS credentials at all: one line naming the
//! account, where credentials were looked for and how to provide them; the account's resources
//! pointing at it; a truthful summary; and none of the SDK's internal logging.

mod support;

use std::net::TcpListener;

use support::cli::{Output, kms_operator_in};
use support::manifests::Workspace;
use tempfile::TempDir;

const MANIFESTS: &str = r#"
apiVersion: kmsoperator.dev/v1alpha1
kind: AwsAccount
metadata: {name: core-security}
spec:
  accountId: "484357440923"
  region: eu-west-1
  allowedNamespaces: {}
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsKey
metadata: {name: logs, namespace: apps}
spec:
  accountRef: core-security
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsKey
metadata: {name: data, namespace: apps}
spec:
  accountRef: core-security
---
apiVersion: kmsoperator.dev/v1alpha1
kind: KmsAlias
metadata: {name: logs, namespace: apps}
spec:
  name: alias/logs
  keyRef: {name: logs}
"#;

const ACCOUNT_LINE: &str = "AwsAccount core-security: sts:GetCallerIdentity failed: no AWS credentials found";

/// What only the SDK's internals print: its credential chain's retries and debug structs.
const SDK_NOISE: &[&str] =
    &["WARN", "DEBUG", "DispatchFailure", "ConnectorError", "FailedToLoadToken", "dispatch failure"];

struct Newcomer {
    ws: Workspace,
    /// An empty home: no ~/.aws/config, no ~/.aws/credentials, no SSO cache.
    home: TempDir,
}

impl Newcomer {
    fn new() -> Newcomer {
        let ws = Workspace::new();
        ws.write("manifests.yaml", MANIFESTS);
        Newcomer { ws, home: tempfile::tempdir().expect("temp home") }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let home = self.home.path().to_str().expect("utf-8 temp path");
        let mut all = vec![("HOME", home)];
        all.extend_from_slice(env);
        kms_operator_in(args, self.ws.path(), &all)
    }
}

/// A loopback address where nothing listens: instance metadata that cannot be reached.
fn unreachable_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn assert_quiet(output: &Output) {
    for noise in SDK_NOISE {
        assert!(!output.stderr.contains(noise), "stderr has {noise:?}:\n{}", output.stderr);
    }
}

#[test]
fn no_credentials_is_one_line_with_the_fix_and_the_summary_counts_nothing_as_in_sync() {
    let newcomer = Newcomer::new();
    let output = newcomer.run(&["plan", "-f", "."], &[("AWS_EC2_METADATA_DISABLED", "true")]);
    output.assert_code(1);
    assert_eq!(output.stdout.matches(ACCOUNT_LINE).count(), 1, "{}", output.stdout);
    let line = output.stdout.lines().find(|l| l.contains(ACCOUNT_LINE)).expect("the account's line");
    for word in [
        "CredentialsError",
        "environment variables",
        "shared config and credentials files",
        "web identity token",
        "container and instance metadata",
        "AWS_PROFILE",
        "aws sso login",
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        "IRSA or EKS Pod Identity",
    ] {
        assert!(line.contains(word), "{word:?} missing from {line}");
    }
    for key in ["KmsKey apps/logs", "KmsKey apps/data"] {
        let shown = output.stdout.split("\n\n").find(|block| block.starts_with(key)).expect(key);
        assert!(shown.contains("AwsAccount core-security could not be verified: see above"), "{shown}");
    }
    assert!(!output.stdout.contains("NetworkError"), "{}", output.stdout);
    assert!(output.stdout.contains("0 in sync; 4 with errors"), "{}", output.stdout);
    assert!(output.stderr.trim().is_empty(), "stderr:\n{}", output.stderr);
}

#[test]
fn unreachable_instance_metadata_reads_the_same_and_json_says_failed() {
    let newcomer = Newcomer::new();
    let endpoint = unreachable_endpoint();
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str())];
    let output = newcomer.run(&["apply", "-f", ".", "-o", "json"], &env);
    output.assert_code(1);
    assert_quiet(&output);
    let account = output.resource("AwsAccount", "core-security");
    assert_eq!(account["result"], "Failed");
    assert_eq!(account["error"]["reason"], "CredentialsError");
    assert!(account["error"]["message"].as_str().unwrap().starts_with(ACCOUNT_LINE), "{account}");
    let key = output.resource("KmsKey", "logs");
    assert_eq!(key["error"]["message"], "AwsAccount core-security could not be verified: see above");
    assert_eq!(output.writes(), 0);
}

#[test]
fn verbose_flags_and_rust_log_bring_the_sdk_logs_back() {
    let newcomer = Newcomer::new();
    let endpoint = unreachable_endpoint();
    let quiet = newcomer.run(&["plan", "-f", "."], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str())]);
    assert_quiet(&quiet);
    let verbose =
        newcomer.run(&["plan", "-f", ".", "-vv"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str())]);
    assert!(verbose.stderr.contains("DEBUG"), "-vv shows debug logs:\n{}", verbose.stderr);
    let rust_log = newcomer
        .run(&["plan", "-f", "."], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str()), ("RUST_LOG", "debug")]);
    assert!(rust_log.stderr.contains("DEBUG"), "RUST_LOG=debug shows debug logs:\n{}", rust_log.stderr);
    for output in [&quiet, &verbose, &rust_log] {
        output.assert_code(1);
        assert_eq!(output.stdout.matches(ACCOUNT_LINE).count(), 1, "{}", output.stdout);
    }
}
