//! The loop every kind shares: observe, plan, and (when allowed) execute and look again, until
//! the plan is empty or a bounded number of rounds has passed.

use futures::future::BoxFuture;

use super::change::Change;
use super::plan::Plan;
use super::report::Outcome;
use super::{Engine, EngineError, Mode};

/// Where a pass ended: the last observation, the changes made (or pending), the last plan.
pub struct Converged<O> {
    pub observation: Option<O>,
    pub changes: Vec<Change>,
    pub plan: Plan,
    pub outcome: Outcome,
}

/// Executes a plan's changes; returns the changes it made (also when it failed part-way).
pub(crate) type Execution<'a> = BoxFuture<'a, (Vec<Change>, Result<(), EngineError>)>;

impl Engine {
    /// The steps are boxed `Send` futures rather than async closures so that the whole pass
    /// stays `Send` for the controller's spawned reconciles.
    pub(crate) async fn converge<'a, O>(
        &self,
        mode: Mode,
        observe_only: bool,
        mut observe: impl FnMut() -> BoxFuture<'a, Result<O, EngineError>>,
        plan_for: impl Fn(&O) -> Plan,
        mut execute: impl FnMut(Vec<Change>) -> Execution<'a>,
    ) -> Converged<O> {
        let mut made = Vec::new();
        let mut round = 0;
        loop {
            round += 1;
            let observation = match observe().await {
                Ok(observation) => observation,
                Err(error) => {
                    return Converged {
                        observation: None,
                        changes: made,
                        plan: Plan::default(),
                        outcome: Outcome::Failed(error),
                    };
                }
            };
            let plan = plan_for(&observation);
            let done = |changes: Vec<Change>, plan: Plan, outcome: Outcome| Converged {
                observation: Some(observation),
                changes,
                plan,
                outcome,
            };
            if let Some(refusal) = plan.refusal() {
                return done(made, plan, Outcome::Refused(refusal));
            }
            if !plan.blockers.is_empty() {
                return done(made, plan, Outcome::Blocked);
            }
            if plan.changes.is_empty() {
                let outcome = if made.is_empty() { Outcome::InSync } else { Outcome::Changed };
                return done(made, plan, outcome);
            }
            if observe_only {
                return done(plan.changes.clone(), plan, Outcome::Drifted);
            }
            if mode == Mode::Plan {
                return done(plan.changes.clone(), plan, Outcome::Pending);
            }
            if round > self.settings.max_rounds {
                let remaining = plan.changes.iter().map(Change::summary).collect::<Vec<_>>().join("; ");
                let error = EngineError::NotConverged { rounds: self.settings.max_rounds, remaining };
                return done(made, plan, Outcome::Failed(error));
            }
            let (executed, result) = execute(plan.changes.clone()).await;
            made.extend(executed);
            match result {
                Ok(()) => {}
                // The pass spent its wait budget: it ends here and is looked at again later.
                Err(error @ EngineError::StillWaiting { .. }) => return done(made, plan, Outcome::Failed(error)),
                // A throttle that outlasted its retries, or a write whose outcome is unknown:
                // look again before deciding anything.
                Err(error) if error.is_transient() => {
                    tracing::warn!(error = %error, round, "transient failure; observing again before retrying");
                }
                Err(error) => return done(made, plan, Outcome::Failed(error)),
            }
        }
    }
}
