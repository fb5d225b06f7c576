//! The Helm chart rendered by Helm's own SDK (tests/chart/chart.py), for tests that check what
//! it installs against what the controller does.

use std::process::Command;

use serde_json::Value;

use super::moto::{ensure_venv, project_root};

/// The objects the chart renders for `values` (templates only, as `helm install` would).
pub fn render(values: &Value) -> Vec<Value> {
    let venv = ensure_venv();
    let output = Command::new(venv.join("bin/python"))
        .arg(project_root().join("tests/chart/chart.py"))
        .arg(values.to_string())
        .output()
        .expect("render the chart");
    assert!(output.status.success(), "chart.py failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("rendered JSON")
}
