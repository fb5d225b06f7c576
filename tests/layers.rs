//! Dependencies point one way: `api` ← `policy`, `aws` ← `engine` ← `local`, `controller` ←
//! `cli`. A module may use only the layers beneath it; this reads every source file and names
//! each `crate::` path that reaches up or sideways.

use std::path::Path;

/// Each layer and the layers it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("api", &["telemetry"]),
    ("policy", &["api"]),
    ("aws", &["api"]),
    ("engine", &["api", "policy", "aws"]),
    ("local", &["api", "policy", "aws", "engine"]),
    ("controller", &["api", "policy", "aws", "engine", "telemetry"]),
    ("cli", &["api", "policy", "aws", "engine", "local", "controller", "telemetry"]),
];

const LAYERS: &[&str] = &["api", "policy", "aws", "engine", "local", "controller", "cli", "telemetry"];

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The layers `text` names through `crate::<layer>`.
fn layers_used(text: &str) -> Vec<&'static str> {
    LAYERS.iter().copied().filter(|layer| text.contains(&format!("crate::{layer}"))).collect()
}

#[test]
fn no_layer_reaches_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (layer, allowed) in ALLOWED {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for used in layers_used(&text) {
                if used != *layer && !allowed.contains(&used) {
                    violations.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layers reaching up:\n{}", violations.join("\n"));
}

#[test]
fn the_check_sees_a_reach_up() {
    assert_eq!(layers_used("use crate::cli::EngineArgs;\nuse crate::engine::Engine;"), vec!["engine", "cli"]);
}
