//! Manifests from files: every `AwsAccount`, `KmsKey`, `KmsAlias` and `KmsGrant` under the
//! paths given to `validate`, `plan`, `apply` and `delete`, each with the file and line it
//! came from so that every issue can point at it.

mod claims;
mod decode;
mod lines;
mod namespaces;
mod read;
mod set;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, btree_map::Entry};
use std::path::PathBuf;

use crate::api::validate::{Issue, path};

pub use namespaces::NamespaceManifest;
pub use set::ManifestSet;

/// Where an object was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based line where the YAML document starts.
    pub line: Option<usize>,
    /// 1-based line of each field written in the document, by issue path
    /// (`spec.rotation.periodDays`); empty when not known.
    pub field_lines: BTreeMap<String, usize>,
}

impl Source {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>) -> Self {
        Source { file: file.into(), line, field_lines: BTreeMap::new() }
    }

    /// The line of `field`, or of the nearest enclosing field that is written out (a default
    /// is not), or of the document.
    pub fn line_of(&self, field: &str) -> Option<usize> {
        let mut at = Some(field).filter(|f| !f.is_empty());
        while let Some(field) = at {
            if let Some(line) = self.field_lines.get(field) {
                return Some(*line);
            }
            at = path::parent(field);
        }
        self.line
    }

    /// Places an issue found on the object loaded from here.
    pub fn locate(&self, issue: Issue) -> Issue {
        let line = self.line_of(&issue.field);
        issue.in_file(&self.file, line)
    }
}

/// One object and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<T> {
    pub object: T,
    pub source: Source,
}

/// `file:line` of a source, for messages that point at an earlier declaration.
fn at(source: &Source) -> String {
    match source.line {
        Some(line) => format!("{}:{line}", source.file.display()),
        None => source.file.display().to_string(),
    }
}

/// Reads every manifest under `paths`: a file, or a directory read recursively for `*.yaml`
/// and `*.yml` (hidden entries skipped), each file one or more YAML documents. Returns the
/// objects that decoded cleanly and an issue for everything that did not, finding none among
/// them; it does not apply the validation rules (`ManifestSet::validate` does).
pub fn load(paths: &[PathBuf]) -> (ManifestSet, Vec<Issue>) {
    let (set, mut issues) = load_files(paths);
    if set.is_empty() && issues.is_empty() {
        let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let problem = if named.is_empty() {
            "no manifests found: no paths were given".to_owned()
        } else {
            format!("no manifests found in {}", named.join(", "))
        };
        issues.push(Issue::new(
            None,
            "",
            problem,
            "pass files or directories holding AwsAccount, KmsKey, KmsAlias or KmsGrant objects",
        ));
    }
    (set, issues)
}

/// Like `load`, where finding no manifest is no problem (the manifests before a change that
/// adds the first ones).
pub fn load_files(paths: &[PathBuf]) -> (ManifestSet, Vec<Issue>) {
    let mut issues = Vec::new();
    let mut set = ManifestSet::default();
    let mut first_seen: BTreeMap<_, Source> = BTreeMap::new();

    for file in read::manifest_files(paths, &mut issues) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) => {
                issues.push(read::unreadable(&file, &err.to_string()));
                continue;
            }
        };
        let mut leftovers = decode::Leftovers::default();
        let decoded = decode::decode_file(&file, &text, &mut issues, &mut leftovers);
        set.broken.extend(leftovers.broken);
        set.skipped.extend(leftovers.skipped);
        for (namespace, source) in leftovers.namespaces {
            match set.namespaces.iter().find(|n| n.object.name == namespace.name) {
                Some(first) => {
                    let duplicate = Issue::new(
                        None,
                        "metadata.name",
                        format!(
                            "Namespace {} is declared twice: first in {}, again here",
                            namespace.name,
                            at(&first.source)
                        ),
                        "keep one of the two; its labels decide which AwsAccounts the namespace may use",
                    );
                    issues.push(source.locate(duplicate));
                }
                None => set.namespaces.push(Loaded { object: namespace, source }),
            }
        }
        for (object, source) in decoded {
            let name = object.name();
            match first_seen.entry(name.clone()) {
                Entry::Occupied(first) => {
                    let duplicate = Issue::new(
                        Some(name),
                        "metadata.name",
                        format!("is declared twice: first in {}, again here", at(first.get())),
                        "keep one of the two; kind, namespace and name together must be unique",
                    );
                    issues.push(source.locate(duplicate));
                }
                Entry::Vacant(slot) => {
                    slot.insert(source.clone());
                    set.push(object, source);
                }
            }
        }
    }
    (set, issues)
}
