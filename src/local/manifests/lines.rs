//! One streaming pass over a file's YAML before anything is built from it: how deeply it nests
//! (a file nested deeper than [`MAX_DEPTH`] is refused, aliases counted as what they expand to),
//! how many values a document holds (at most [`MAX_VALUES`]), and where each field of each
//! document is written, so that an issue on
//! `spec.rotation.periodDays` can point at that line rather than the top of the document.
//!
//! serde_yaml_ng reads the values but keeps no positions after parsing, so this marked parse
//! (saphyr) records lines. Fields are kept as a tree, each key stored once under its parent, so
//! the index grows with the file and not with the square of its depth; lines are best effort:
//! if the two parsers ever disagree, the loader matches documents by their start line and falls
//! back to the document's line.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Not;
use std::rc::Rc;

use saphyr_parser::{Event, Parser};

use crate::api::validate::path;

/// How deeply collections may nest. Manifests of the four kinds need fewer than ten levels; a
/// file of nested `- - - ...` is an attack on the reader, not a manifest.
pub const MAX_DEPTH: usize = 64;

/// Values (scalars, aliases, mappings, sequences) in one document. A manifest of the four
/// kinds holds at most a few thousand (a key policy is limited to 32 KiB); a document of
/// millions would cost the YAML parser a hundred times its size in memory.
pub const MAX_VALUES: usize = 100_000;

/// Lines of one document: where its root node starts, and where each field's key (or each
/// sequence item) is written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct DocLines {
    pub start: usize,
    pub fields: FieldLines,
}

/// Why a file is refused before anything is built from it, and the line where it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep { line: usize },
    /// A document of more than [`MAX_VALUES`] values.
    TooManyValues { line: usize },
    /// A stretch the parser must hold whole before it can tell what it is, longer than
    /// [`MAX_LOOKAHEAD`] characters.
    LookaheadTooLong { line: usize },
}

/// One step of a field path: a mapping key as paths write it (`spec`, `["aws:x"]`), or an item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    Key(Box<str>),
    Item(u32),
}

/// The fields of a document as a tree: `(parent, segment) -> (node, line)`, node 0 the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldLines {
    nodes: HashMap<(u32, Segment), (u32, usize)>,
}

impl FieldLines {
    /// The node for `segment` under `parent`, recorded at `line` the first time it is seen.
    fn child(&mut self, parent: u32, segment: Segment, line: usize) -> Option<u32> {
        let next = u32::try_from(self.nodes.len() + 1).ok()?;
        Some(self.nodes.entry((parent, segment)).or_insert((next, line)).0)
    }

    /// The line of `field` (an issue path such as `spec.replicas[0].region`), or of the
    /// nearest enclosing field that is written; `None` when not even its first step is.
    pub fn line_of(&self, field: &str) -> Option<usize> {
        let mut node = 0;
        let mut line = None;
        for segment in segments(field) {
            let Some((child, at)) = self.nodes.get(&(node, segment)) else {
                break;
            };
            (node, line) = (*child, Some(*at));
        }
        line
    }
}

/// The steps of an issue path, as far as it reads as one (see `api::validate::path`).
fn segments(field: &str) -> Vec<Segment> {
    let mut found = Vec::new();
    let mut rest = field;
    while !rest.is_empty() {
        if rest.starts_with("[\"") {
            // A quoted key, escaped as Rust's Debug writes it: ends at an unescaped `"]`.
            let bytes = rest.as_bytes();
            let mut i = 2;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if rest.get(i..i + 2) != Some("\"]") {
                break;
            }
            found.push(Segment::Key(rest[..i + 2].into()));
            rest = &rest[i + 2..];
        } else if let Some(inner) = rest.strip_prefix('[') {
            let Some((index, after)) = inner.split_once(']') else { break };
            let Ok(index) = index.parse() else { break };
            found.push(Segment::Item(index));
            rest = after;
        } else {
            let body = if found.is_empty() { rest } else { rest.strip_prefix('.').unwrap_or(rest) };
            let end = body.find(['.', '[']).unwrap_or(body.len());
            if end == 0 {
                break;
            }
            found.push(Segment::Key(body[..end].into()));
            rest = &body[end..];
        }
    }
    found
}

/// A collection being walked: the node its children hang under (`None`: not recorded), its
/// anchor, and the deepest level reached inside it.
struct Frame {
    node: Option<u32>,
    anchor: usize,
    deepest: usize,
    kind: FrameKind,
}

enum FrameKind {
    /// A mapping: waiting for a key, or for the value of the key recorded as this node.
    Map {
        value_of: Option<Option<u32>>,
    },
    Seq {
        next: u32,
    },
}

