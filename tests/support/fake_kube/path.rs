//! What a request path addresses: group and version, resource, namespace, name, subresource.

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// `v1` for the core group, else `group/version`.
    pub group_version: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Path {
    pub fn parse(path: &str) -> Option<Path> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group_version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ((*version).to_owned(), rest),
            ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
            _ => return None,
        };
        let owned = |s: &&str| (*s).to_owned();
        let path = match rest {
            // Namespaces themselves are cluster-scoped objects under /api/v1/namespaces.
            ["namespaces"] => {
                Path { group_version, plural: "namespaces".into(), namespace: None, name: None, subresource: None }
            }
            ["namespaces", name] if group_version == "v1" => Path {
                group_version,
                plural: "namespaces".into(),
                namespace: None,
                name: Some(owned(name)),
                subresource: None,
            },
            ["namespaces", ns, plural, tail @ ..] => Path {
                group_version,
                plural: owned(plural),
                namespace: Some(owned(ns)),
                name: tail.first().map(owned),
                subresource: tail.get(1).map(owned),
            },
            [plural, tail @ ..] => Path {
                group_version,
                plural: owned(plural),
                namespace: None,
                name: tail.first().map(owned),
                subresource: tail.get(1).map(owned),
            },
            [] => return None,
        };
        Some(path)
    }
}
