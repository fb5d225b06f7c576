//! One problem found in a manifest, and the collector the rules report into.

use std::fmt;
use std::path::PathBuf;

use crate::api::ObjectName;

/// A problem in one object (or one file), phrased so a user can fix it without reading code:
/// which object, which field, what is wrong with the value, and what to do instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub object: Option<ObjectName>,
    pub file: Option<PathBuf>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
    /// Full path of the field, e.g. `spec.policy.administrators[1]`; empty for whole-file issues.
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl Issue {
    pub fn new(
        object: Option<ObjectName>,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Issue { object, file: None, line: None, field: field.into(), problem: problem.into(), fix: fix.into() }
    }

    /// Places the issue in a file, for objects loaded from manifests.
    pub fn in_file(mut self, file: impl Into<PathBuf>, line: Option<usize>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        // Rules write plain phrases; the sentence punctuation is added once, here.
        f.write_str(self.problem.trim_end_matches('.'))?;
        let fix = self.fix.trim();
        if !fix.is_empty() {
            write!(f, ". Fix: {fix}")?;
            if !fix.ends_with(['.', '!', '?']) {
                f.write_str(".")?;
            }
        }
        Ok(())
    }
}

/// Collects the issues of one object; every rule reports through it so none forgets the name.
pub(crate) struct Issues {
    object: ObjectName,
    list: Vec<Issue>,
}

impl Issues {
    pub(crate) fn new(object: ObjectName) -> Self {
        Issues { object, list: Vec::new() }
    }

    pub(crate) fn add(&mut self, field: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) {
        self.list.push(Issue::new(Some(self.object.clone()), field, problem, fix));
    }

    pub(crate) fn object(&self) -> &ObjectName {
        &self.object
    }

    pub(crate) fn into_vec(self) -> Vec<Issue> {
        self.list
    }
}

/// A user's value as it appears in a message: quoted and escaped, cut short when long.
pub(crate) fn quote(value: &str) -> String {
    const SHOWN: usize = 80;
    if value.chars().count() > SHOWN {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{:?}...", head)
    } else {
        format!("{value:?}")
    }
}

/// "did you mean X? use one of A, B, C" when a near match exists, else the list alone.
pub(crate) fn suggest(value: &str, choices: &[&str]) -> String {
    let all = format!("use one of {}", choices.join(", "));
    match closest(value, choices) {
        Some(near) => format!("did you mean {near}? {all}"),
        None => all,
    }
}

/// The candidate a user most likely meant: a case-insensitive match first, then the nearest
/// by edit distance, if near enough to be a typo rather than a different word.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    if let Some(same) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some(same);
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), *c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Edits between two words, a swap of neighbours counting as one (optimal string alignment):
/// the common typo `sepc` is one edit from `spec`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    #[test]
    fn display_names_file_line_object_field_problem_and_fix() {
        let issue = Issue::new(
            Some(ObjectName::new(Kind::KmsKey, Some("ns"), "name")),
            "spec.rotation.periodDays",
            "30 is outside 90..2560",
            "set a value from 90 to 2560",
        )
        .in_file("keys.yaml", Some(12));
        assert_eq!(
            issue.to_string(),
            "keys.yaml:12: KmsKey ns/name: spec.rotation.periodDays: 30 is outside 90..2560. Fix: set a value from 90 to 2560."
        );
    }

    #[test]
    fn display_omits_missing_parts() {
        let issue = Issue::new(None, "", "no manifests found.", "pass a file.");
        assert_eq!(issue.to_string(), "no manifests found. Fix: pass a file.");
    }

    #[test]
    fn closest_prefers_case_insensitive_match_then_typos() {
        let words = ["Encrypt", "Decrypt", "GenerateDataKey"];
        assert_eq!(closest("decrypt", &words), Some("Decrypt"));
        assert_eq!(closest("Encrpyt", &words), Some("Encrypt"));
        assert_eq!(closest("Sign", &words), None);
        assert_eq!(closest("sepc", &["spec", "status"]), Some("spec"));
    }

    #[test]
    fn quote_shortens_long_values() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert!(quote(&"x".repeat(200)).ends_with("\"..."));
    }
}
