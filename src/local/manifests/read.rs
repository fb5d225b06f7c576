//! Which files a list of paths names: files as given, directories walked for YAML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::api::validate::Issue;

/// Files in a stable order: the paths in the order given, each directory walked in file-name
/// order. A file reached twice is read once.
pub(super) fn manifest_files(paths: &[PathBuf], issues: &mut Vec<Issue>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |file: PathBuf, files: &mut Vec<PathBuf>| {
        let identity = file.canonicalize().unwrap_or_else(|_| file.clone());
        if seen.insert(identity) {
            files.push(file);
        }
    };

    for path in paths {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(err) => {
                issues.push(unreadable(path, &err.to_string()));
                continue;
            }
        };
        if !metadata.is_dir() {
            add(path.clone(), &mut files);
            continue;
        }
        let before = files.len();
        // Hidden entries are skipped: `.git`, editor state, and the `..data` links of mounted
        // ConfigMaps would otherwise be read as manifests or read twice.
        let walk = WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !is_hidden(entry.file_name()));
        for entry in walk {
            match entry {
                Ok(entry) if entry.file_type().is_file() && is_yaml(entry.path()) => {
                    add(entry.into_path(), &mut files);
                }
                Ok(_) => {}
                Err(err) => {
                    let at = err.path().unwrap_or(path).to_path_buf();
                    issues.push(unreadable(&at, &err.to_string()));
                }
            }
        }
        if files.len() == before {
            issues.push(
                Issue::new(
                    None,
                    "",
                    "the directory holds no *.yaml or *.yml files",
                    "point -f at the directory or file that holds the manifests",
                )
                .in_file(path, None),
            );
        }
    }
    files
}

pub(super) fn unreadable(path: &Path, error: &str) -> Issue {
    Issue::new(None, "", format!("cannot be read: {error}"), "check that the path exists and is readable")
        .in_file(path, None)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}
