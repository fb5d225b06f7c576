//! Running the `kms-operator` binary the way users do.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// The call summary `--output json` prints on stderr.
    pub fn summary(&self) -> Value {
        let line = self
            .stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("{\"summary\""))
            .unwrap_or_else(|| panic!("no summary on stderr:\n{}", self.stderr));
        serde_json::from_str::<Value>(line).expect("summary is JSON")["summary"].clone()
    }

    pub fn writes(&self) -> u64 {
        self.summary()["calls"]["writes"].as_u64().expect("writes")
    }

    pub fn calls(&self, operation: &str) -> u64 {
        self.summary()["calls"]["byOperation"][operation].as_u64().unwrap_or(0)
    }

    /// The result object of one resource in `--output json`.
    pub fn resource(&self, kind: &str, name: &str) -> Value {
        self.json()
            .as_array()
            .expect("a JSON array")
            .iter()
            .find(|r| r["kind"] == kind && r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} {name} in output:\n{}", self.stdout))
    }

    /// The resource was refused with `reason`, in its result and in both conditions; returns
    /// the refusal's message.
    pub fn assert_refused(&self, kind: &str, name: &str, reason: &str) -> String {
        let resource = self.resource(kind, name);
        // A refused row keeps the contract's shape: kind, namespace, name, actions, status.
        assert_eq!(resource["actions"], serde_json::json!([]), "{resource:#}");
        assert!(resource["namespace"].is_string() && resource["status"].is_object(), "{resource:#}");
        assert_eq!(resource["result"], "Refused", "{resource:#}");
        assert_eq!(resource["refused"]["reason"], reason, "{resource:#}");
        let conditions = resource["status"]["conditions"].as_array().expect("conditions");
        for type_ in ["Ready", "Synced"] {
            let condition = conditions.iter().find(|c| c["type"] == type_).expect("condition");
            assert_eq!(
                (condition["status"].as_str(), condition["reason"].as_str()),
                (Some("False"), Some(reason)),
                "{type_}"
            );
        }
        resource["refused"]["message"].as_str().unwrap_or_default().to_owned()
    }

    /// KMS calls other than the account's identity check: a refusal made without asking AWS.
    pub fn calls_beyond_identity(&self) -> u64 {
        let summary = self.summary();
        let by_operation = summary["calls"]["byOperation"].as_object().cloned().unwrap_or_default();
        by_operation
            .iter()
            .filter(|(op, _)| op.as_str() != "GetCallerIdentity")
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum()
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// What the tests give the binary: test credentials and no ambient AWS configuration.
pub const TEST_ENV: [(&str, &str); 5] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("RUST_LOG", "warn"),
];

/// `kms-operator ARGS` with nothing in its environment but `PATH` and `env`, not started yet.
pub fn command_in(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kms-operator"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    command
}

/// `kms-operator ARGS` with test credentials and no ambient AWS configuration, not started yet.
pub fn command(args: &[&str], dir: &Path) -> Command {
    command_in(args, dir, &TEST_ENV)
}

/// Runs `kms-operator ARGS` with test credentials and no ambient AWS configuration.
pub fn kms_operator(args: &[&str], dir: &Path) -> Output {
    collect(command(args, dir))
}

/// Runs `kms-operator ARGS` with nothing in its environment but `PATH` and `env`.
pub fn kms_operator_in(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    collect(command_in(args, dir, env))
}

/// Runs `command` (any program) to the end and keeps what it printed.
pub fn collect(mut command: Command) -> Output {
    let output = command.output().expect("run kms-operator");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `kms-operator <command> -f <dir> -o json`.
pub fn run_json(command: &str, dir: &Path) -> Output {
    kms_operator(&[command, "-f", ".", "-o", "json"], dir)
}
