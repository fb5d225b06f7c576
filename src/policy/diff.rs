//! A line diff of two policies for plans.
//!
//! Both sides are canonicalised first, so only changes that matter show up, and they show up
//! in one stable layout: statements sorted by Sid, lists sorted, one value per line. That
//! makes a change to one principal a one-line change instead of a reshuffled document.

use similar::{ChangeTag, TextDiff};

use super::canonical::{canonical_in, partition_of};
use super::render::to_pretty_json;

/// Unchanged lines shown either side of a change.
const CONTEXT: usize = 2;

/// Marks a run of unchanged lines left out.
const SKIPPED: &str = "  ...";

/// Lines of a unified-style diff from `from` to `to`, each starting with `"+ "`, `"- "` or
/// `"  "`, with two lines of context and `"  ..."` where unchanged lines are left out.
/// Empty exactly when the policies are equivalent.
pub fn diff(from: &serde_json::Value, to: &serde_json::Value) -> Vec<String> {
    let partitions = partition_of(&[from, to]);
    let old = canonical_in(from, &partitions);
    let new = canonical_in(to, &partitions);
    if old == new {
        return Vec::new();
    }
    // A newline on both ends, so the last line never differs just by lacking one.
    let old_text = to_pretty_json(&old) + "\n";
    let new_text = to_pretty_json(&new) + "\n";
    let text_diff = TextDiff::from_lines(&old_text, &new_text);
    let old_len = old_text.lines().count();

    let mut lines = Vec::new();
    let mut shown_until = 0;
    for group in text_diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        if first.old_range().start > shown_until {
            lines.push(SKIPPED.to_owned());
        }
        for op in &group {
            for change in text_diff.iter_changes(op) {
                let prefix = match change.tag() {
                    ChangeTag::Delete => "- ",
                    ChangeTag::Insert => "+ ",
                    ChangeTag::Equal => "  ",
                };
                lines.push(format!("{prefix}{}", change.value().trim_end_matches('\n')));
            }
        }
        shown_until = last.old_range().end;
    }
    if !lines.is_empty() && shown_until < old_len {
        lines.push(SKIPPED.to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::api::PolicySpec;
    use crate::policy::{build, default_policy, equivalent};

    use crate::policy::test_context as ctx;

    fn with_users(users: &[&str]) -> Value {
        let spec = PolicySpec {
            administrators: vec!["arn:aws:iam::484357440923:role/Admin".into()],
            users: users.iter().map(|u| (*u).to_owned()).collect(),
            ..PolicySpec::default()
        };
        build(&spec, &ctx())
    }

    fn changes(lines: &[String]) -> Vec<&str> {
        lines.iter().filter(|l| l.starts_with("+ ") || l.starts_with("- ")).map(String::as_str).collect()
    }

    #[test]
    fn empty_when_equivalent() {
        let built = with_users(&["arn:aws:iam::1:role/A"]);
        let reparsed: Value = serde_json::from_str(&built.to_string()).unwrap();
        assert!(diff(&built, &reparsed).is_empty());
        assert!(diff(&built, &built).is_empty());
        let bare = json!({"Version": "2012-10-17", "Statement": {"Sid": "S", "Effect": "Allow", "Principal": {"AWS": "484357440923"}, "Action": "kms:*", "Resource": "*"}});
        let arn = json!({"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::484357440923:root"]}, "Action": ["KMS:*"], "Resource": ["*"]}]});
        assert!(diff(&bare, &arn).is_empty());
    }

    #[test]
    fn changed_principal_is_one_minus_and_one_plus() {
        let from = with_users(&["arn:aws:iam::1:role/A"]);
        let to = with_users(&["arn:aws:iam::1:role/B"]);
        let lines = diff(&from, &to);
        assert_eq!(changes(&lines), ["-           \"arn:aws:iam::1:role/A\"", "+           \"arn:aws:iam::1:role/B\""]);
        assert!(lines.iter().all(|l| l.starts_with("+ ") || l.starts_with("- ") || l.starts_with("  ")));
    }

    #[test]
    fn context_is_two_lines_with_ellipses_for_the_rest() {
        let from = with_users(&["arn:aws:iam::1:role/A"]);
        let to = with_users(&["arn:aws:iam::1:role/B"]);
        let lines = diff(&from, &to);
        assert_eq!(
            lines,
            [
                "  ...",
                "        \"Principal\": {",
                "          \"AWS\": [",
                "-           \"arn:aws:iam::1:role/A\"",
                "+           \"arn:aws:iam::1:role/B\"",
                "          ]",
                "        },",
                "  ...",
            ]
        );
    }

    #[test]
    fn separate_changes_are_separate_hunks() {
        let from = build(
            &PolicySpec {
                administrators: vec!["arn:aws:iam::1:role/Admin".into()],
                users: vec!["arn:aws:iam::1:role/A".into()],
                trusted_accounts: vec!["111122223333".into()],
                ..PolicySpec::default()
            },
            &ctx(),
        );
        let to = build(
            &PolicySpec {
                administrators: vec!["arn:aws:iam::1:role/Admin2".into()],
                users: vec!["arn:aws:iam::1:role/A".into()],
                trusted_accounts: vec!["444455556666".into()],
                ..PolicySpec::default()
            },
            &ctx(),
        );
        let lines = diff(&from, &to);
        let hunks_between = lines.iter().filter(|l| *l == "  ...").count();
        assert!(hunks_between >= 3, "{lines:#?}");
        assert!(changes(&lines).contains(&"-           \"arn:aws:iam::1:role/Admin\""), "{lines:#?}");
        assert!(changes(&lines).contains(&"+           \"arn:aws:iam::1:role/Admin2\""), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("arn:aws:iam::444455556666:root") && l.starts_with("+ ")));
        assert!(lines.iter().any(|l| l.contains("arn:aws:iam::111122223333:root") && l.starts_with("- ")));
    }

    #[test]
    fn adding_a_statement_shows_it_whole() {
        let from = default_policy(&ctx());
        let mut to = from.clone();
        to["Statement"].as_array_mut().unwrap().push(json!({
            "Sid": "Zz",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:ScheduleKeyDeletion",
            "Resource": "*",
        }));
        let lines = diff(&from, &to);
        let added: Vec<&str> = changes(&lines);
        assert!(added.iter().all(|l| l.starts_with("+ ")), "{lines:#?}");
        assert!(added.iter().any(|l| l.contains("\"Sid\": \"Zz\"")));
        assert!(added.iter().any(|l| l.contains("kms:schedulekeydeletion")));
        assert!(!equivalent(&from, &to));
    }

    #[test]
    fn small_documents_have_no_ellipses() {
        let from = json!({"Version": "2012-10-17"});
        let to = json!({"Version": "2008-10-17"});
        assert_eq!(
            diff(&from, &to),
            ["  {", "-   \"Version\": \"2012-10-17\"", "+   \"Version\": \"2008-10-17\"", "  }"]
        );
    }

    #[test]
    fn diff_is_empty_exactly_when_equivalent() {
        let docs = [
            default_policy(&ctx()),
            with_users(&["arn:aws:iam::1:role/A"]),
            with_users(&["arn:aws:iam::1:role/B"]),
            with_users(&["arn:aws:iam::1:role/B", "arn:aws:iam::1:role/A"]),
            with_users(&["arn:aws:iam::1:role/A", "arn:aws:iam::1:role/B"]),
            json!({"Version": "2012-10-17", "Statement": []}),
        ];
        for a in &docs {
            for b in &docs {
                assert_eq!(diff(a, b).is_empty(), equivalent(a, b), "{a}\n{b}");
            }
        }
    }
}
