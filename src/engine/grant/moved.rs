//! A grant that moves (its `keyRef`, `targetKeyId`, `accountRef` or `region` changes) would leave
//! its old grant live on the old key: access never revoked. Where the old grant is comes from
//! status (the key, region, account and id it was on, and `superseded` for old grants an earlier
//! pass could not retire), so a crash between creating the new grant and retiring the old one
//! still retires it on the next pass, in any process. The old grant is retired only when it is
//! this object's (same name, on a key its namespace may use); otherwise it is left and reported.

use crate::api::{GrantRecord, KmsGrant};
use crate::aws::AccountConfig;
use crate::engine::admission::Tenant;
use crate::engine::alias::{KeyTarget, target_refusal};
use crate::engine::change::{Action, Change, KeyHandle};
use crate::engine::{Engine, EngineError, Mode};

/// The grants this object's status places somewhere other than `target` in `region`.
pub fn moved_from(grant: &KmsGrant, target: &KeyTarget, region: &str) -> Vec<GrantRecord> {
    let Some(status) = grant.status.as_ref() else {
        return Vec::new();
    };
    let current = || {
        Some(GrantRecord {
            account_ref: status.account_ref.clone()?,
            region: status.region.clone()?,
            key_id: status.key_id.clone()?,
            grant_id: status.grant_id.clone()?,
        })
    };
    let here = |r: &GrantRecord| {
        r.account_ref == target.account.name && r.region == region && target.key.id() == Some(r.key_id.as_str())
    };
    let mut records: Vec<GrantRecord> =
        status.superseded.iter().cloned().chain(current()).filter(|r| !here(r)).collect();
    records.dedup();
    records
}

/// What became of the old grants of a moved grant.
#[derive(Default)]
pub struct Retired {
    /// Retirements made (apply) or due (plan).
    pub changes: Vec<Change>,
    /// Old grants still live, for status.
    pub left: Vec<GrantRecord>,
    pub error: Option<EngineError>,
}

impl Engine {
    /// Retires (or, in `Mode::Plan`, plans to retire) the old grants of a moved grant.
    pub(super) async fn retire_moved(
        &self,
        records: &[GrantRecord],
        name: &str,
        target: &KeyTarget,
        previous_accounts: &[AccountConfig],
        tenant: &Tenant,
        mode: Mode,
    ) -> Retired {
        let mut retired = Retired::default();
        for record in records {
            if let Err(error) =
                self.retire_one(record, name, target, previous_accounts, tenant, mode, &mut retired.changes).await
            {
                retired.left.push(record.clone());
                retired.error.get_or_insert(error);
            }
        }
        retired
    }

    // The arguments are one retirement's inputs, each needed once.
    #[allow(clippy::too_many_arguments)]
    async fn retire_one(
        &self,
        record: &GrantRecord,
        name: &str,
        target: &KeyTarget,
        previous_accounts: &[AccountConfig],
        tenant: &Tenant,
        mode: Mode,
        changes: &mut Vec<Change>,
    ) -> Result<(), EngineError> {
        let account = if record.account_ref == target.account.name {
            &target.account
        } else {
            // Status is a record, not an authority: an account it names is used only when the
            // front door admitted the namespace to it, and only after the credentials prove to
            // be that account.
            let account = previous_accounts.iter().find(|a| a.name == record.account_ref).ok_or_else(|| {
                EngineError::Unresolved(format!(
                    "grant {} on key {} was left in AwsAccount {}, which does not exist or does not admit namespace {}: it is not retired; ask the platform team to admit the namespace there (or recreate the AwsAccount), or retire the grant by hand",
                    record.grant_id, record.key_id, record.account_ref, tenant.namespace
                ))
            })?;
            self.verify_account(account).await?;
            account
        };
        let client = self.kms(account, &record.region).await;
        let owner = self.key_owner(&client, &record.key_id, &tenant.namespace).await?;
        if let Some(refused) = target_refusal(Some(&owner), &record.key_id, tenant, &account.name) {
            let why = refused.refusal().map(|f| f.message).unwrap_or_default();
            return Err(EngineError::Unresolved(format!(
                "grant {} left on key {} is not retired: {why}",
                record.grant_id, record.key_id
            )));
        }
        // A fresh listing: a stale one could retire nothing and call it done.
        self.listings.forget_grants(&client, &record.key_id);
        let grants = self.listings.grants(&client, &record.key_id).await.map_err(EngineError::aws)?;
        let Some(old) = grants.iter().find(|g| g.grant_id == record.grant_id) else {
            return Ok(());
        };
        if old.name.as_deref() != Some(name) {
            // Not this object's grant (its id was reused, or status was written by hand).
            return Ok(());
        }
        let change = Change {
            region: record.region.clone(),
            key: KeyHandle::Existing(record.key_id.clone()),
            action: Action::RetireGrant {
                grant_id: record.grant_id.clone(),
                name: name.to_owned(),
                reason: format!(
                    "the KmsGrant moved to key {} in {}",
                    target.key.id().unwrap_or("(new)"),
                    target.primary_region
                ),
            },
        };
        if mode == Mode::Plan {
            changes.push(change);
            return Ok(());
        }
        self.execute_grant_changes(&client, std::slice::from_ref(&change), changes).await
    }
}
