//! Which files may say what, in local mode. In a monorepo every team writes manifests, and a
//! local run otherwise trusts every file it reads: a file in team B's directory could declare a
//! KmsKey of team A, a second permissive AwsAccount, or a Namespace with the adoption label.
//! `--platform-files GLOB` names the files the platform team reviews (CODEOWNERS), the only
//! ones that may declare `AwsAccount` and `Namespace` manifests; `--tenant-files PATTERN` binds
//! each tenant's files to its namespace through `{namespace}` in one path segment. With either
//! given, a file that matches neither may hold no object. Paths are matched where a file really
//! is (links resolved), relative to the working directory.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use regex::Regex;

use super::manifests::{Declared, ManifestSet};
use crate::api::tenancy::{NAMESPACE_PLACEHOLDER, Reason};
use crate::api::validate::Issue;
use crate::api::{Kind, ObjectName};

/// A namespace name, as `{namespace}` matches it (a DNS label).
const NAMESPACE_REGEX: &str = "(?P<namespace>[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)";

/// One `--platform-files` glob or `--tenant-files` pattern: `**` for any number of directories,
/// `*` for any run of characters within one path segment, `?` for one, `{namespace}` (tenant
/// patterns only, once, inside one segment) for a namespace's name.
#[derive(Clone, Debug)]
pub struct FilePattern {
    text: String,
    regex: Regex,
}

impl FilePattern {
    /// A `--platform-files` glob.
    pub fn platform(text: &str) -> Result<FilePattern, String> {
        FilePattern::parse(text, false)
    }

    /// A `--tenant-files` pattern.
    pub fn tenant(text: &str) -> Result<FilePattern, String> {
        FilePattern::parse(text, true)
    }

    fn parse(text: &str, tenant: bool) -> Result<FilePattern, String> {
        let source = translate(text, tenant)?;
        let regex = Regex::new(&source).map_err(|e| format!("{text:?} does not compile: {e}"))?;
        Ok(FilePattern { text: text.to_owned(), regex })
    }

    fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }

    /// The namespace a tenant pattern binds `path` to, if it matches.
    fn namespace_of(&self, path: &str) -> Option<String> {
        self.regex.captures(path).and_then(|c| c.name("namespace")).map(|m| m.as_str().to_owned())
    }
}

impl std::fmt::Display for FilePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The pattern as an anchored regular expression over `/`-separated relative paths.
fn translate(text: &str, tenant: bool) -> Result<String, String> {
    let trimmed = text.strip_prefix("./").unwrap_or(text);
    if trimmed.is_empty() || trimmed.starts_with('/') {
        return Err(format!("{text:?} must be a path relative to the working directory, such as keys/platform/**"));
    }
    let placeholders = trimmed.matches(NAMESPACE_PLACEHOLDER).count();
    match (tenant, placeholders) {
        (true, 1) | (false, 0) => {}
        (true, _) => {
            return Err(format!(
                "{text:?} must hold {NAMESPACE_PLACEHOLDER} exactly once, e.g. teams/{NAMESPACE_PLACEHOLDER}/**"
            ));
        }
        (false, _) => {
            return Err(format!("{text:?} holds {NAMESPACE_PLACEHOLDER}, which only --tenant-files patterns take"));
        }
    }
    let segments: Vec<&str> = trimmed.split('/').collect();
    let mut regex = String::from("^");
    let mut after_any_depth = false;
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if *segment == "**" {
            regex.push_str(match (i == 0, last) {
                (true, true) => ".*",
                (true, false) => "(?:[^/]*/)*",
                (false, true) => "/.*",
                (false, false) => "/(?:[^/]*/)*",
            });
            after_any_depth = !last;
            continue;
        }
        if segment.is_empty() || *segment == "." || *segment == ".." || segment.contains("**") {
            return Err(format!(
                "{text:?} has the segment {segment:?}: write ** alone between slashes, and no empty, . or .. segments"
            ));
        }
        if i > 0 && !after_any_depth {
            regex.push('/');
        }
        after_any_depth = false;
        regex.push_str(&segment_regex(text, segment)?);
    }
    regex.push('$');
    Ok(regex)
}

