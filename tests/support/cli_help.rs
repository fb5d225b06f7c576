//! What `kms-operator --help` says: its subcommands, and each one's flags with their environment
//! variables and defaults, so that docs can be held to the binary.

use std::collections::BTreeMap;
use std::process::Command;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flag {
    pub short: Option<String>,
    pub long: Option<String>,
    pub env: Option<String>,
    pub default: Option<String>,
}

impl Flag {
    pub fn is(&self, name: &str) -> bool {
        self.short.as_deref() == Some(name) || self.long.as_deref() == Some(name)
    }
}

/// Every subcommand and its flags (global flags included, as clap lists them).
pub fn subcommands() -> BTreeMap<String, Vec<Flag>> {
    let top = help(&[]);
    let names: Vec<String> = top
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect();
    assert!(names.len() >= 6, "no subcommands found in:\n{top}");
    names.into_iter().map(|name| (name.clone(), flags(&help(&[&name])))).collect()
}

fn help(subcommand: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_kms-operator"))
        .args(subcommand)
        .arg("--help")
        .env_clear()
        .output()
        .expect("kms-operator --help");
    assert!(output.status.success(), "{subcommand:?} --help: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 help")
}

/// The flags of one help text: an option's line starts with `-` at a small indent, its
/// description follows at a larger one and ends with `[env: NAME=]` and `[default: VALUE]`.
pub fn flags(help: &str) -> Vec<Flag> {
    let mut found: Vec<Flag> = Vec::new();
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim_start();
        if text.starts_with('-') && indent <= 6 {
            let mut flag = Flag::default();
            for word in text.split([',', ' ']).filter(|w| w.starts_with('-')) {
                let word = word.trim_end_matches("...");
                if word.starts_with("--") {
                    flag.long = Some(word.to_owned());
                } else {
                    flag.short = Some(word.to_owned());
                }
            }
            found.push(flag);
        }
        if let Some(flag) = found.last_mut() {
            if let Some(env) = between(line, "[env: ", "=") {
                flag.env = Some(env);
            }
            if let Some(default) = between(line, "[default: ", "]") {
                flag.default = Some(default);
            }
        }
    }
    found
}

fn between(line: &str, start: &str, end: &str) -> Option<String> {
    let rest = &line[line.find(start)? + start.len()..];
    Some(rest[..rest.find(end)?].to_owned())
}
