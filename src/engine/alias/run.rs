//! A pass over one `KmsAlias`.

use super::KeyTarget;
use futures::FutureExt;

use super::plan::{AliasObservation, plan_alias, plan_alias_deletion};
use crate::api::Reason;
use crate::api::conditions::{ConditionUpdate, READY, is_true};
use crate::api::{Kind, KmsAlias, KmsAliasStatus, ObjectName};
use crate::aws::{ErrorKind, KmsClient};
use crate::engine::admission::Tenant;
use crate::engine::change::{Action, Change, KeyHandle};
use crate::engine::converge::Converged;
use crate::engine::ownership::{KeyOwner, owner_from};
use crate::engine::plan::Plan;
use crate::engine::report::{Outcome, Report, ready, ready_unless_refused, synced_condition};
use crate::engine::{Engine, EngineError, Mode, noting_unverified};

pub type AliasReport = Report<KmsAliasStatus>;

pub struct AliasRequest<'a> {
    pub alias: &'a KmsAlias,
    /// The key the alias points at, or why it cannot be resolved yet.
    pub target: Result<&'a KeyTarget, String>,
    /// What the alias's namespace may do, from admission.
    pub tenant: &'a Tenant,
    /// Whether the front door keeps a record of what the object held (the controller's status).
    pub records: bool,
}

/// The controller's record: the alias was Ready, with this name, in this account and region at
/// the last pass, so this object created or moved it then. `None` without records (local mode).
fn held_before(alias: &KmsAlias, records: bool, account: &str, region: &str) -> Option<bool> {
    records.then(|| {
        alias.status.as_ref().is_some_and(|status| {
            status.account_ref.as_deref() == Some(account)
                && status.name.as_deref() == Some(alias.spec.name.as_str())
                && status.region.as_deref() == Some(region)
                && status.target_key_id.is_some()
                && is_true(&status.conditions, READY) == Some(true)
        })
    })
}

fn object(alias: &KmsAlias) -> ObjectName {
    ObjectName::of(Kind::KmsAlias, &alias.metadata)
}

fn alias_ready(
    name: &str,
    region: &str,
    target: Option<&KeyHandle>,
    observed: Option<&AliasObservation>,
) -> ConditionUpdate {
    let current = observed.and_then(|o| o.entry.as_ref()).and_then(|e| e.target_key_id.as_deref());
    match (current, target.and_then(KeyHandle::id)) {
        (Some(current), Some(wanted)) if current == wanted => {
            ready(true, Reason::Available, format!("alias {name} in {region} points at key {current}"))
        }
        (Some(current), _) => {
            ready(false, Reason::PointsElsewhere, format!("alias {name} in {region} points at key {current}"))
        }
        (None, _) => ready(false, Reason::AliasNotFound, format!("alias {name} does not exist in {region}")),
    }
}

fn report(
    alias: &KmsAlias,
    place: (Option<&str>, Option<&str>),
    target: Option<&KeyHandle>,
    pass: Converged<AliasObservation>,
) -> AliasReport {
    let (account, region) = place;
    let name = &alias.spec.name;
    let region_text = region.unwrap_or("(unknown region)");
    // A refused alias reports nothing about keys it may not use.
    let observation = pass.observation.as_ref().filter(|_| !matches!(pass.outcome, Outcome::Refused(_)));
    let entry = observation.and_then(|o| o.entry.as_ref());
    let status = KmsAliasStatus {
        target_key_id: entry.and_then(|e| e.target_key_id.clone()),
        arn: entry.and_then(|e| e.arn.clone()),
        region: region.map(str::to_owned),
        account_ref: account.filter(|_| entry.is_some()).map(str::to_owned),
        name: entry.map(|_| name.clone()),
        ..KmsAliasStatus::default()
    };
    AliasReport {
        object: object(alias),
        status,
        ready: ready_unless_refused(&pass.outcome, alias_ready(name, region_text, target, observation)),
        synced: synced_condition(&pass.outcome, &pass.changes, &pass.plan.blockers),
        changes: pass.changes,
        blockers: pass.plan.blockers,
        notices: pass.plan.notices,
        outcome: pass.outcome,
    }
}

