//! One file's text into typed objects: YAML documents, then the envelope (apiVersion, kind,
//! metadata), then the kind's struct, with every failure turned into an Issue that names the
//! file, line and field.

use std::path::Path;

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::{Mapping, Value};

use super::Source;
use super::lines::{self, FieldLines, MAX_DEPTH, MAX_LOOKAHEAD, MAX_VALUES, Refused};
use super::namespaces::{NamespaceManifest, decode_namespace, is_namespace};
use crate::api::decoding;
use crate::api::validate::{Issue, closest, path};
use crate::api::{API_VERSION, ApiVersion, AwsAccount, GROUP, Kind, KmsAlias, KmsGrant, KmsKey, ObjectName, v1alpha1};

// Short-lived: each object moves into its list of the set right after decoding.
#[allow(clippy::large_enum_variant)]
pub(super) enum Object {
    Account(AwsAccount),
    Key(KmsKey),
    Alias(KmsAlias),
    Grant(KmsGrant),
}

const TOP_LEVEL: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];

/// Fields of `ObjectMeta`, which itself ignores unknown ones; a misspelt `namespace` would
/// otherwise put the object in `default` without a word.
const METADATA: &[&str] = &[
    "name",
    "namespace",
    "labels",
    "annotations",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "finalizers",
    "ownerReferences",
    "managedFields",
    "selfLink",
];

/// Every object in `text`, in order. Empty documents are skipped; a YAML error ends the file,
/// since the parser cannot resynchronise after it.
/// What a file held besides the objects that decoded.
#[derive(Default)]
pub(super) struct Leftovers {
    /// Objects declared but not decodable, so that references to them are not reported a
    /// second time as missing.
    pub broken: Vec<ObjectName>,
    /// Other kinds' objects (a ConfigMap kept beside the keys), skipped with a note.
    pub skipped: Vec<String>,
    /// `Namespace` manifests, for their labels.
    pub namespaces: Vec<(NamespaceManifest, Source)>,
}

pub(super) fn decode_file(
    file: &Path,
    text: &str,
    issues: &mut Vec<Issue>,
    leftovers: &mut Leftovers,
) -> Vec<(Object, Source)> {
    // Nesting and size are checked before serde builds anything from the text.
    let marked = match lines::index(text) {
        Ok(marked) => marked,
        Err(refused) => {
            let (line, problem) = match refused {
                Refused::TooDeep { line } => (line, format!("YAML nests deeper than {MAX_DEPTH} levels here")),
                Refused::TooManyValues { line } => {
                    (line, format!("this YAML document holds more than {MAX_VALUES} values"))
                }
                Refused::LookaheadTooLong { line } => (
                    line,
                    format!(
                        "after this line the YAML parser would have to hold more than {MAX_LOOKAHEAD} characters before it can tell what they are (a flow collection, {{...}} or [...], or a scalar this long)"
                    ),
                ),
            };
            issues.push(
                Issue::new(
                    None,
                    "",
                    format!("{problem}; nothing in the file was read"),
                    "write each manifest as one object of the four kinds (a few levels, a few thousand values at most); a file like this is not a manifest",
                )
                .in_file(file, Some(line)),
            );
            return Vec::new();
        }
    };
    // Both parsers see the documents in order, so one pass over the index finds each one's
    // lines: a search per document would make a file of many documents quadratic.
    let mut marked = marked.into_iter().peekable();
    let values = serde_yaml_ng::Deserializer::from_str(text);
    let starts = serde_yaml_ng::Deserializer::from_str(text);
    let mut objects = Vec::new();

    for (document, probe) in values.zip(starts) {
        let value = match Value::deserialize(document) {
            Ok(value) => value,
            Err(err) => {
                issues.push(syntax_issue(file, &err));
                break;
            }
        };
        if value.is_null() {
            continue;
        }
        let line = start_line(probe);
        let fields = match line {
            Some(line) => {
                while marked.next_if(|doc| doc.start < line).is_some() {}
                marked.next_if(|doc| doc.start == line).map(|doc| doc.fields).unwrap_or_default()
            }
            None => FieldLines::default(),
        };
        let source = Source { file: file.to_path_buf(), line, field_lines: fields };
        if is_namespace(&value) {
            if let Some(namespace) = decode_namespace(value, &source, issues) {
                leftovers.namespaces.push((namespace, source));
            }
            continue;
        }
        if let Some(foreign) = foreign_object(&value) {
            let at = source.line.map(|line| format!(":{line}")).unwrap_or_default();
            leftovers.skipped.push(format!("{}{at}: skipped {foreign}: not a kind of {API_VERSION}", file.display()));
            continue;
        }
        match decode_document(value, &source, issues) {
            Ok(object) => objects.push((object, source)),
            Err(Some(name)) => leftovers.broken.push(name),
            Err(None) => {}
        }
    }
    objects
}

