//! KmsAlias and KmsGrant alike: resources that live on a key which the front door resolves
//! (from a KmsKey of the same run or cluster, or from `targetKeyId`), so both front doors
//! handle them with one piece of code.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::admission::Tenant;
use super::alias::{AliasRequest, KeyTarget};
use super::grant::GrantRequest;
use super::{Engine, Mode, Report};
use crate::api::status::CommonStatus;
use crate::api::tenancy::{self, Permitted, Refusal};
use crate::api::validate::{Issue, validate_alias, validate_grant};
use crate::api::{KeyPointer, Kind, KmsAlias, KmsGrant, ObjectName};
use crate::aws::AccountConfig;

/// What a front door hands the engine with an alias or grant.
pub struct OnKeyContext<'a> {
    /// The key it points at, or why that cannot be resolved yet.
    pub target: Result<&'a KeyTarget, String>,
    /// What its namespace may do, from admission.
    pub tenant: &'a Tenant,
    /// The accounts its status says it was last in, other than the target's (a grant that moved
    /// between accounts leaves its old grant there), where the front door admitted the namespace.
    pub previous_accounts: &'a [AccountConfig],
    /// Whether the front door keeps a record of what the object held (the controller's status).
    pub records: bool,
}

/// Where its status says an alias or grant is: enough to find and remove it once the KmsKey it
/// pointed at is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub key_id: &'a str,
}

pub trait OnKey: Send + Sync {
    /// Whether a refusal by its account's rules takes back what it made: a grant gives access,
    /// which an account that no longer permits it must not leave; an alias gives none.
    const WITHDRAWN_WHEN_REFUSED: bool;

    type Status: CommonStatus;
    const KIND: Kind;

    fn pointer(&self) -> KeyPointer<'_>;
    fn object_name(&self) -> ObjectName;
    /// The alias's or grant's own name in KMS.
    fn name_in_kms(&self) -> &str;
    fn current_status(&self) -> Option<&Self::Status>;
    fn issues(&self) -> Vec<Issue>;
    /// The tenancy rules that need no call to AWS, against the account of the key.
    fn refusals(&self, object: &ObjectName, permitted: Permitted<'_>) -> Vec<Refusal>;
    /// The `AwsAccount`s its status says it was in, if it keeps such a record (grants).
    fn recorded_accounts(&self) -> Vec<&str> {
        Vec::new()
    }
    fn recorded_target(&self) -> Option<Recorded<'_>>;
    /// Whether it asks to take over what the operator did not create (`KmsAlias.spec.adopt`).
    fn adopts(&self) -> bool {
        false
    }
    fn converge<'a>(
        &'a self,
        engine: &'a Engine,
        context: OnKeyContext<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Report<Self::Status>>;
    fn remove<'a>(
        &'a self,
        engine: &'a Engine,
        context: OnKeyContext<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Report<Self::Status>>;
    /// What a status table shows in its ID and STATE columns.
    fn columns(&self, status: &Self::Status) -> (Option<String>, Option<String>);
}

impl OnKey for KmsAlias {
    type Status = crate::api::KmsAliasStatus;
    const KIND: Kind = Kind::KmsAlias;
    const WITHDRAWN_WHEN_REFUSED: bool = false;

    fn recorded_target(&self) -> Option<Recorded<'_>> {
        let status = self.status.as_ref()?;
        Some(Recorded {
            account: status.account_ref.as_deref()?,
            region: status.region.as_deref()?,
            key_id: status.target_key_id.as_deref()?,
        })
    }

    fn pointer(&self) -> KeyPointer<'_> {
        self.spec.pointer()
    }

    fn object_name(&self) -> ObjectName {
        ObjectName::of(Self::KIND, &self.metadata)
    }

    fn name_in_kms(&self) -> &str {
        &self.spec.name
    }

    fn current_status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }

    fn issues(&self) -> Vec<Issue> {
        validate_alias(self)
    }

    fn refusals(&self, object: &ObjectName, permitted: Permitted<'_>) -> Vec<Refusal> {
        let mut refusals = tenancy::check_alias_name(object, &self.spec.name, permitted);
        refusals.extend(tenancy::check_target_account(object, &self.spec.pointer(), permitted));
        refusals
    }

    fn converge<'a>(
        &'a self,
        engine: &'a Engine,
        context: OnKeyContext<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Report<Self::Status>> {
        engine
            .reconcile_alias(
                AliasRequest { alias: self, target: context.target, tenant: context.tenant, records: context.records },
                mode,
            )
            .boxed()
    }

    fn remove<'a>(
        &'a self,
        engine: &'a Engine,
        context: OnKeyContext<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Report<Self::Status>> {
        engine
            .delete_alias(
                AliasRequest { alias: self, target: context.target, tenant: context.tenant, records: context.records },
                mode,
            )
            .boxed()
    }

    fn columns(&self, status: &Self::Status) -> (Option<String>, Option<String>) {
        (Some(self.spec.name.clone()), status.target_key_id.as_ref().map(|t| format!("-> {t}")))
    }

    fn adopts(&self) -> bool {
        self.spec.adopt
    }
}

impl OnKey for KmsGrant {
    type Status = crate::api::KmsGrantStatus;
    const KIND: Kind = Kind::KmsGrant;
    const WITHDRAWN_WHEN_REFUSED: bool = true;

    fn recorded_target(&self) -> Option<Recorded<'_>> {
        let status = self.status.as_ref()?;
        Some(Recorded {
            account: status.account_ref.as_deref()?,
            region: status.region.as_deref()?,
            key_id: status.key_id.as_deref()?,
        })
    }

    fn pointer(&self) -> KeyPointer<'_> {
        self.spec.pointer()
    }

    fn object_name(&self) -> ObjectName {
        ObjectName::of(Self::KIND, &self.metadata)
    }

    fn name_in_kms(&self) -> &str {
        &self.spec.name
    }

    fn current_status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }

    fn issues(&self) -> Vec<Issue> {
        validate_grant(self)
    }

    fn refusals(&self, object: &ObjectName, permitted: Permitted<'_>) -> Vec<Refusal> {
        tenancy::check_grant(self, object, permitted)
    }

    fn converge<'a>(
        &'a self,
        engine: &'a Engine,
        context: OnKeyContext<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Report<Self::Status>> {
        engine.reconcile_grant(GrantRequest::new(self, context), mode).boxed()
    }

    fn remove<'a>(
        &'a self,
        engine: &'a Engine,
        context: OnKeyContext<'a>,
        mode: Mode,
    ) -> BoxFuture<'a, Report<Self::Status>> {
        engine.delete_grant(GrantRequest::new(self, context), mode).boxed()
    }

    fn columns(&self, status: &Self::Status) -> (Option<String>, Option<String>) {
        (status.grant_id.clone(), Some(self.spec.name.clone()))
    }

    fn recorded_accounts(&self) -> Vec<&str> {
        let Some(status) = self.status.as_ref() else {
            return Vec::new();
        };
        let mut accounts: Vec<&str> =
            status.superseded.iter().map(|s| s.account_ref.as_str()).chain(status.account_ref.as_deref()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        accounts
    }
}
