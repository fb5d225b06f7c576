//! Why an object may not do what it asks, in the words API.md fixes for conditions, Events and
//! JSON output.

use std::fmt;

use crate::api::validate::Issue;

pub use crate::api::Reason;

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