/// A YAML syntax error, in words that quote nothing of the file: it may not be a manifest at
/// all, and its bytes (a key file a link pointed at) must not end up in CI logs. libyaml's
/// messages are fixed phrases with a position; anything else is described, not quoted.
fn syntax_issue(file: &Path, err: &serde_yaml_ng::Error) -> Issue {
    let line = err.location().map(|l| l.line());
    let text = err.to_string();
    let (problem, fix) = if text.contains("duplicate entry") {
        ("a mapping repeats a key".to_owned(), "keep only one of the repeated keys")
    } else if !quotes_only_punctuation(&text) {
        ("the YAML parser stopped".to_owned(), SYNTAX_FIX)
    } else {
        (text, SYNTAX_FIX)
    };
    // The parser cannot resynchronise after an error, so later documents are lost.
    Issue::new(None, "", format!("the file is not valid YAML: {problem}; the rest of the file was not read"), fix)
        .in_file(file, line)
}

/// Whether `text` quotes nothing but single punctuation marks, as libyaml's "did not find
/// expected ',' or ']'" does; any other quote could hold bytes of the file.
fn quotes_only_punctuation(text: &str) -> bool {
    !text.contains(['"', '`'])
        && text.split('\'').skip(1).step_by(2).all(|quoted| {
            let mut chars = quoted.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if c.is_ascii_punctuation())
        })
}

const SYNTAX_FIX: &str = "correct the YAML syntax at that line (indentation, quotes, a missing ':' or '-')";

/// A Kubernetes object of another API group (`apiVersion: v1, kind: Namespace`), described for
/// the note that says it was skipped. Objects of this group, and kinds that look like a typo of
/// one of ours, are not foreign: they are checked and reported.
fn foreign_object(value: &Value) -> Option<String> {
    let kind = value.get("kind")?.as_str()?;
    let api_version = value.get("apiVersion")?.as_str()?;
    let ours: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    if ApiVersion::is_of_group(api_version) || Kind::parse(kind).is_some() || closest(kind, &ours).is_some() {
        return None;
    }
    let name = value.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("(unnamed)");
    Some(format!("{api_version} {kind} {name}"))
}

/// The line where a document's root node starts. serde_yaml_ng keeps positions only in its
/// errors, so this asks for a value that fails on the first event and reads the error's mark.
fn start_line(document: serde_yaml_ng::Deserializer<'_>) -> Option<usize> {
    struct Probe;
    struct ProbeVisitor;
    impl<'de> Visitor<'de> for ProbeVisitor {
        type Value = Probe;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("nothing: this visitor only locates the document")
        }
    }
    impl<'de> Deserialize<'de> for Probe {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(ProbeVisitor)
        }
    }
    Probe::deserialize(document).err().and_then(|err| err.location()).map(|location| location.line())
}

/// The object, or (when it has problems) the name it was declared under, if it has one.
fn decode_document(value: Value, source: &Source, issues: &mut Vec<Issue>) -> Result<Object, Option<ObjectName>> {
    let Value::Mapping(map) = &value else {
        issues.push(file_issue(
            source,
            None,
            "",
            format!("the document is a YAML {}, not a mapping", yaml_type(&value)),
            "write each document as one object with apiVersion, kind, metadata and spec",
        ));
        return Err(None);
    };
    let before = issues.len();
    let kind = check_kind(map, source, issues).ok_or(None)?;
    let object = Some(object_name(kind, map));
    let version = check_api_version(map, source, object.as_ref(), issues);
    check_fields(map, source, object.as_ref(), issues);
    // A version of the group this binary does not know has fields it cannot know either:
    // reading its spec as another version's would only add wrong complaints.
    let version = version.ok_or_else(|| object.clone())?;
    let decoded = decode_as(version, kind, value, source, object.as_ref(), issues);
    // An object with any envelope problem is not loaded, but its spec was still read so the
    // user sees every problem in one run.
    decoded.filter(|_| issues.len() == before).ok_or(object)
}

