//! A plan: the changes that make live state match a spec, and what stops them.

use super::change::{Change, Finding};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// What stops convergence until a human acts.
    pub blockers: Vec<Finding>,
    /// What the user should know but does not stop convergence.
    pub notices: Vec<Finding>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.blockers.is_empty()
    }

    pub fn blocked(reason: &'static str, message: String) -> Self {
        Plan { blockers: vec![Finding::new(reason, message)], ..Plan::default() }
    }

    pub fn notice(reason: &'static str, message: String) -> Self {
        Plan { notices: vec![Finding::new(reason, message)], ..Plan::default() }
    }
}