fn failed(alias: &KmsAlias, region: Option<&str>, error: EngineError) -> AliasReport {
    let pass =
        Converged { observation: None, changes: Vec::new(), plan: Plan::default(), outcome: Outcome::Failed(error) };
    report(alias, (None, region), None, pass)
}

impl Engine {
    /// Who owns `key_id`, as seen from `namespace` (for a replica without a tag of its own,
    /// its primary's owner). A key whose tags cannot be read is treated as another's: nothing
    /// proves it is the namespace's.
    pub(crate) async fn key_owner(
        &self,
        client: &KmsClient,
        key_id: &str,
        namespace: &str,
    ) -> Result<KeyOwner, EngineError> {
        let tags = self.listings.key_tags(client, key_id, || client.list_tags(key_id)).await;
        let owner = match tags {
            Ok(tags) => self.family_owner(client, key_id, &tags).await,
            Err(e) => Err(e),
        };
        match owner {
            Ok(owner) => {
                Ok(owner_from(owner.as_deref(), &self.settings.cluster_name, namespace).told(self.settings.show_owners))
            }
            // Nothing proves such a key is the namespace's.
            Err(e) if matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::NotFound) => Ok(KeyOwner::Foreign(None)),
            Err(e) => Err(EngineError::aws(e)),
        }
    }

    async fn observe_alias(
        &self,
        client: &KmsClient,
        alias: &KmsAlias,
        target: Option<&KeyHandle>,
        tenant: &Tenant,
        held_before: Option<bool>,
    ) -> Result<AliasObservation, EngineError> {
        let name = alias.spec.name.as_str();
        let aliases = self.listings.aliases(client).await.map_err(EngineError::aws)?;
        let entry = aliases.into_iter().find(|a| a.name == name);
        let wanted = target.and_then(KeyHandle::id);
        let target_owner = match wanted {
            Some(key_id) => Some(self.key_owner(client, key_id, &tenant.namespace).await?),
            None => None,
        };
        let current_owner = match entry.as_ref().and_then(|e| e.target_key_id.as_deref()) {
            Some(current) if Some(current) == wanted => target_owner.clone(),
            Some(current) => Some(self.key_owner(client, current, &tenant.namespace).await?),
            None => None,
        };
        Ok(AliasObservation { entry, target_owner, current_owner, held_before, adopt: alias.spec.adopt })
    }

    async fn execute_alias_changes(
        &self,
        client: &KmsClient,
        changes: &[Change],
        made: &mut Vec<Change>,
    ) -> Result<(), EngineError> {
        for change in changes {
            self.may_start(change)?;
            tracing::info!(region = %change.region, change = %change.summary(), "changing KMS");
            let target =
                change.key.id().ok_or_else(|| EngineError::Unresolved("the alias's key does not exist yet".into()))?;
            let (name, result) = match &change.action {
                Action::CreateAlias { name } => (name, client.create_alias(name, target).await.map(|()| Some(target))),
                Action::UpdateAlias { name, .. } => {
                    (name, client.update_alias(name, target).await.map(|()| Some(target)))
                }
                Action::DeleteAlias { name } => match client.delete_alias(name).await {
                    Err(e) if e.kind == ErrorKind::NotFound => (name, Ok(None)),
                    other => (name, other.map(|()| None)),
                },
                other => return Err(EngineError::Unresolved(format!("{other:?} is not an alias change"))),
            };
            match result {
                Ok(now) => {
                    self.listings.record_alias(client, name, now);
                    made.push(change.clone());
                }
                // Our earlier attempt may have made it, or someone else holds the name.
                Err(e) if e.kind == ErrorKind::AlreadyExists || e.kind.outcome_unknown() => {
                    self.listings.forget_aliases(client);
                    return Err(EngineError::Ambiguous(e));
                }
                Err(e) => return Err(EngineError::aws(e)),
            }
        }
        Ok(())
    }

    /// Converges (or plans) one `KmsAlias`.
    pub async fn reconcile_alias(&self, request: AliasRequest<'_>, mode: Mode) -> AliasReport {
        let target = request.target.as_ref().ok().copied();
        noting_unverified(self.reconcile_alias_pass(request, mode).await, target.map(|t| &t.account))
    }

    async fn reconcile_alias_pass(&self, request: AliasRequest<'_>, mode: Mode) -> AliasReport {
        let alias = request.alias;
        let target = match request.target {
            Ok(target) => target,
            Err(reason) => return failed(alias, alias.spec.region.as_deref(), EngineError::Unresolved(reason)),
        };
        let region = match target.region_for(alias.spec.region.as_deref()) {
            Ok(region) => region,
            Err(reason) => return failed(alias, alias.spec.region.as_deref(), EngineError::Unresolved(reason)),
        };
        if let Err(error) = self.verify_account(&target.account).await {
            return failed(alias, Some(&region), error);
        }
        let client = self.kms(&target.account, &region).await;
        let (name, tenant, account) = (&alias.spec.name, request.tenant, target.account.name.as_str());
        let pass = self
            .converge(
                mode,
                false,
                || {
                    let held = held_before(alias, request.records, account, &region);
                    self.observe_alias(&client, alias, Some(&target.key), tenant, held).boxed()
                },
                |observed| plan_alias(name, &region, &target.key, observed, tenant, account),
                |changes| {
                    let client = &client;
                    async move {
                        let mut made = Vec::new();
                        let result = self.execute_alias_changes(client, &changes, &mut made).await;
                        (made, result)
                    }
                    .boxed()
                },
            )
            .await;
        report(alias, (Some(account), Some(&region)), Some(&target.key), pass)
    }

    /// Deleting a `KmsAlias` deletes its alias (never one pointing at a key the operator does not own).
    pub async fn delete_alias(&self, request: AliasRequest<'_>, mode: Mode) -> AliasReport {
        let target = request.target.as_ref().ok().copied();
        noting_unverified(self.delete_alias_pass(request, mode).await, target.map(|t| &t.account))
    }

    async fn delete_alias_pass(&self, request: AliasRequest<'_>, mode: Mode) -> AliasReport {
        let alias = request.alias;
        let target = match request.target {
            Ok(target) => target,
            Err(reason) => return failed(alias, alias.spec.region.as_deref(), EngineError::Unresolved(reason)),
        };
        let region = target.region_for(alias.spec.region.as_deref()).unwrap_or_else(|_| target.primary_region.clone());
        if let Err(error) = self.verify_account(&target.account).await {
            return failed(alias, Some(&region), error);
        }
        let client = self.kms(&target.account, &region).await;
        let (name, tenant) = (&alias.spec.name, request.tenant);
        let observed = match self.observe_alias(&client, alias, Some(&target.key), tenant, None).await {
            Ok(observed) => observed,
            Err(error) => return failed(alias, Some(&region), error),
        };
        let plan = plan_alias_deletion(name, &region, Some(&target.key), &observed, tenant, &target.account.name);
        let mut pass = Converged { observation: Some(observed), changes: Vec::new(), plan, outcome: Outcome::InSync };
        if let Some(refusal) = pass.plan.refusal() {
            pass.outcome = Outcome::Refused(refusal);
        } else if !pass.plan.changes.is_empty() {
            if mode == Mode::Plan {
                pass.changes = pass.plan.changes.clone();
                pass.outcome = Outcome::Pending;
            } else {
                let changes = pass.plan.changes.clone();
                pass.outcome = match self.execute_alias_changes(&client, &changes, &mut pass.changes).await {
                    Ok(()) => Outcome::Changed,
                    Err(error) => Outcome::Failed(error),
                };
                if let Some(observation) = pass.observation.as_mut().filter(|_| pass.outcome == Outcome::Changed) {
                    observation.entry = None;
                }
            }
        }
        report(alias, (Some(&target.account.name), Some(&region)), Some(&target.key), pass)
    }
}
