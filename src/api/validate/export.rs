//! Rules on `KmsKey.spec.export`: the ConfigMap's name must be one Kubernetes accepts.

use super::issue::{Issues, quote};
use crate::api::KmsKeySpec;

/// Kubernetes' limit on object names that are DNS subdomains (RFC 1123).
const MAX_NAME_CHARS: usize = 253;

/// A DNS subdomain: lowercase labels of letters, digits and `-`, each starting and ending with a
/// letter or digit, joined by dots.
fn is_dns_subdomain(name: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    name.len() <= MAX_NAME_CHARS && name.split('.').all(label_ok)
}

pub(crate) fn check_export(issues: &mut Issues, spec: &KmsKeySpec) {
    let Some(name) = spec.export_config_map() else {
        return;
    };
    if !is_dns_subdomain(name) {
        issues.add(
            "spec.export.configMapName",
            format!("{} is not a ConfigMap name", quote(name)),
            format!(
                "use at most {MAX_NAME_CHARS} lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, e.g. my-app-kms"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_clean, assert_issue, key};
    use super::super::validate_key;

    #[test]
    fn the_config_map_name_must_be_a_kubernetes_name() {
        assert_clean(&validate_key(&key("{accountRef: core, export: {configMapName: datamesh-kms.v1}}"), None));
        assert_clean(&validate_key(&key("{accountRef: core, export: {configMapName: ''}}"), None));
        for bad in ["Datamesh", "-kms", "kms-", "a..b", "a_b"] {
            let issues = validate_key(&key(&format!("{{accountRef: core, export: {{configMapName: '{bad}'}}}}")), None);
            assert_issue(
                &issues,
                "KmsKey platform-kms/datamesh",
                "spec.export.configMapName",
                &["not a ConfigMap name"],
                "lowercase",
            );
        }
    }
}
