//! Why an object may not do what it asks, in the words API.md fixes for conditions, Events and
//! JSON output.

use std::fmt;

use crate::api::validate::Issue;

/// The reason a tenancy rule refuses an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The object's namespace may not use the `AwsAccount`.
    NamespaceNotAllowed,
    /// The key belongs to another namespace (or another cluster).
    ForeignKey,
    /// The account does not permit what the object declares.
    NotPermitted,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NamespaceNotAllowed => "NamespaceNotAllowed",
            Reason::ForeignKey => "ForeignKey",
            Reason::NotPermitted => "NotPermitted",
        }
    }

    /// The reason a condition or finding names, back as a `Reason`.
    pub fn parse(reason: &str) -> Option<Reason> {
        [Reason::NamespaceNotAllowed, Reason::ForeignKey, Reason::NotPermitted]
            .into_iter()
            .find(|r| r.as_str() == reason)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused rule: its reason, and the issue that names object, field, problem and fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub issue: Issue,
}

impl Refusal {
    pub fn new(reason: Reason, issue: Issue) -> Self {
        Refusal { reason, issue }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.issue)
    }
}
