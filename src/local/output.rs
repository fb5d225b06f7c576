//! How a run reads: a plan like `terraform plan`, a result table like `kubectl get`, or JSON.

use std::fmt::Write;

use comfy_table::{Table, presets};
use serde_json::{Value, json};

use super::result::ResourceResult;
use super::runner::{Command, RunOutput};
use crate::aws::CallSummary;
use crate::engine::Outcome;

/// `--output json`: one object per resource, `{kind, namespace, name, actions, status}`.
pub fn json(output: &RunOutput) -> String {
    let items: Vec<Value> = output.results.iter().map(ResourceResult::to_json).collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_owned())
}

/// The call summary `--output json` writes to stderr, so stdout stays one JSON array.
pub fn json_summary(output: &RunOutput) -> String {
    let value = json!({ "summary": { "resources": output.results.len(), "calls": output.calls } });
    serde_json::to_string(&value).unwrap_or_default()
}

pub(super) fn header(result: &ResourceResult) -> String {
    let mut where_ = Vec::new();
    if let Some(account) = result.status.get("accountId").and_then(Value::as_str) {
        where_.push(format!("account {account}"));
    }
    if let Some(region) = result.status.get("region").and_then(Value::as_str) {
        where_.push(region.to_owned());
    }
    if where_.is_empty() { result.object.to_string() } else { format!("{} ({})", result.object, where_.join(", ")) }
}

fn describe(result: &ResourceResult, text: &mut String) {
    let _ = writeln!(text, "{}", header(result));
    for change in result.actions() {
        for line in change.lines() {
            let _ = writeln!(text, "  {line}");
        }
    }
    if !result.drift().is_empty() {
        let _ = writeln!(text, "  drift, left as it is (managementPolicy: Observe):");
        for line in result.drift().iter().flat_map(|change| change.lines()) {
            let _ = writeln!(text, "    {line}");
        }
    }
    for problem in result.problems() {
        let _ = writeln!(text, "  ! {}: {}", problem.reason, problem.message);
    }
    for notice in &result.notices {
        let _ = writeln!(text, "  note: {}", notice.message);
    }
}

fn noteworthy(result: &ResourceResult) -> bool {
    !result.changes.is_empty() || !result.blockers.is_empty() || !result.notices.is_empty() || result.failed()
}

/// `plan`: what would change, resource by resource, then a one-line verdict.
pub fn plan(output: &RunOutput) -> String {
    let mut text = String::new();
    for result in output.results.iter().filter(|r| noteworthy(r)) {
        describe(result, &mut text);
        text.push('\n');
    }
    let _ = writeln!(text, "{}", verdict(output));
    text
}

/// `apply` and `delete`: what was done, then a table of every resource.
pub fn result(output: &RunOutput) -> String {
    let mut text = String::new();
    for result in output.results.iter().filter(|r| noteworthy(r)) {
        describe(result, &mut text);
        text.push('\n');
    }
    text.push_str(&table(&output.results));
    let _ = writeln!(text);
    let _ = writeln!(text, "{}", verdict(output));
    text
}

/// The run in one line: what a plan would change, or what apply or delete did.
pub fn verdict(output: &RunOutput) -> String {
    let failed = output.results.iter().filter(|r| r.failed()).count();
    let changes: usize = output.results.iter().map(|r| r.actions().len()).sum();
    if output.command != Command::Plan {
        let verb = if output.command == Command::Delete { "Delete" } else { "Apply" };
        return if failed == 0 {
            format!("{verb} complete: {changes} change(s) made; {}.", calls(&output.calls))
        } else {
            format!(
                "{verb} incomplete: {failed} resource(s) failed; {changes} change(s) made; {}.",
                calls(&output.calls)
            )
        };
    }
    let changing = output.results.iter().filter(|r| !r.actions().is_empty()).count();
    let in_sync = output.results.iter().filter(|r| r.outcome == Outcome::InSync).count();
    let drifted = output.results.iter().filter(|r| r.outcome == Outcome::Drifted).count();
    if changes == 0 && failed == 0 && drifted == 0 {
        format!("No changes. All {} resources are in sync with KMS.", output.results.len())
    } else if changes == 0 && failed == 0 {
        format!("No changes. {drifted} observe-only resource(s) differ from their spec and are left as they are.")
    } else {
        format!("Plan: {changes} change(s) to {changing} resource(s); {in_sync} in sync; {failed} with errors.")
    }
}

fn calls(summary: &CallSummary) -> String {
    let throttles =
        if summary.throttles > 0 { format!(", {} throttled and retried", summary.throttles) } else { String::new() };
    format!("{} AWS reads, {} writes{throttles}", summary.reads, summary.writes)
}

fn condition_cell(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// The status table, one row per resource.
pub fn table(results: &[ResourceResult]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header(vec!["KIND", "NAME", "ID", "STATE", "READY", "SYNCED", "CHANGES"]);
    for result in results {
        table.add_row(vec![
            result.object.kind.to_string(),
            result.object.qualified(),
            result.id.clone().unwrap_or_else(|| "-".to_owned()),
            result.state.clone().unwrap_or_else(|| "-".to_owned()),
            condition_cell(result.ready.status).to_owned(),
            condition_cell(result.synced.status).to_owned(),
            result.actions().len().to_string(),
        ]);
    }
    let mut text = table.to_string();
    text.push('\n');
    text
}
