//! Manifests from files: every `AwsAccount`, `KmsKey`, `KmsAlias` and `KmsGrant` under the
//! paths given to `validate`, `plan`, `apply` and `delete`, each with the file and line it
//! came from so that every issue can point at it.

mod claims;
mod decode;
#[cfg(test)]
mod hostile_tests;
mod lines;
mod namespaces;
mod read;
mod set;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod version_tests;

use std::collections::{HashMap, hash_map::Entry};
use std::path::PathBuf;

use crate::api::ObjectName;
use crate::api::validate::Issue;

pub use lines::FieldLines;
pub use namespaces::NamespaceManifest;
pub use read::ReadLimits;
pub use set::ManifestSet;

/// Where an object was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    pub file: PathBuf,
    /// 1-based line where the YAML document starts.
    pub line: Option<usize>,
    /// 1-based line of each field written in the document, by issue path
    /// (`spec.rotation.periodDays`); empty when not known.
    pub field_lines: FieldLines,
}

impl Source {
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>) -> Self {
        Source { file: file.into(), line, field_lines: FieldLines::default() }
    }

    /// The line of `field`, or of the nearest enclosing field that is written out (a default
    /// is not), or of the document.
    pub fn line_of(&self, field: &str) -> Option<usize> {
        self.field_lines.line_of(field).or(self.line)
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

/// What a document declares, for the rules on which file may declare what
/// (`local::file_trust`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Declared {
    Object(ObjectName),
    /// A `Namespace` manifest, by name.
    Namespace(String),
}

/// One object a file declares: kept for every document, a second declaration of the same
/// object included, so that whichever of two is loaded, both are held to the same rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    pub what: Declared,
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Where `metadata.namespace` is written.
    pub namespace_line: Option<usize>,
}

impl Declaration {
    fn of(what: Declared, source: &Source) -> Self {
        let namespace_line = source.line_of("metadata.namespace");
        Declaration { what, file: source.file.clone(), line: source.line, namespace_line }
    }
}

/// `file:line` of a source, for messages that point at an earlier declaration.
fn at(source: &Source) -> String {
    match source.line {
        Some(line) => format!("{}:{line}", source.file.display()),
        None => source.file.display().to_string(),
    }
}

/// Reads every manifest under `paths`: a file, or a directory read recursively for `*.yaml`
/// and `*.yml` (hidden entries skipped), each file one or more YAML documents, none read past
/// `limits`. Returns the objects that decoded cleanly and an issue for everything that did not,
/// finding none among them; it does not apply the validation rules (`ManifestSet::validate`
/// does). Time and memory grow linearly with the size of the files and the number of documents.
pub fn load(paths: &[PathBuf], limits: ReadLimits) -> (ManifestSet, Vec<Issue>) {
    let (set, mut issues) = load_files(paths, limits);
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
pub fn load_files(paths: &[PathBuf], limits: ReadLimits) -> (ManifestSet, Vec<Issue>) {
    let mut issues = Vec::new();
    let mut set = ManifestSet::default();
    // Where each object was first declared, for the message about a second declaration.
    let mut first_seen: HashMap<ObjectName, String> = HashMap::new();

    for file in read::manifest_files(paths, &mut issues) {
        let text = match read::read_text(&file, limits) {
            Ok(text) => text,
            Err(issue) => {
                issues.push(*issue);
                continue;
            }
        };
        let mut leftovers = decode::Leftovers::default();
        let decoded = decode::decode_file(&file.shown, &text, &mut issues, &mut leftovers);
        drop(text);
        set.broken.extend(leftovers.broken);
        set.skipped.extend(leftovers.skipped);
        set.real_paths.insert(file.shown, file.real);
        for (namespace, source) in leftovers.namespaces {
            set.declarations.push(Declaration::of(Declared::Namespace(namespace.name.clone()), &source));
            match set.namespace(&namespace.name) {
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
                None => set.push_namespace(namespace, source),
            }
        }
        for (object, source) in decoded {
            let name = object.name();
            set.declarations.push(Declaration::of(Declared::Object(name.clone()), &source));
            match first_seen.entry(name.clone()) {
                Entry::Occupied(first) => {
                    let duplicate = Issue::new(
                        Some(name),
                        "metadata.name",
                        format!("is declared twice: first in {}, again here", first.get()),
                        "keep one of the two; kind, namespace and name together must be unique",
                    );
                    issues.push(source.locate(duplicate));
                }
                Entry::Vacant(slot) => {
                    slot.insert(at(&source));
                    set.push(object, source);
                }
            }
        }
    }
    (set, issues)
}