fn segment_regex(text: &str, segment: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = segment;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix(NAMESPACE_PLACEHOLDER) {
            out.push_str(NAMESPACE_REGEX);
            rest = after;
            continue;
        }
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' | ']' | '{' | '}' => {
                return Err(format!(
                    "{text:?} uses {c:?}: patterns take *, ?, ** and {NAMESPACE_PLACEHOLDER}, not classes or alternatives"
                ));
            }
            other => out.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

/// The `--platform-files` and `--tenant-files` of a run.
#[derive(Clone, Debug, Default)]
pub struct FileTrust {
    pub platform: Vec<FilePattern>,
    pub tenant: Vec<FilePattern>,
}

/// What one file may hold.
struct Standing {
    platform: bool,
    /// The namespaces the tenant patterns it matches bind it to.
    tenants: BTreeSet<String>,
}

impl FileTrust {
    pub fn is_active(&self) -> bool {
        !self.platform.is_empty() || !self.tenant.is_empty()
    }

    /// Every object in a file that may not hold it, each placed in its file; `working_dir`
    /// (links resolved) is what the patterns are relative to.
    pub fn refusals(&self, set: &ManifestSet, working_dir: &Path) -> Vec<(Reason, Issue)> {
        if !self.is_active() {
            return Vec::new();
        }
        let mut found = Vec::new();
        for declared in &set.declarations {
            let real = set.real_paths.get(&declared.file).unwrap_or(&declared.file);
            let standing = self.standing(real, working_dir);
            let refusal = match &declared.what {
                Declared::Object(object) if object.kind == Kind::AwsAccount => {
                    (!standing.platform).then(|| self.platform_only(Some(object.clone()), "an AwsAccount", "accounts"))
                }
                Declared::Object(object) => self.namespaced(&standing, object),
                Declared::Namespace(name) => (!standing.platform)
                    .then(|| self.platform_only(None, &format!("Namespace {name}"), "namespaces and their labels")),
            };
            if let Some((field, issue)) = refusal {
                let line = if field.is_empty() { declared.line } else { declared.namespace_line.or(declared.line) };
                found.push((Reason::NotPermitted, issue.in_file(&declared.file, line)));
            }
        }
        found
    }

    fn standing(&self, real: &Path, working_dir: &Path) -> Standing {
        let Some(relative) = relative_to(real, working_dir) else {
            return Standing { platform: false, tenants: BTreeSet::new() };
        };
        Standing {
            platform: self.platform.iter().any(|p| p.matches(&relative)),
            tenants: self.tenant.iter().filter_map(|p| p.namespace_of(&relative)).collect(),
        }
    }

    /// The field a refusal is about and the refusal, for a namespaced object.
    fn namespaced(&self, standing: &Standing, object: &ObjectName) -> Option<(&'static str, Issue)> {
        let namespace = object.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let (field, problem, fix) = if let Some(other) = standing.tenants.iter().find(|t| **t != namespace) {
            (
                "metadata.namespace",
                format!(
                    "is in namespace {namespace}, but its file belongs to namespace {other} (--tenant-files {}); a tenant's files may declare objects of its own namespace only",
                    self.tenant_list()
                ),
                format!("set metadata.namespace: {other}, or move the object into namespace {namespace}'s files"),
            )
        } else if standing.tenants.is_empty() && !standing.platform {
            (
                "",
                format!(
                    "is in a file that neither --platform-files ({}) nor --tenant-files ({}) matches; such a file may hold no object",
                    self.platform_list(),
                    self.tenant_list()
                ),
                "move the object into its namespace's files or the platform files, or ask the platform team to extend the patterns".to_owned(),
            )
        } else {
            return None;
        };
        Some((field, Issue::new(Some(object.clone()), field, problem, fix)))
    }

