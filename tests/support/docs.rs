//! The project's Markdown as data: every page (README, docs/, the chart's and deploy/'s
//! READMEs, whatever is added later), found at test time, with its fenced code blocks, inline
//! code, tables, links and headings, each with the line it starts on.

use std::path::{Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

use super::moto::project_root;

/// A fenced code block.
#[derive(Clone, Debug)]
pub struct Block {
    pub page: String,
    pub line: usize,
    /// The info string's first word (`yaml`, `sh`, `json`, ...), lower case.
    pub lang: String,
    pub text: String,
}

impl Block {
    pub fn place(&self) -> String {
        format!("{}:{}", self.page, self.line)
    }
}

/// A span of inline code, such as `kms-operator plan -f keys/`.
#[derive(Clone, Debug)]
pub struct Inline {
    pub page: String,
    pub line: usize,
    pub text: String,
}

/// A table: its header cells and its rows, each cell as plain text (code spans without their
/// backticks).
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub page: String,
    pub line: usize,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct Page {
    pub path: String,
    pub blocks: Vec<Block>,
    pub inline: Vec<Inline>,
    pub tables: Vec<Table>,
    /// Link targets, as written.
    pub links: Vec<Inline>,
    /// The anchors of the page's headings, as GitHub makes them.
    pub anchors: Vec<String>,
}

/// Every Markdown page of the repository, outside build output and tool directories.
pub fn pages() -> Vec<Page> {
    let root = project_root();
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_entry(|entry| {
            let name = entry.file_name().to_string_lossy();
            entry.depth() == 0 || !(name.starts_with('.') || name == "target" || name == "node_modules")
        })
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "md"))
        .map(|entry| entry.into_path())
        .collect();
    found.sort();
    found.iter().map(|path| page(&root, path)).collect()
}

pub fn page_at(relative: &str) -> Page {
    let root = project_root();
    page(&root, &root.join(relative))
}

fn page(root: &Path, path: &Path) -> Page {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned();
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut page = Page { path: name.clone(), ..Page::default() };
    let mut block: Option<Block> = None;
    let mut table: Option<Table> = None;
    let mut cell: Option<String> = None;
    let mut row: Vec<String> = Vec::new();
    let mut heading: Option<String> = None;
    for (event, range) in Parser::new_ext(&text, Options::ENABLE_TABLES).into_offset_iter() {
        if let (Some(heading), Event::Text(text) | Event::Code(text)) = (heading.as_mut(), &event) {
            heading.push_str(text);
        }
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => page.anchors.extend(heading.take().map(|h| anchor(&h))),
            Event::Start(Tag::Link { dest_url, .. }) => {
                page.links.push(Inline { page: name.clone(), line: line_of(range.start), text: dest_url.into_string() })
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang = info.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
                block = Some(Block { page: name.clone(), line: line_of(range.start), lang, text: String::new() });
            }
            Event::End(TagEnd::CodeBlock) => page.blocks.extend(block.take()),
            Event::Text(text) if block.is_some() => block.as_mut().expect("block").text.push_str(&text),
            Event::Start(Tag::Table(_)) => {
                table = Some(Table { page: name.clone(), line: line_of(range.start), ..Table::default() })
            }
            Event::End(TagEnd::Table) => page.tables.extend(table.take()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.extend(cell.take()),
            Event::End(TagEnd::TableHead) => {
                if let Some(table) = table.as_mut() {
                    table.header = std::mem::take(&mut row);
                }
            }
            Event::End(TagEnd::TableRow) => {
                if let Some(table) = table.as_mut() {
                    table.rows.push(std::mem::take(&mut row));
                }
            }
            Event::Code(code) => {
                if let Some(cell) = cell.as_mut() {
                    cell.push_str(&code);
                }
                page.inline.push(Inline { page: name.clone(), line: line_of(range.start), text: code.into_string() });
            }
            Event::Text(text) => {
                if let Some(cell) = cell.as_mut() {
                    cell.push_str(&text);
                }
            }
            _ => {}
        }
    }
    page
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The YAML documents of a block, each parsed; `None` for a block that is not YAML.
pub fn yaml_documents(block: &Block) -> Option<Vec<Value>> {
    let mut documents = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(&block.text) {
        let value: Value = serde::Deserialize::deserialize(document).ok()?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Some(documents)
}

/// Whether every document of a YAML block is a Kubernetes object (`apiVersion` and `kind`).
pub fn is_manifest(documents: &[Value]) -> bool {
    !documents.is_empty() && documents.iter().all(|d| d["apiVersion"].is_string() && d["kind"].is_string())
}

/// The manifests a page shows, with the block each comes from.
pub fn manifests(page: &Page) -> Vec<(&Block, Value)> {
    page.blocks
        .iter()
        .filter(|b| b.lang == "yaml" || b.lang == "yml")
        .filter_map(|b| yaml_documents(b).filter(|d| is_manifest(d)).map(|d| (b, d)))
        .flat_map(|(b, documents)| documents.into_iter().map(move |d| (b, d)))
        .collect()
}

/// The documents of deploy/examples/, which the docs build on.
pub fn examples() -> Vec<Value> {
    let dir = project_root().join("deploy/examples");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("deploy/examples").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .iter()
        .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).expect("example");
            let block = Block { page: path.display().to_string(), line: 1, lang: "yaml".into(), text };
            yaml_documents(&block).unwrap_or_else(|| panic!("{}: not YAML", block.page))
        })
        .collect()
}
