//! The commands the docs show, checked against what the project has: `kms-operator`
//! subcommands and flags (its `--help`), `just` recipes, `cargo bench` targets, `helm --set`
//! values of the chart, `docker build --target` stages, and the repository paths they name.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::cli_help::{self, Flag};
use super::moto::project_root;

/// The commands of a shell block: continuation lines joined, prompts and comments dropped, split
/// at `&&`, `||`, `;` and `|`.
pub fn commands(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let line = line.trim().trim_start_matches("$ ");
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(words) = shlex::split(line) else {
            continue;
        };
        let words: Vec<String> = words.into_iter().take_while(|w| !w.starts_with('#')).collect();
        for command in words.split(|w| ["&&", "||", ";", "|"].contains(&w.as_str())) {
            if !command.is_empty() {
                found.push(command.to_vec());
            }
        }
    }
    found
}

pub struct Project {
    subcommands: BTreeMap<String, Vec<Flag>>,
    recipes: BTreeSet<String>,
    benches: BTreeSet<String>,
    stages: BTreeSet<String>,
    values: Value,
}

impl Project {
    pub fn read() -> Project {
        let root = project_root();
        let justfile = std::fs::read_to_string(root.join("justfile")).expect("justfile");
        let recipes = justfile
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !l.starts_with("set "))
            .filter_map(|l| l.split([':', ' ']).next().map(str::to_owned))
            .collect();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        let benches = manifest
            .split("[[bench]]")
            .skip(1)
            .filter_map(|section| section.lines().find_map(|l| l.strip_prefix("name = \"")))
            .map(|name| name.trim_end_matches('"').to_owned())
            .collect();
        let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("Dockerfile");
        let stages = dockerfile
            .lines()
            .filter(|l| l.to_ascii_uppercase().starts_with("FROM "))
            .filter_map(|l| l.split_whitespace().collect::<Vec<_>>().get(3).map(|s| s.to_string()))
            .collect();
        let values_text = std::fs::read_to_string(root.join("charts/kms-operator/values.yaml")).expect("values");
        let values = serde_yaml_ng::from_str(&values_text).expect("values.yaml");
        Project { subcommands: cli_help::subcommands(), recipes, benches, stages, values }
    }

    pub fn check(&self, command: &[String], problems: &mut Vec<String>) {
        let flag_value = |flag: &str| {
            command
                .iter()
                .position(|w| w == flag)
                .and_then(|i| command.get(i + 1))
                .cloned()
                .or_else(|| command.iter().find_map(|w| w.strip_prefix(&format!("{flag}=")).map(str::to_owned)))
        };
        match (command[0].as_str(), command.get(1).map(String::as_str)) {
            ("kms-operator", Some(sub)) if !sub.starts_with('-') => match self.subcommands.get(sub) {
                None => problems.push(format!("`kms-operator {sub}`: no such subcommand")),
                Some(flags) => {
                    for word in command[2..].iter().filter(|w| w.starts_with('-') && w.len() > 1) {
                        let name = word.split('=').next().unwrap_or(word);
                        // `-vv` is `-v` twice.
                        let name = if !name.starts_with("--") { &name[..2] } else { name };
                        if !flags.iter().any(|f| f.is(name)) {
                            problems.push(format!(
                                "`kms-operator {sub} {name}`: no such flag in `kms-operator {sub} --help`"
                            ));
                        }
                    }
                }
            },
            ("just", Some(recipe)) if !recipe.starts_with('-') && !self.recipes.contains(recipe) => {
                problems.push(format!("`just {recipe}`: no such recipe in the justfile"));
            }
            ("cargo", Some("bench")) => {
                if let Some(bench) = flag_value("--bench").filter(|b| !self.benches.contains(b)) {
                    problems.push(format!("`cargo bench --bench {bench}`: no such [[bench]] in Cargo.toml"));
                }
            }
            ("docker", Some("build")) => {
                if let Some(stage) = flag_value("--target").filter(|s| !self.stages.contains(s)) {
                    problems.push(format!("`docker build --target {stage}`: no such stage in the Dockerfile"));
                }
            }
            ("helm", Some("install" | "upgrade" | "template"))
                if command.iter().any(|w| w == "charts/kms-operator") =>
            {
                let set =
                    command.windows(2).filter(|pair| pair[0] == "--set").filter_map(|pair| pair[1].split_once('='));
                for (path, _) in set.filter(|(path, _)| !self.has_value(path)) {
                    problems.push(format!("`helm --set {path}`: no such value in charts/kms-operator/values.yaml"));
                }
            }
            _ => {}
        }
        for word in command {
            let path = word.split_once('=').map_or(word.as_str(), |(_, v)| v);
            check_path(path.strip_prefix("file://").unwrap_or(path), problems);
        }
    }

    /// A dotted `--set` path (`\.` escapes a dot) names a value, or a key under a map the chart
    /// leaves open (an empty one, such as `serviceAccount.annotations`).
    fn has_value(&self, path: &str) -> bool {
        let keys: Vec<String> = path
            .replace("\\.", "\u{0}")
            .split('.')
            .map(|k| k.replace('\u{0}', ".").trim_matches('"').to_owned())
            .collect();
        let mut node = &self.values;
        for key in &keys {
            match node.get(key) {
                Some(next) => node = next,
                None => return node.as_object().is_some_and(|o| o.is_empty()),
            }
        }
        true
    }
}

const REPOSITORY_DIRS: [&str; 10] =
    ["benches/", "charts/", "crds/", "deploy/", "docs/", "scripts/", "src/", "tests/", ".ci/", "Dockerfile"];

/// A path into the repository that a command or inline code names must exist (`*` as a
/// wildcard in its file name; `<...>` placeholders are not paths).
pub fn check_path(word: &str, problems: &mut Vec<String>) {
    if !REPOSITORY_DIRS.iter().any(|dir| word.starts_with(dir)) || word.contains('<') || word.contains(' ') {
        return;
    }
    let path = project_root().join(word.trim_end_matches("..."));
    let exists = match path.file_name().map(|n| n.to_string_lossy().into_owned()) {
        Some(name) if name.contains('*') => {
            let (prefix, suffix) = name.split_once('*').expect("wildcard");
            std::fs::read_dir(path.parent().expect("parent")).is_ok_and(|entries| {
                entries.filter_map(Result::ok).any(|e| {
                    let found = e.file_name().to_string_lossy().into_owned();
                    found.starts_with(prefix) && found.ends_with(suffix)
                })
            })
        }
        _ => path.exists(),
    };
    if !exists {
        problems.push(format!("{word}: no such file or directory in the repository"));
    }
}