    fn platform_only(&self, object: Option<ObjectName>, what: &str, whose: &str) -> (&'static str, Issue) {
        let problem = format!(
            "{what} may be declared only in the platform team's files (--platform-files {}), and this file is not one: {whose} decide what every tenant may do",
            self.platform_list()
        );
        let fix = "move it into the platform files (reviewed by the platform team), or remove it";
        ("", Issue::new(object, "", problem, fix))
    }

    fn platform_list(&self) -> String {
        list(&self.platform)
    }

    fn tenant_list(&self) -> String {
        list(&self.tenant)
    }
}

fn list(patterns: &[FilePattern]) -> String {
    if patterns.is_empty() {
        return "none given".to_owned();
    }
    patterns.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// `path` relative to `base`, `/`-separated, when it lies inside it.
fn relative_to(path: &Path, base: &Path) -> Option<String> {
    let relative = path.strip_prefix(base).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    parts.map(|parts| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(text: &str) -> FilePattern {
        FilePattern::platform(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn tenant(text: &str) -> FilePattern {
        FilePattern::tenant(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn double_stars_match_any_depth_and_single_stars_one_segment() {
        let any = platform("keys/platform/**");
        for path in ["keys/platform/a.yaml", "keys/platform/x/y/b.yml"] {
            assert!(any.matches(path), "{path}");
        }
        for path in ["keys/platformx/a.yaml", "keys/a.yaml", "other/keys/platform/a.yaml"] {
            assert!(!any.matches(path), "{path}");
        }
        let middle = platform("./keys/**/accounts/*.yaml");
        assert!(middle.matches("keys/accounts/a.yaml"));
        assert!(middle.matches("keys/x/y/accounts/a.yaml"));
        assert!(!middle.matches("keys/accounts/x/a.yaml"));
        assert!(platform("**/platform.yaml").matches("platform.yaml"));
        assert!(platform("**/platform.yaml").matches("a/b/platform.yaml"));
        assert!(platform("keys/?.yaml").matches("keys/a.yaml"));
        assert!(!platform("keys/a.yaml").matches("keys/aXyaml"), "dots are literal");
    }

    #[test]
    fn a_tenant_pattern_binds_its_namespace_from_one_segment() {
        let teams = tenant("teams/{namespace}/**");
        assert_eq!(teams.namespace_of("teams/team-a/keys/k.yaml").as_deref(), Some("team-a"));
        assert_eq!(teams.namespace_of("teams/team-a/k.yaml").as_deref(), Some("team-a"));
        assert_eq!(teams.namespace_of("teams/Team-A/k.yaml"), None, "namespaces are DNS labels");
        assert_eq!(teams.namespace_of("teams/k.yaml"), None);
        let files = tenant("keys/team-{namespace}.yaml");
        assert_eq!(files.namespace_of("keys/team-payments.yaml").as_deref(), Some("payments"));
    }

    #[test]
    fn malformed_patterns_are_refused_with_an_example() {
        assert!(FilePattern::tenant("teams/**").unwrap_err().contains("exactly once"));
        assert!(FilePattern::tenant("{namespace}/{namespace}/**").unwrap_err().contains("exactly once"));
        assert!(FilePattern::platform("teams/{namespace}/**").unwrap_err().contains("only --tenant-files"));
        assert!(FilePattern::platform("/etc/**").unwrap_err().contains("relative"));
        assert!(FilePattern::platform("keys/a**/b").unwrap_err().contains("** alone"));
        assert!(FilePattern::platform("keys/../b").unwrap_err().contains(".."));
        assert!(FilePattern::platform("keys/[ab].yaml").unwrap_err().contains("not classes"));
    }

    #[test]
    fn paths_outside_the_working_directory_match_nothing() {
        assert_eq!(relative_to(Path::new("/repo/keys/a.yaml"), Path::new("/repo")).as_deref(), Some("keys/a.yaml"));
        assert_eq!(relative_to(Path::new("/elsewhere/a.yaml"), Path::new("/repo")), None);
    }
}
