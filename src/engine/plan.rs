//! A plan: the changes that make live state match a spec, and what stops them.

use super::change::{Change, Finding};
use crate::api::Reason;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Tenancy rules the object breaks (API.md, "Tenancy"): nothing is written for it, and only
    /// a change of the spec or of the account's permissions can help.
    pub refusals: Vec<Finding>,
    /// What stops convergence until a human acts.
    pub blockers: Vec<Finding>,
    /// What the user should know but does not stop convergence.
    pub notices: Vec<Finding>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.blockers.is_empty() && self.refusals.is_empty()
    }

    pub fn blocked(reason: Reason, message: String) -> Self {
        Plan { blockers: vec![Finding::new(reason, message)], ..Plan::default() }
    }

    pub fn refused(reason: Reason, message: String) -> Self {
        Plan { refusals: vec![Finding::new(reason, message)], ..Plan::default() }
    }

    pub fn notice(reason: Reason, message: String) -> Self {
        Plan { notices: vec![Finding::new(reason, message)], ..Plan::default() }
    }

    /// All refusals as one finding: the first one's reason, every message.
    pub fn refusal(&self) -> Option<Finding> {
        let first = self.refusals.first()?;
        let message = self.refusals.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; ");
        Some(Finding::new(first.reason, message))
    }
}
