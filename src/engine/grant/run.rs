//! A pass over one `KmsGrant`.

use futures::FutureExt;

use super::moved::{Retired, moved_from};
use super::plan::{desired_grant, matches, plan_grant, plan_grant_deletion};
use crate::api::GrantRecord;
use crate::api::Reason;
use crate::api::{Kind, KmsGrant, KmsGrantStatus, ObjectName};
use crate::aws::model::{GrantEntry, NewGrant};
use crate::aws::{AccountConfig, ErrorKind, KmsClient};
use crate::engine::admission::Tenant;
use crate::engine::alias::{KeyTarget, target_refusal};
use crate::engine::change::{Action, Change, GrantPlan, KeyHandle};
use crate::engine::converge::Converged;
use crate::engine::on_key::OnKeyContext;
use crate::engine::ownership::KeyOwner;
use crate::engine::plan::Plan;
use crate::engine::report::{Outcome, Report, ready, ready_unless_refused, synced_condition};
use crate::engine::{Engine, EngineError, Mode, noting_unverified};

pub type GrantReport = Report<KmsGrantStatus>;

pub struct GrantRequest<'a> {
    pub grant: &'a KmsGrant,
    /// The key the grant is on, or why it cannot be resolved yet.
    pub target: Result<&'a KeyTarget, String>,
    /// What the grant's namespace may do, from admission.
    pub tenant: &'a Tenant,
    /// The accounts of keys the grant was on, other than the target's, that the namespace may use.
    pub previous_accounts: &'a [AccountConfig],
}

impl<'a> GrantRequest<'a> {
    pub fn new(grant: &'a KmsGrant, context: OnKeyContext<'a>) -> Self {
        GrantRequest {
            grant,
            target: context.target,
            tenant: context.tenant,
            previous_accounts: context.previous_accounts,
        }
    }
}

/// The grants on the key, and who owns the key as seen from the grant's namespace (`None`
/// while the key is yet to be created).
pub struct GrantObservation {
    grants: Vec<GrantEntry>,
    owner: Option<KeyOwner>,
}

/// Refused when the key is not one the namespace may grant on; else `plan`.
fn guarded(observed: &GrantObservation, target: &KeyTarget, tenant: &Tenant, plan: impl FnOnce() -> Plan) -> Plan {
    let refused =
        target.key.id().and_then(|id| target_refusal(observed.owner.as_ref(), id, tenant, &target.account.name));
    refused.unwrap_or_else(plan)
}

fn object(grant: &KmsGrant) -> ObjectName {
    ObjectName::of(Kind::KmsGrant, &grant.metadata)
}

fn named<'a>(grants: &'a [GrantEntry], name: &str) -> Vec<&'a GrantEntry> {
    grants.iter().filter(|g| g.name.as_deref() == Some(name)).collect()
}

fn report(
    grant: &KmsGrant,
    place: Place<'_>,
    want: &GrantPlan,
    pass: Converged<GrantObservation>,
    left: Vec<GrantRecord>,
) -> GrantReport {
    let Place { region, account, target } = place;
    let refused = matches!(pass.outcome, Outcome::Refused(_));
    // A refused grant reports nothing about a key it may not use.
    let grants = pass.observation.as_ref().filter(|_| !refused).map(|o| o.grants.as_slice()).unwrap_or_default();
    let live = named(grants, &want.name);
    let matching = live.iter().find(|g| matches(g, want));
    let key_id = target.and_then(KeyHandle::id);
    let ready = match (matching, key_id, left.first()) {
        (Some(_), Some(_), Some(old)) => ready(
            false,
            Reason::PreviousGrantLive,
            format!(
                "the grant this KmsGrant had on key {} in {} ({}) is still live; it is retired on the next pass",
                old.key_id, old.region, old.grant_id
            ),
        ),
        (Some(g), Some(key), None) => {
            ready(true, Reason::Available, format!("grant {} ({}) is on key {key}", want.name, g.grant_id))
        }
        _ => {
            ready(false, Reason::GrantNotFound, format!("no grant {} with the declared permissions exists", want.name))
        }
    };
    GrantReport {
        object: object(grant),
        status: KmsGrantStatus {
            grant_id: matching.map(|g| g.grant_id.clone()),
            key_id: key_id.filter(|_| !refused).map(str::to_owned),
            region: region.map(str::to_owned),
            account_ref: account.filter(|_| !refused).map(str::to_owned),
            superseded: left,
            ..KmsGrantStatus::default()
        },
        ready: ready_unless_refused(&pass.outcome, ready),
        synced: synced_condition(&pass.outcome, &pass.changes, &pass.plan.blockers),
        changes: pass.changes,
        blockers: pass.plan.blockers,
        notices: pass.plan.notices,
        outcome: pass.outcome,
    }
}

