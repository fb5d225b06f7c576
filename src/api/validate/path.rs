//! Field paths as issues print them: `spec.policy.administrators[1]`, `spec.tags["aws:x"]`.
//! The manifest loader builds the same paths from YAML, so an issue's field finds its line.

/// The path of `key` inside the mapping at `parent`.
pub fn child(parent: &str, key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    // Tag keys such as `kmsoperator.dev/owner` would read as nested fields with a dot.
    match (plain, parent.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{parent}.{key}"),
        (false, _) => format!("{parent}[{key:?}]"),
    }
}

/// The path of item `index` of the sequence at `parent`.
pub fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_quotes_keys_that_are_not_identifiers() {
        assert_eq!(child("", "spec"), "spec");
        assert_eq!(child("spec", "rotation"), "spec.rotation");
        assert_eq!(child("spec.tags", "aws:x"), "spec.tags[\"aws:x\"]");
        assert_eq!(child("spec.tags", "kmsoperator.dev/owner"), "spec.tags[\"kmsoperator.dev/owner\"]");
        assert_eq!(item("spec.replicas", 2), "spec.replicas[2]");
    }
}