/// The object, read as the version it was written in and brought to the version the engine
/// works in. A newer version adds its arms here, converting with the same functions the
/// controller's conversion webhook uses, so that a file and a cluster read an object alike.
fn decode_as(
    version: ApiVersion,
    kind: Kind,
    value: Value,
    source: &Source,
    object: Option<&ObjectName>,
    issues: &mut Vec<Issue>,
) -> Option<Object> {
    match (version, kind) {
        (ApiVersion::V1alpha1, Kind::AwsAccount) => {
            typed::<v1alpha1::AwsAccount>(value, source, object, issues).map(Object::Account)
        }
        (ApiVersion::V1alpha1, Kind::KmsKey) => {
            typed::<v1alpha1::KmsKey>(value, source, object, issues).map(|mut key| {
                default_namespace(&mut key.metadata.namespace);
                Object::Key(key)
            })
        }
        (ApiVersion::V1alpha1, Kind::KmsAlias) => {
            typed::<v1alpha1::KmsAlias>(value, source, object, issues).map(|mut alias| {
                default_namespace(&mut alias.metadata.namespace);
                Object::Alias(alias)
            })
        }
        (ApiVersion::V1alpha1, Kind::KmsGrant) => {
            typed::<v1alpha1::KmsGrant>(value, source, object, issues).map(|mut grant| {
                default_namespace(&mut grant.metadata.namespace);
                Object::Grant(grant)
            })
        }
    }
}

fn default_namespace(namespace: &mut Option<String>) {
    if namespace.as_deref().is_none_or(str::is_empty) {
        *namespace = Some("default".to_owned());
    }
}

fn object_name(kind: Kind, map: &Mapping) -> ObjectName {
    let metadata = map.get("metadata");
    let text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
    let namespace = text("namespace").filter(|ns| !ns.is_empty()).unwrap_or("default");
    ObjectName::new(kind, Some(namespace), text("name").unwrap_or("<unnamed>"))
}

/// The kind, or one issue saying why there is none. Other checks are skipped without a kind:
/// for a foreign object (a ConfigMap, a Helm values file) they would only add noise.
fn check_kind(map: &Mapping, source: &Source, issues: &mut Vec<Issue>) -> Option<Kind> {
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let all = kinds.join(", ");
    let mut fix = format!("set kind to one of {all}");
    let problem = match (map.get("kind"), map.get("apiVersion")) {
        (None, None) => {
            issues.push(file_issue(
                source,
                None,
                "",
                "the document is not a Kubernetes object: it has neither apiVersion nor kind",
                format!("remove it from the manifests, or add apiVersion: {API_VERSION} and kind (one of {all})"),
            ));
            return None;
        }
        (None, _) => "is missing".to_owned(),
        (Some(Value::String(kind)), version) => {
            if let Some(kind) = Kind::parse(kind) {
                return Some(kind);
            }
            let near = closest(kind, &kinds);
            if near.is_none() && version.is_none() {
                // Not a Kubernetes object (no apiVersion) and no kind of ours: say so without
                // repeating what the file holds.
                issues.push(file_issue(
                    source,
                    None,
                    "",
                    "the document is not a Kubernetes object: it has a kind but no apiVersion",
                    format!("remove it from the manifests, or add apiVersion: {API_VERSION} and kind (one of {all})"),
                ));
                return None;
            }
            if let Some(near) = near {
                fix = format!("did you mean {near}? {fix}");
            }
            match version.and_then(Value::as_str).filter(|v| *v != API_VERSION) {
                Some(version) => {
                    format!("{kind:?} (apiVersion {version:?}) is not a kind of {API_VERSION}")
                }
                None => format!("{kind:?} is not a kind of {API_VERSION}"),
            }
        }
        (Some(other), _) => format!("is a YAML {}, not a string", yaml_type(other)),
    };
    issues.push(file_issue(source, None, "kind", problem, fix));
    None
}

