//! Matching text against patterns where `*` stands for any run of characters, as IAM matches
//! action names (`kms:Create*`) and as `permissions.aliasNames` matches alias names.

/// How a pattern is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wildcards {
    /// IAM actions: `*` any run, `?` any one character, letters compared without case.
    Iam,
    /// Alias names: `*` any run, everything else literal and case-sensitive.
    Star,
}

/// Whether `text` matches the whole of `pattern`. Greedy with backtracking to the last `*`,
/// which is linear in practice and at worst the product of both lengths (both are short:
/// action names, alias names of at most 256 characters).
pub(crate) fn matches(pattern: &str, text: &str, wildcards: Wildcards) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let same = |p: char, t: char| match wildcards {
        Wildcards::Iam => p == '?' || p.to_lowercase().eq(t.to_lowercase()),
        Wildcards::Star => p == t,
    };
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && same(pattern[p], text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            // Let the last `*` take one more character and try again after it.
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_actions_match_as_iam_reads_them() {
        for pattern in
            ["kms:CreateGrant", "kms:Create*", "kms:*", "*", "KMS:creategrant", "kms:*Grant", "kms:Create?rant"]
        {
            assert!(matches(pattern, "kms:CreateGrant", Wildcards::Iam), "{pattern}");
        }
        for pattern in ["kms:CreateKey", "kms:Create", "kms:ListGrants", "kms:CreateGrants", "s3:*", "kms:Create?"] {
            assert!(!matches(pattern, "kms:CreateGrant", Wildcards::Iam), "{pattern}");
        }
    }

    #[test]
    fn star_patterns_are_literal_and_case_sensitive_but_for_stars() {
        assert!(matches("alias/team-a/*", "alias/team-a/logs/prod", Wildcards::Star));
        assert!(matches("alias/team-a/*", "alias/team-a/", Wildcards::Star));
        assert!(matches("alias/*-logs", "alias/a-b-logs", Wildcards::Star));
        assert!(!matches("alias/team-a/*", "alias/Team-A/logs", Wildcards::Star));
        assert!(!matches("alias/team-a/*", "alias/team-ab/logs", Wildcards::Star));
        assert!(!matches("alias/te?m-a", "alias/team-a", Wildcards::Star));
        assert!(matches("alias/*/*/x", "alias/a/b/c/x", Wildcards::Star));
        assert!(!matches("alias/*/x", "alias/a/x/y", Wildcards::Star));
    }
}
