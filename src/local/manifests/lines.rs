//! Where each field of a YAML document is written, so an issue on `spec.rotation.periodDays`
//! can point at that line rather than the top of the document.
//!
//! serde_yaml_ng reads the values but keeps no positions after parsing, so this second, marked
//! parse (saphyr) only records lines. It is best effort: if the two parsers ever disagree, the
//! loader matches documents by their start line and falls back to the document's line.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser};

use crate::api::validate::path;

/// Lines of one document: where its root node starts, and where each field's key (or each
/// sequence item) is written, by the path issues use (`spec.replicas[0].region`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct DocLines {
    pub start: usize,
    pub fields: BTreeMap<String, usize>,
}

/// A container being walked. `None` paths sit under keys that are not plain scalars and are
/// not recorded.
enum Frame {
    Map { path: Option<String>, pending: Pending },
    Seq { path: Option<String>, next: usize },
}

enum Pending {
    Key,
    Value(Option<String>),
}

/// Every document of `text` that parses; stops at the first syntax error.
pub(super) fn index(text: &str) -> Vec<DocLines> {
    let mut docs = Vec::new();
    let mut current: Option<DocLines> = None;
    let mut stack: Vec<Frame> = Vec::new();

    for next in Parser::new_from_str(text) {
        let Ok((event, span)) = next else { break };
        let line = span.start.line();
        match &event {
            Event::DocumentStart(_) => {
                current = Some(DocLines::default());
                stack.clear();
            }
            Event::DocumentEnd => docs.extend(current.take()),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(..) | Event::Alias(_) | Event::MappingStart(..) | Event::SequenceStart(..) => {
                let Some(doc) = current.as_mut() else {
                    continue;
                };
                let node_path = place_node(doc, &mut stack, &event, line);
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map { path: node_path, pending: Pending::Key }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { path: node_path, next: 0 }),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    docs
}

/// Records the line of a node and returns the path its children hang under, if they can be
/// named: the children of a mapping or sequence used as a key cannot.
fn place_node(doc: &mut DocLines, stack: &mut [Frame], event: &Event<'_>, line: usize) -> Option<String> {
    match stack.last_mut() {
        None => {
            doc.start = line;
            Some(String::new())
        }
        Some(Frame::Map { path, pending }) => match pending {
            Pending::Key => {
                let key_path = match (path.as_deref(), event) {
                    (Some(parent), Event::Scalar(key, ..)) => Some(path::child(parent, key)),
                    _ => None,
                };
                if let Some(key_path) = &key_path {
                    doc.fields.entry(key_path.clone()).or_insert(line);
                }
                *pending = Pending::Value(key_path);
                None
            }
            Pending::Value(value_path) => {
                let value_path = value_path.take();
                *pending = Pending::Key;
                value_path
            }
        },
        Some(Frame::Seq { path, next }) => {
            let item_path = path.as_deref().map(|p| path::item(p, *next));
            *next += 1;
            if let Some(item_path) = &item_path {
                doc.fields.entry(item_path.clone()).or_insert(line);
            }
            item_path
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_document_starts_and_field_lines() {
        let text = "\
# leading comment
apiVersion: v1
kind: KmsKey
spec:
  rotation:
    periodDays: 30
  replicas:
    - region: us-west-2
    - {region: eu-west-1}
  tags: {kmsoperator.dev/owner: x}
---
---
kind: KmsAlias
";
        let docs = index(text);
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert_eq!(docs[0].start, 2);
        let fields = &docs[0].fields;
        assert_eq!(fields.get("spec.rotation.periodDays"), Some(&6));
        assert_eq!(fields.get("spec.replicas[0]"), Some(&8));
        assert_eq!(fields.get("spec.replicas[1].region"), Some(&9));
        assert_eq!(fields.get("spec.tags[\"kmsoperator.dev/owner\"]"), Some(&10));
        assert_eq!(docs[2].start, 13);
        assert_eq!(docs[2].fields.get("kind"), Some(&13));
    }

    #[test]
    fn complex_keys_do_not_derail_the_walk() {
        let docs = index("? [a, b]\n: x\nnext:\n  field: 1\n");
        assert_eq!(docs[0].fields.get("next.field"), Some(&4));
    }

    #[test]
    fn stops_at_a_syntax_error() {
        let docs = index("a: 1\n---\nb: [\n");
        assert_eq!(docs.len(), 1);
    }
}
