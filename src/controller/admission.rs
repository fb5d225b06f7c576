//! Admission in the cluster: the spec is valid, the account exists, and the tenancy rules hold
//! for the object's namespace (its labels read from the API). Decided before the finalizer is
//! added and before every pass, deletion included.

use kube::Resource;

use super::context::{Context, ControllerError, Refusal};
use super::targets::resolve;
use crate::api::monitoring::AccountMonitoring;
use crate::api::tenancy;
use crate::api::validate::validate_key;
use crate::api::{AwsAccount, KmsKey};
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
    /// The account its status says it was last in, when another than the target's.
    pub previous_account: Option<AccountConfig>,
}

impl AdmittedOnKey {
    pub fn context(&self) -> OnKeyContext<'_> {
        OnKeyContext {
            target: Ok(&self.target),
            tenant: &self.tenant,
            previous_account: self.previous_account.as_ref(),
        }
    }
}

fn invalid(issues: &[crate::api::validate::Issue]) -> Refusal {
    let message = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    Refusal::new("InvalidSpec", message, false)
}

/// Tenancy refusals are retried with backoff: the platform team may relabel the namespace or
/// widen the account's permissions, which the controller does not watch.
fn refused(refusals: &[tenancy::Refusal]) -> Refusal {
    match admission::summary(refusals) {
        Some((reason, message)) => Refusal::new(reason, message, true),
        None => Refusal::new("NotPermitted", "refused without a reason", true),
    }
}

fn namespace_of<K: Resource>(object: &K) -> String {
    object.meta().namespace.clone().unwrap_or_else(|| "default".to_owned())
}

impl Context {
    pub async fn account(&self, name: &str) -> Result<Option<AwsAccount>, ControllerError> {
        let accounts: kube::Api<AwsAccount> = kube::Api::all(self.client.clone());
        Ok(accounts.get_opt(name).await?)
    }

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
            return Ok(Err(Refusal::new(
                "AccountNotFound",
                format!("AwsAccount {name} does not exist: create it, or fix spec.accountRef"),
                true,
            )));
        };
        let labels = self.namespace_labels(&namespace_of(key)).await?;
        let spec = &account.spec;
        Ok(match admission::admit_key(key, AccountRef { name, spec }, &labels) {
            Ok(tenant) => Ok(AdmittedKey {
                account: AccountConfig::from_spec(name, spec),
                tenant,
                monitoring: spec.monitoring.clone(),
            }),
            Err(refusals) => Err(refused(&refusals)),
        })
    }

    /// An alias's or grant's admission, against the account of the key it points at.
    pub async fn admit_on_key<T>(
        &self,
        object: &T,
        check_spec: bool,
    ) -> Result<Result<AdmittedOnKey, Refusal>, ControllerError>
    where
        T: OnKey + Resource,
    {
        if check_spec {
            let issues = object.issues();
            if !issues.is_empty() {
                return Ok(Err(invalid(&issues)));
            }
        }
        let namespace = namespace_of(object);
        let (target, account) = match resolve(self, &namespace, object.pointer()).await? {
            Ok(resolved) => resolved,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let labels = self.namespace_labels(&namespace).await?;
        let account_ref = AccountRef { name: &target.account.name, spec: &account.spec };
        let tenant = match admission::admit_on_key(object, account_ref, &labels) {
            Ok(tenant) => tenant,
            Err(refusals) => return Ok(Err(refused(&refusals))),
        };
        let previous_account = match object.recorded_account().filter(|name| *name != target.account.name) {
            Some(name) => self.account(name).await?.map(|a| AccountConfig::from_spec(name, &a.spec)),
            None => None,
        };
        Ok(Ok(AdmittedOnKey { target, tenant, previous_account }))
    }
}
