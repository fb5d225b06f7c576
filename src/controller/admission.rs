//! Admission in the cluster: the spec is valid, the account exists, and the tenancy rules hold
//! for the object's namespace (its labels read from the API). Decided before the finalizer is
//! added and before every pass, deletion included.

use kube::Resource;

use super::context::{Context, ControllerError, Refusal};
use super::targets::{missing_account, resolve, resolve_recorded};
use crate::api::KmsKey;
use crate::api::Reason;
use crate::api::monitoring::AccountMonitoring;
use crate::api::tenancy;
use crate::api::validate::validate_key;
use crate::aws::AccountConfig;
use crate::engine::admission::{self, AccountRef, Tenant};
use crate::engine::alias::KeyTarget;
use crate::engine::on_key::{OnKey, OnKeyContext};

/// What an admitted key is reconciled with.
pub struct AdmittedKey {
    pub account: AccountConfig,
    pub tenant: Tenant,
    /// The account's `spec.monitoring`.
    pub monitoring: Option<AccountMonitoring>,
}

/// What an admitted alias or grant is reconciled with.
pub struct AdmittedOnKey {
    pub target: KeyTarget,
    pub tenant: Tenant,
    /// The accounts its status says it was in, other than the target's, that admit the namespace.
    pub previous_accounts: Vec<AccountConfig>,
}

/// What an alias's or grant's admission is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Converging it: every rule applies.
    Converge,
    /// Removing what it made (its deletion, or access the account no longer permits): removing
    /// opens nothing, so only whether the namespace may use the account applies, and the engine
    /// still removes only from keys of the namespace's own.
    Remove,
}

impl AdmittedOnKey {
    pub fn context(&self) -> OnKeyContext<'_> {
        OnKeyContext {
            target: Ok(&self.target),
            tenant: &self.tenant,
            previous_accounts: &self.previous_accounts,
            records: true,
        }
    }
}

fn invalid(issues: &[crate::api::validate::Issue]) -> Refusal {
    let message = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    Refusal::new(Reason::InvalidSpec, message, false)
}

/// Tenancy refusals are retried with backoff: the platform team may relabel the namespace or
/// widen the account's permissions, which the controller does not watch.
fn refused(refusals: &[tenancy::Refusal]) -> Refusal {
    match admission::summary(refusals) {
        Some((reason, message)) => Refusal::new(reason, message, true),
        None => Refusal::new(Reason::NotPermitted, "refused without a reason", true),
    }
}

fn namespace_of<K: Resource>(object: &K) -> String {
    object.meta().namespace.clone().unwrap_or_else(|| "default".to_owned())
}

impl Context {
    /// A key's admission. With `check_spec` false (deletion), an invalid spec does not stop it:
    /// the spec's validity does not decide whether its key may be deleted, its tenancy does.
    pub async fn admit_key(
        &self,
        key: &KmsKey,
        check_spec: bool,
    ) -> Result<Result<AdmittedKey, Refusal>, ControllerError> {
        let name = &key.spec.account_ref;
        let account = self.account(name).await?;
        if check_spec {
            let issues = validate_key(key, account.as_ref().map(|a| &a.spec));
            if !issues.is_empty() {
                return Ok(Err(invalid(&issues)));
            }
        }
        let Some(account) = account else {
            return Ok(Err(missing_account(name)));
        };
        let labels = self.namespace_labels(&namespace_of(key)).await?;
        let spec = &account.spec;
        Ok(match admission::admit_key(key, AccountRef { name, spec }, &labels) {
            Ok(tenant) => Ok(AdmittedKey {
                account: AccountConfig::from_spec(name, spec),
                tenant,
                monitoring: spec.monitoring.clone(),
            }),
            Err(refusals) => Err(refused(&refusals).about(account.object_ref(&()))),
        })
    }

    /// An alias's or grant's admission, against the account of the key it points at. For
    /// removal, the KmsKey may be gone (or have no key on record): then the key and account the
    /// object's status records are used, admitted like any other.
    pub async fn admit_on_key<T>(
        &self,
        object: &T,
        purpose: Purpose,
    ) -> Result<Result<AdmittedOnKey, Refusal>, ControllerError>
    where
        T: OnKey + Resource,
    {
        if purpose == Purpose::Converge {
            let issues = object.issues();
            if !issues.is_empty() {
                return Ok(Err(invalid(&issues)));
            }
        }
        let namespace = namespace_of(object);
        let (target, account) = match resolve(self, &namespace, object.pointer()).await? {
            Ok(resolved) => resolved,
            Err(refusal) => match object.recorded_target().filter(|_| purpose == Purpose::Remove) {
                Some(recorded) => match resolve_recorded(self, recorded).await? {
                    Ok(resolved) => resolved,
                    Err(_) => return Ok(Err(refusal)),
                },
                None => return Ok(Err(refusal)),
            },
        };
        let labels = self.namespace_labels(&namespace).await?;
        let account_ref = AccountRef { name: &target.account.name, spec: &account.spec };
        let admitted = match purpose {
            Purpose::Converge => admission::admit_on_key(object, account_ref, &labels),
            Purpose::Remove => admission::admit_removal(object, account_ref, &labels),
        };
        let tenant = match admitted {
            Ok(tenant) => tenant,
            Err(refusals) => return Ok(Err(refused(&refusals).about(account.object_ref(&())))),
        };
        let mut previous_accounts = Vec::new();
        for name in object.recorded_accounts().into_iter().filter(|name| *name != target.account.name) {
            if let Some(account) = self.admitted_account(name, &labels).await? {
                previous_accounts.push(account);
            }
        }
        Ok(Ok(AdmittedOnKey { target, tenant, previous_accounts }))
    }

    /// An account a status names, if it exists and admits the namespace: status is a record a
    /// tenant may be able to write, never a reason to use an account.
    async fn admitted_account(
        &self,
        name: &str,
        labels: &tenancy::Labels,
    ) -> Result<Option<AccountConfig>, ControllerError> {
        let Some(account) = self.account(name).await? else {
            return Ok(None);
        };
        let admitted = tenancy::selects(account.spec.allowed_namespaces.as_ref(), labels);
        Ok(admitted.then(|| AccountConfig::from_spec(name, &account.spec)))
    }
}