/// Where the grant is reported to be: its region, the AwsAccount of its key, the key.
#[derive(Clone, Copy)]
struct Place<'a> {
    region: Option<&'a str>,
    account: Option<&'a str>,
    target: Option<&'a KeyHandle>,
}

fn failed(grant: &KmsGrant, want: &GrantPlan, error: EngineError) -> GrantReport {
    let pass =
        Converged { observation: None, changes: Vec::new(), plan: Plan::default(), outcome: Outcome::Failed(error) };
    let place = Place { region: grant.spec.region.as_deref(), account: None, target: None };
    // What is still to retire stays on record.
    let left = grant.status.as_ref().map(|s| s.superseded.clone()).unwrap_or_default();
    report(grant, place, want, pass, left)
}

/// Folds the retirement of a moved grant's old grants into the pass.
fn settle_move(pass: &mut Converged<GrantObservation>, retired: Retired, mode: Mode) {
    let settled = matches!(pass.outcome, Outcome::InSync | Outcome::Changed);
    pass.changes.extend(retired.changes.iter().cloned());
    if let Some(error) = retired.error {
        pass.outcome = Outcome::Failed(error);
    } else if !retired.changes.is_empty() && settled {
        pass.outcome = if mode == Mode::Plan { Outcome::Pending } else { Outcome::Changed };
    }
}

impl Engine {
    async fn observe_grants(
        &self,
        client: &KmsClient,
        key: &KeyHandle,
        tenant: &Tenant,
    ) -> Result<GrantObservation, EngineError> {
        let Some(key_id) = key.id() else {
            return Ok(GrantObservation { grants: Vec::new(), owner: None });
        };
        let owner = self.key_owner(client, key_id, &tenant.namespace).await?;
        // A key the namespace may not use is not listed: its grants are none of its business.
        let grants = match &owner {
            KeyOwner::Namespace => self.listings.grants(client, key_id).await.map_err(EngineError::aws)?,
            KeyOwner::Unowned if tenant.may_adopt => {
                self.listings.grants(client, key_id).await.map_err(EngineError::aws)?
            }
            _ => Vec::new(),
        };
        Ok(GrantObservation { grants, owner: Some(owner) })
    }

    pub(super) async fn execute_grant_changes(
        &self,
        client: &KmsClient,
        changes: &[Change],
        made: &mut Vec<Change>,
    ) -> Result<(), EngineError> {
        for change in changes {
            self.may_start(change)?;
            tracing::info!(region = %change.region, change = %change.summary(), "changing KMS");
            let key_id =
                change.key.id().ok_or_else(|| EngineError::Unresolved("the grant's key does not exist yet".into()))?;
            match &change.action {
                Action::CreateGrant(grant) => {
                    let request = NewGrant {
                        name: grant.name.clone(),
                        grantee_principal: grant.grantee_principal.clone(),
                        retiring_principal: grant.retiring_principal.clone(),
                        operations: grant.operations.clone(),
                        constraints: grant.constraints.clone(),
                    };
                    let subject = format!("{key_id}/{}", grant.name);
                    match self.while_iam_propagates(&subject, || client.create_grant(key_id, &request)).await {
                        Ok(created) => {
                            if let Some(token) = created.token {
                                self.grant_tokens.remember(&created.grant_id, token);
                            }
                            let entry = GrantEntry {
                                grant_id: created.grant_id,
                                name: Some(grant.name.clone()),
                                grantee_principal: Some(grant.grantee_principal.clone()),
                                retiring_principal: grant.retiring_principal.clone(),
                                operations: grant.operations.clone(),
                                constraints: grant.constraints.clone(),
                            };
                            self.listings.record_grant(client, key_id, Some(entry), None);
                        }
                        Err(EngineError::Aws { source, .. }) if source.kind.outcome_unknown() => {
                            self.listings.forget_grants(client, key_id);
                            return Err(EngineError::Ambiguous(source));
                        }
                        Err(error) => return Err(error),
                    }
                }
                Action::RetireGrant { grant_id, .. } => {
                    let result = match client.retire_grant(key_id, grant_id).await {
                        // Only the retiring principal, the grantee or the key's account may retire;
                        // a key administrator revokes instead.
                        Err(e) if e.kind == ErrorKind::AccessDenied => client.revoke_grant(key_id, grant_id).await,
                        other => other,
                    };
                    match result {
                        Ok(()) => {}
                        Err(e) if e.kind == ErrorKind::NotFound => {}
                        Err(e) => return Err(EngineError::aws(e)),
                    }
                    self.grant_tokens.forget(grant_id);
                    self.listings.record_grant(client, key_id, None, Some(grant_id));
                }
                other => return Err(EngineError::Unresolved(format!("{other:?} is not a grant change"))),
            }
            made.push(change.clone());
        }
        Ok(())
    }