/// The version to read the object as. An unknown version of this group is refused, naming the
/// versions this binary knows: its fields cannot be told from typos. Any other `apiVersion`
/// (missing, another group's) is reported, and the object still read as the stored version,
/// which it most likely meant, so that its other problems show in the same run.
fn check_api_version(
    map: &Mapping,
    source: &Source,
    object: Option<&ObjectName>,
    issues: &mut Vec<Issue>,
) -> Option<ApiVersion> {
    let problem = match map.get("apiVersion") {
        Some(Value::String(version)) => match ApiVersion::parse(version) {
            Some(known) => return Some(known),
            None if ApiVersion::is_of_group(version) => {
                let known = ApiVersion::listed();
                let problem =
                    format!("{version:?} is a version of {GROUP} this kms-operator does not know; it reads {known}");
                let fix = format!(
                    "write the manifest as {known} (set apiVersion: {API_VERSION} and use that version's fields), or run a kms-operator release that serves {version}"
                );
                issues.push(file_issue(source, object, "apiVersion", problem, fix));
                return None;
            }
            None => format!("{version:?} is not {API_VERSION}"),
        },
        None => "is missing".to_owned(),
        Some(other) => format!("is a YAML {}, not a string", yaml_type(other)),
    };
    issues.push(file_issue(source, object, "apiVersion", problem, format!("set apiVersion: {API_VERSION}")));
    Some(ApiVersion::STORED)
}

/// Unknown top-level and metadata fields, a `status:` block, and a missing name; the kind's
/// struct rejects unknown fields under `spec` itself.
fn check_fields(map: &Mapping, source: &Source, object: Option<&ObjectName>, issues: &mut Vec<Issue>) {
    for key in map.keys() {
        let key = key_text(key);
        if !TOP_LEVEL.contains(&key.as_str()) {
            issues.push(unknown_field(source, object, &path::child("", &key), &key, TOP_LEVEL));
        }
    }
    // Status is the operator's record of what it did (which alias it held, which key it
    // created); read from a file, it would let a manifest claim a past it never had.
    if map.contains_key("status") {
        issues.push(file_issue(
            source,
            object,
            "status",
            "is set, but status is written by the operator and is never read from a manifest",
            "remove the status: block (kubectl get -o yaml output carries one: keep apiVersion, kind, metadata and spec)",
        ));
    }
    let Some(Value::Mapping(metadata)) = map.get("metadata") else {
        issues.push(file_issue(
            source,
            object,
            "metadata",
            "is missing or not a mapping",
            "add metadata: {name: <name>} (and namespace for namespaced kinds)",
        ));
        return;
    };
    for key in metadata.keys() {
        let key = key_text(key);
        if !METADATA.contains(&key.as_str()) {
            issues.push(unknown_field(source, object, &path::child("metadata", &key), &key, METADATA));
        }
    }
    match metadata.get("name") {
        Some(Value::String(name)) if !name.is_empty() => {}
        _ => issues.push(file_issue(
            source,
            object,
            "metadata.name",
            "is missing or empty",
            "set metadata.name to the object's name",
        )),
    }
}

fn typed<T: DeserializeOwned>(
    value: Value,
    source: &Source,
    object: Option<&ObjectName>,
    issues: &mut Vec<Issue>,
) -> Option<T> {
    decoding::decode(value, object).map_err(|issue| issues.push(source.locate(*issue))).ok()
}

fn unknown_field(source: &Source, object: Option<&ObjectName>, at: &str, name: &str, expected: &[&str]) -> Issue {
    source.locate(decoding::unknown_field(object, at, name, expected))
}

fn file_issue(
    source: &Source,
    object: Option<&ObjectName>,
    field: &str,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> Issue {
    Issue::new(object.cloned(), field, problem, fix).in_file(&source.file, source.line_of(field))
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).map(|s| s.trim_end().to_owned()).unwrap_or_else(|e| format!("<{e}>")),
    }
}

fn yaml_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "sequence",
        Value::Mapping(_) => "mapping",
        Value::Tagged(_) => "tagged value",
    }
}

impl Object {
    pub(super) fn name(&self) -> ObjectName {
        let (kind, meta) = match self {
            Object::Account(o) => (Kind::AwsAccount, &o.metadata),
            Object::Key(o) => (Kind::KmsKey, &o.metadata),
            Object::Alias(o) => (Kind::KmsAlias, &o.metadata),
            Object::Grant(o) => (Kind::KmsGrant, &o.metadata),
        };
        ObjectName::of(kind, meta)
    }
}
