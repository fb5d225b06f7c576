//! `--output markdown`: a run as a pull-request comment. The verdict first, then what stops the
//! run (errors, refusals, blockers), then one collapsed section per resource that changes, with
//! policy changes as `diff` blocks. Nothing in it depends on the time or the number of calls a
//! plan took, so the same plan of the same live state renders to the same text, and a comment
//! updated on every push changes only when the plan does.

use std::fmt::Write;

use super::deletions;
use super::output::{header, verdict};
use super::result::ResourceResult;
use super::runner::RunOutput;
use crate::engine::{Change, Outcome};

pub fn markdown(output: &RunOutput) -> String {
    let mut text = format!("### kms-operator {}\n\n", output.command.name());
    // The change that loses data for good goes before anything else a reviewer reads.
    let warnings = deletions::warnings(&output.results);
    for warning in &warnings {
        let _ = writeln!(text, "> **{}**", escape(warning));
    }
    if !warnings.is_empty() {
        text.push_str("> After the pending window the key is gone for good, and whatever it encrypted can no longer be decrypted.\n\n");
    }
    let _ = writeln!(text, "**{}**", escape(&verdict(output)));
    let failed: Vec<&ResourceResult> = output.results.iter().filter(|r| r.failed()).collect();
    if !failed.is_empty() {
        text.push_str("\n#### Errors and refusals\n\n");
        for result in failed {
            for problem in result.problems() {
                let _ = writeln!(
                    text,
                    "- **{}**: {} {}",
                    escape(&header(result)),
                    code(problem.reason.as_str()),
                    escape(&problem.message)
                );
            }
        }
    }
    let removed: Vec<&ResourceResult> = output.results.iter().filter(|r| r.removed).collect();
    if !removed.is_empty() {
        text.push_str(
            "\n#### Removed from the manifests\n\nWhat deleting them does (GitOps prunes them once this is merged):\n",
        );
        for result in removed.iter().filter(|r| !r.actions().is_empty()) {
            section(result, result.actions(), &mut text);
        }
        let unchanged: Vec<&&ResourceResult> =
            removed.iter().filter(|r| r.actions().is_empty() && !r.failed()).collect();
        if !unchanged.is_empty() {
            text.push('\n');
            for result in unchanged {
                let _ = writeln!(text, "- {}: deleting it changes nothing in KMS", escape(&header(result)));
            }
        }
    }
    let changing: Vec<&ResourceResult> =
        output.results.iter().filter(|r| !r.removed && !r.actions().is_empty()).collect();
    if !changing.is_empty() {
        text.push_str("\n#### Changes\n");
        for result in changing {
            section(result, result.actions(), &mut text);
        }
    }
    let drifted: Vec<&ResourceResult> = output.results.iter().filter(|r| !r.drift().is_empty()).collect();
    if !drifted.is_empty() {
        text.push_str("\n#### Drift left as it is (managementPolicy: Observe)\n");
        for result in drifted {
            section(result, result.drift(), &mut text);
        }
    }
    let noted: Vec<&ResourceResult> = output.results.iter().filter(|r| !r.notices.is_empty()).collect();
    if !noted.is_empty() {
        text.push_str("\n#### Notes\n\n");
        for result in noted {
            for notice in &result.notices {
                let _ = writeln!(text, "- **{}**: {}", escape(&header(result)), escape(&notice.message));
            }
        }
    }
    let in_sync: Vec<&ResourceResult> =
        output.results.iter().filter(|r| !r.removed && r.outcome == Outcome::InSync).collect();
    if !in_sync.is_empty() {
        let _ = write!(text, "\n<details>\n<summary>{} resource(s) in sync</summary>\n\n", in_sync.len());
        for result in in_sync {
            let _ = writeln!(text, "- {}", escape(&result.object.to_string()));
        }
        text.push_str("\n</details>\n");
    }
    text
}

/// One resource's changes (or drift), collapsed under a line that names it and counts them.
fn section(result: &ResourceResult, changes: &[Change], text: &mut String) {
    let _ = write!(
        text,
        "\n<details>\n<summary><b>{}</b>: {}</summary>\n\n",
        html(&header(result)),
        html(&counts(changes))
    );
    for change in changes {
        let _ = writeln!(text, "- {}", code(&format!("{} {}", change.symbol(), change.summary())));
        for detail in change.details() {
            let _ = writeln!(text, "  - {}", code(&detail));
        }
        let diff = change.policy_diff();
        if !diff.is_empty() {
            text.push_str(&fenced("diff", &diff, "  "));
        }
    }
    text.push_str("\n</details>\n");
}

/// `3 change(s): 2 to add, 1 to change`.
fn counts(changes: &[Change]) -> String {
    let count = |symbol| changes.iter().filter(|c| c.symbol() == symbol).count();
    let parts: Vec<String> = [('+', "to add"), ('~', "to change"), ('-', "to remove")]
        .into_iter()
        .filter_map(|(symbol, words)| Some(count(symbol)).filter(|n| *n > 0).map(|n| format!("{n} {words}")))
        .collect();
    format!("{} change(s): {}", changes.len(), parts.join(", "))
}

/// The longest run of backticks in `text`: a code span or fence must use a longer one.
fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `text` as an inline code span, whatever backticks it holds.
fn code(text: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    let text = text.replace('\n', " ");
    // A span that starts or ends with a backtick needs a space between it and the delimiter.
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// A fenced code block of `lines`, each line (fences included) prefixed with `indent`.
fn fenced(language: &str, lines: &[String], indent: &str) -> String {
    let longest = lines.iter().map(|l| longest_backtick_run(l)).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    let mut block = format!("{indent}{fence}{language}\n");
    for line in lines {
        let _ = writeln!(block, "{indent}{line}");
    }
    let _ = writeln!(block, "{indent}{fence}");
    block
}

/// Plain text in Markdown: punctuation that would start emphasis, code, links or HTML is
/// escaped, and a newline would end the list item, so it becomes a space.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' | '\r' => escaped.push(' '),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Text inside an HTML element (`<summary>`), where Markdown is not read.
fn html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