    /// Converges (or plans) one `KmsGrant`.
    pub async fn reconcile_grant(&self, request: GrantRequest<'_>, mode: Mode) -> GrantReport {
        let target = request.target.as_ref().ok().copied();
        noting_unverified(self.reconcile_grant_pass(request, mode).await, target.map(|t| &t.account))
    }

    async fn reconcile_grant_pass(&self, request: GrantRequest<'_>, mode: Mode) -> GrantReport {
        let grant = request.grant;
        let want = desired_grant(&grant.spec);
        let target = match request.target {
            Ok(target) => target,
            Err(reason) => return failed(grant, &want, EngineError::Unresolved(reason)),
        };
        let region = match target.region_for(grant.spec.region.as_deref()) {
            Ok(region) => region,
            Err(reason) => return failed(grant, &want, EngineError::Unresolved(reason)),
        };
        if let Err(error) = self.verify_account(&target.account).await {
            return failed(grant, &want, error);
        }
        let client = self.kms(&target.account, &region).await;
        let tenant = request.tenant;
        let pass = self
            .converge(
                mode,
                false,
                || self.observe_grants(&client, &target.key, tenant).boxed(),
                |observed| {
                    guarded(observed, target, tenant, || {
                        plan_grant(&want, &region, &target.key, &named(&observed.grants, &want.name))
                    })
                },
                |changes| {
                    let client = &client;
                    async move {
                        let mut made = Vec::new();
                        let result = self.execute_grant_changes(client, &changes, &mut made).await;
                        (made, result)
                    }
                    .boxed()
                },
            )
            .await;
        let mut pass = pass;
        // The old grants of a moved grant go once the new one is in place, and not before.
        let moved = moved_from(grant, target, &region);
        let left = if !moved.is_empty() && matches!(pass.outcome, Outcome::InSync | Outcome::Changed | Outcome::Pending)
        {
            let retired = self.retire_moved(&moved, &want.name, target, request.previous_accounts, tenant, mode).await;
            let left = retired.left.clone();
            settle_move(&mut pass, retired, mode);
            left
        } else {
            moved
        };
        let place = Place { region: Some(&region), account: Some(&target.account.name), target: Some(&target.key) };
        let mut report = report(grant, place, &want, pass, left);
        report.status.grant_token =
            self.grant_tokens.token_of(report.status.grant_id.as_deref(), grant.status.as_ref());
        report
    }

    /// Deleting a `KmsGrant` retires its grant (or revokes it where retiring is not allowed).
    pub async fn delete_grant(&self, request: GrantRequest<'_>, mode: Mode) -> GrantReport {
        let target = request.target.as_ref().ok().copied();
        noting_unverified(self.delete_grant_pass(request, mode).await, target.map(|t| &t.account))
    }

    async fn delete_grant_pass(&self, request: GrantRequest<'_>, mode: Mode) -> GrantReport {
        let grant = request.grant;
        let want = desired_grant(&grant.spec);
        let target = match request.target {
            Ok(target) => target,
            Err(reason) => return failed(grant, &want, EngineError::Unresolved(reason)),
        };
        let region = target.region_for(grant.spec.region.as_deref()).unwrap_or_else(|_| target.primary_region.clone());
        if let Err(error) = self.verify_account(&target.account).await {
            return failed(grant, &want, error);
        }
        let client = self.kms(&target.account, &region).await;
        let observed = match self.observe_grants(&client, &target.key, request.tenant).await {
            Ok(observed) => observed,
            Err(error) => return failed(grant, &want, error),
        };
        let plan = guarded(&observed, target, request.tenant, || {
            plan_grant_deletion(&want.name, &region, &target.key, &named(&observed.grants, &want.name))
        });
        let mut pass = Converged { observation: None, changes: Vec::new(), plan, outcome: Outcome::InSync };
        if let Some(refusal) = pass.plan.refusal() {
            pass.outcome = Outcome::Refused(refusal);
        } else if !pass.plan.changes.is_empty() {
            let changes = pass.plan.changes.clone();
            pass.outcome = if mode == Mode::Plan {
                pass.changes = changes;
                Outcome::Pending
            } else {
                match self.execute_grant_changes(&client, &changes, &mut pass.changes).await {
                    Ok(()) => Outcome::Changed,
                    Err(error) => Outcome::Failed(error),
                }
            };
        }
        if pass.outcome != Outcome::Changed {
            pass.observation = Some(observed);
        }
        // Grants left on keys it moved away from go with it.
        let moved = moved_from(grant, target, &region);
        let mut left = Vec::new();
        if !moved.is_empty() && !matches!(pass.outcome, Outcome::Refused(_) | Outcome::Failed(_)) {
            let retired =
                self.retire_moved(&moved, &want.name, target, request.previous_accounts, request.tenant, mode).await;
            left = retired.left.clone();
            settle_move(&mut pass, retired, mode);
        }
        let place = Place { region: Some(&region), account: Some(&target.account.name), target: Some(&target.key) };
        report(grant, place, &want, pass, left)
    }
}