/// Every document of `text` that parses (stops at the first syntax error, which the decoder
/// reports), or why the file is refused, as soon as it is: nested past [`MAX_DEPTH`], or a
/// document past [`MAX_VALUES`].
pub(super) fn index(text: &str) -> Result<Vec<DocLines>, Refused> {
    let mut docs = Vec::new();
    let mut current: Option<DocLines> = None;
    let mut stack: Vec<Frame> = Vec::new();
    let mut values = 0;
    // How many levels each anchored collection spans: an alias nests as deep as its anchor.
    let mut heights: HashMap<usize, usize> = HashMap::new();

    let meter = Meter::default();
    let mut last_line = 1;
    for next in Parser::new_from_iter(meter.reader(text)) {
        let Ok((event, span)) = next else { break };
        meter.allow_from_here();
        let line = span.start.line();
        last_line = line;
        if matches!(event, Event::Scalar(..) | Event::Alias(_) | Event::MappingStart(..) | Event::SequenceStart(..)) {
            values += 1;
            if values > MAX_VALUES {
                return Err(Refused::TooManyValues { line });
            }
        }
        match &event {
            Event::DocumentStart(_) => {
                current = Some(DocLines::default());
                stack.clear();
                values = 0;
            }
            Event::DocumentEnd => docs.extend(current.take()),
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(done) = stack.pop() {
                    let height = done.deepest - stack.len();
                    if done.anchor != 0 {
                        heights.insert(done.anchor, height);
                    }
                    if let Some(parent) = stack.last_mut() {
                        parent.deepest = parent.deepest.max(done.deepest);
                    }
                }
            }
            Event::Alias(anchor) => {
                let reach = stack.len() + heights.get(anchor).copied().unwrap_or(0);
                if reach > MAX_DEPTH {
                    return Err(Refused::TooDeep { line });
                }
                if let Some(doc) = current.as_mut() {
                    place_node(doc, &mut stack, &event, line);
                }
            }
            Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..) => {
                let node = current.as_mut().and_then(|doc| place_node(doc, &mut stack, &event, line));
                let (anchor, kind) = match &event {
                    Event::MappingStart(anchor, _) => (*anchor, FrameKind::Map { value_of: None }),
                    Event::SequenceStart(anchor, _) => (*anchor, FrameKind::Seq { next: 0 }),
                    _ => continue,
                };
                if stack.len() == MAX_DEPTH {
                    return Err(Refused::TooDeep { line });
                }
                let depth = stack.len() + 1;
                stack.push(Frame { node, anchor, deepest: depth, kind });
            }
            _ => {}
        }
    }
    if meter.cut.get() {
        return Err(Refused::LookaheadTooLong { line: last_line });
    }
    Ok(docs)
}

/// Characters the scanner may read past the last event it produced. It reads ahead while it
/// cannot yet tell what a node is (a flow collection where a key may start, `[...]: v`), and
/// keeps every token of that stretch: a top-level `[1,1,1,...]` of 8 MiB would cost it gigabytes.
/// A whole manifest in JSON (one flow mapping) is a few KiB to a few tens.
pub const MAX_LOOKAHEAD: usize = 256 * 1024;

/// Counts the characters the scanner reads and ends its input once it is [`MAX_LOOKAHEAD`]
/// past the last event, so that no stretch of the file is buffered beyond that.
#[derive(Clone, Default)]
struct Meter {
    read: Rc<Cell<usize>>,
    allowed: Rc<Cell<usize>>,
    /// Set when the input was ended early: the file is refused.
    cut: Rc<Cell<bool>>,
}

impl Meter {
    fn reader<'t>(&self, text: &'t str) -> impl Iterator<Item = char> + 't {
        self.allow_from_here();
        let meter = self.clone();
        let mut chars = text.chars();
        std::iter::from_fn(move || {
            let read = meter.read.get();
            if read >= meter.allowed.get() {
                meter.cut.set(chars.as_str().is_empty().not());
                return None;
            }
            meter.read.set(read + 1);
            chars.next()
        })
    }

    fn allow_from_here(&self) {
        self.allowed.set(self.read.get() + MAX_LOOKAHEAD);
    }
}

/// Records the line of a node and returns the node its children hang under, if they can be
/// named: the children of a mapping or sequence used as a key cannot.
fn place_node(doc: &mut DocLines, stack: &mut [Frame], event: &Event<'_>, line: usize) -> Option<u32> {
    let Some(frame) = stack.last_mut() else {
        doc.start = line;
        return Some(0);
    };
    let parent = frame.node;
    match &mut frame.kind {
        FrameKind::Map { value_of } => match value_of.take() {
            // A key: recorded when it is a plain scalar under a recorded mapping.
            None => {
                let key_node = match (parent, event) {
                    (Some(parent), Event::Scalar(key, ..)) => {
                        doc.fields.child(parent, Segment::Key(path::child("", key).into()), line)
                    }
                    _ => None,
                };
                *value_of = Some(key_node);
                None
            }
            // The key's value: its children hang under the key's node.
            Some(key_node) => key_node,
        },
        FrameKind::Seq { next } => {
            let item = *next;
            *next = next.saturating_add(1);
            parent.and_then(|parent| doc.fields.child(parent, Segment::Item(item), line))
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
        let docs = index(text).expect("shallow");
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert_eq!(docs[0].start, 2);
        let fields = &docs[0].fields;
        assert_eq!(fields.line_of("spec.rotation.periodDays"), Some(6));
        assert_eq!(fields.line_of("spec.replicas[0]"), Some(8));
        assert_eq!(fields.line_of("spec.replicas[1].region"), Some(9));
        assert_eq!(fields.line_of("spec.tags[\"kmsoperator.dev/owner\"]"), Some(10));
        assert_eq!(fields.line_of("spec.rotation.enabled"), Some(5), "the nearest written ancestor");
        assert_eq!(fields.line_of("status"), None);
        assert_eq!(docs[2].start, 13);
        assert_eq!(docs[2].fields.line_of("kind"), Some(13));
    }

    #[test]
    fn quoted_keys_with_brackets_quotes_and_escapes_are_found() {
        let docs = index("tags:\n  'a\"]b': 1\n  \"x\\\\y\": 2\n  plain: 3\n").expect("shallow");
        let fields = &docs[0].fields;
        assert_eq!(fields.line_of(&path::child("tags", "a\"]b")), Some(2));
        assert_eq!(fields.line_of(&path::child("tags", "x\\y")), Some(3));
        assert_eq!(fields.line_of("tags.plain"), Some(4));
    }

    #[test]
    fn complex_keys_do_not_derail_the_walk() {
        let docs = index("? [a, b]\n: x\nnext:\n  field: 1\n").expect("shallow");
        assert_eq!(docs[0].fields.line_of("next.field"), Some(4));
    }

    #[test]
    fn stops_at_a_syntax_error() {
        let docs = index("a: 1\n---\nb: [\n").expect("shallow");
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_at_its_line() {
        let at_limit = "- ".repeat(MAX_DEPTH) + "x\n";
        assert!(index(&at_limit).is_ok(), "{MAX_DEPTH} nested sequences");
        let block = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        assert_eq!(index(&block), Err(Refused::TooDeep { line: 1 }));
        let flow = format!("a: 1\n---\nb: {}{}\n", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(index(&flow), Err(Refused::TooDeep { line: 3 }));
    }

    #[test]
    fn an_alias_nests_as_deep_as_its_anchor() {
        let half = MAX_DEPTH / 2 + 1;
        let anchored = format!("a: &deep {}{}\n", "[".repeat(half), "]".repeat(half));
        let shallow = format!("{anchored}b: *deep\n");
        assert!(index(&shallow).is_ok());
        let nested = format!("{anchored}b: {}*deep{}\n", "[".repeat(half), "]".repeat(half));
        assert_eq!(index(&nested), Err(Refused::TooDeep { line: 2 }));
    }

    #[test]
    fn the_parser_reads_at_most_its_lookahead_past_the_last_event() {
        // A flow collection where a key may start is held whole until it closes.
        let held = format!("[{}]\n", vec!["\"aaaaaaaaaa\""; MAX_LOOKAHEAD / 12 + 1].join(","));
        assert_eq!(index(&held), Err(Refused::LookaheadTooLong { line: 1 }));
        let scalar = format!("a: 1\nb: \"{}\"\n", "x".repeat(2 * MAX_LOOKAHEAD));
        assert!(matches!(index(&scalar), Err(Refused::LookaheadTooLong { .. })), "a scalar is held whole too");
        // The same values in a value position, and a JSON manifest, are read as they come.
        let items = format!("items: [{}]\n", vec!["\"aaaaaaaaaa\""; MAX_LOOKAHEAD / 12 + 1].join(","));
        assert!(index(&items).is_ok());
        assert!(index("{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}}").is_ok());
    }

    #[test]
    fn a_document_of_more_values_than_the_limit_is_refused_and_many_documents_are_not() {
        let at_limit = format!("items: [{}]\n", vec!["1"; MAX_VALUES - 3].join(","));
        assert!(index(&at_limit).is_ok(), "the mapping, its key, the sequence and its items");
        let over = format!("a: 1\n---\nitems: [{}]\n", vec!["1"; MAX_VALUES].join(","));
        assert_eq!(index(&over), Err(Refused::TooManyValues { line: 3 }));
        let many = vec!["a: 1\n"; MAX_VALUES].join("---\n");
        assert_eq!(index(&many).map(|docs| docs.len()), Ok(MAX_VALUES), "the limit is per document");
    }
}
