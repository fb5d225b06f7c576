//! A KMS client for one account and region. Every method goes through [`CallContext::call`],
//! so every request is paced, counted and retried the same way.

use std::collections::BTreeMap;

use aws_sdk_kms::types::{GrantOperation, KeySpec, KeyUsageType, OriginType};

use super::caller::{CallContext, SendGuard};
use super::convert;
use super::error::{AwsError, ErrorKind};
use super::model::{
    AliasEntry, CreatedGrant, GrantEntry, KeyDescription, NewGrant, NewKey, NewReplica, RotationEntry, RotationState,
};
use super::operation::Op;

/// KMS's policy name for key policies; there is no other.
const POLICY_NAME: &str = "default";

#[derive(Clone, Debug)]
pub struct KmsClient {
    inner: aws_sdk_kms::Client,
    account_id: String,
    region: String,
    ctx: CallContext,
}

fn missing(op: Op, what: &str) -> AwsError {
    AwsError::new(op, ErrorKind::Other, format!("response has no {what}"))
}

impl KmsClient {
    pub fn new(inner: aws_sdk_kms::Client, account_id: &str, region: &str, ctx: CallContext) -> Self {
        KmsClient { inner, account_id: account_id.to_owned(), region: region.to_owned(), ctx }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The same account's client for another region, with the same credentials, endpoint and
    /// call context: to read a multi-Region key's primary from one of its replicas.
    pub fn in_region(&self, region: &str) -> KmsClient {
        let config =
            self.inner.config().to_builder().region(aws_sdk_kms::config::Region::new(region.to_owned())).build();
        KmsClient::new(aws_sdk_kms::Client::from_conf(config), &self.account_id, region, self.ctx.clone())
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub async fn describe_key(&self, key_id: &str) -> Result<KeyDescription, AwsError> {
        let out = self
            .ctx
            .call(&self.account_id, &self.region, Op::DescribeKey, || self.inner.describe_key().key_id(key_id).send())
            .await?;
        out.key_metadata().map(convert::key_description).ok_or_else(|| missing(Op::DescribeKey, "key metadata"))
    }

    /// Every key id in the region, all pages.
    pub async fn list_key_ids(&self) -> Result<Vec<String>, AwsError> {
        let mut ids = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .ctx
                .call(&self.account_id, &self.region, Op::ListKeys, || {
                    self.inner.list_keys().limit(1000).set_marker(marker.clone()).send()
                })
                .await?;
            ids.extend(out.keys().iter().filter_map(|k| k.key_id().map(str::to_owned)));
            match out.next_marker().filter(|_| out.truncated()) {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(ids),
            }
        }
    }

    pub async fn list_tags(&self, key_id: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let mut tags = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .ctx
                .call(&self.account_id, &self.region, Op::ListResourceTags, || {
                    self.inner.list_resource_tags().key_id(key_id).limit(50).set_marker(marker.clone()).send()
                })
                .await?;
            tags.extend(convert::tags_from_sdk(out.tags()));
            match out.next_marker().filter(|_| out.truncated()) {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(tags),
            }
        }
    }

    /// The key policy as KMS stores it (JSON text).
    pub async fn get_policy(&self, key_id: &str) -> Result<String, AwsError> {
        let out = self
            .ctx
            .call(&self.account_id, &self.region, Op::GetKeyPolicy, || {
                self.inner.get_key_policy().key_id(key_id).policy_name(POLICY_NAME).send()
            })
            .await?;
        out.policy().map(str::to_owned).ok_or_else(|| missing(Op::GetKeyPolicy, "policy"))
    }

    pub async fn put_policy(&self, key_id: &str, policy: &str, bypass_lockout_check: bool) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::PutKeyPolicy, || {
                self.inner
                    .put_key_policy()
                    .key_id(key_id)
                    .policy_name(POLICY_NAME)
                    .policy(policy)
                    .bypass_policy_lockout_safety_check(bypass_lockout_check)
                    .send()
            })
            .await?;
        Ok(())
    }

    pub async fn rotation(&self, key_id: &str) -> Result<RotationState, AwsError> {
        let out = self
            .ctx
            .call(&self.account_id, &self.region, Op::GetKeyRotationStatus, || {
                self.inner.get_key_rotation_status().key_id(key_id).send()
            })
            .await?;
        Ok(RotationState {
            enabled: out.key_rotation_enabled(),
            period_days: out.rotation_period_in_days(),
            next_rotation_date: convert::date(out.next_rotation_date()),
            on_demand_rotation_started: convert::date(out.on_demand_rotation_start_date()),
        })
    }

    /// Starts rotating the key's material now; KMS finishes it in the background.
    pub async fn rotate_on_demand(&self, key_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::RotateKeyOnDemand, || {
                self.inner.rotate_key_on_demand().key_id(key_id).send()
            })
            .await?;
        Ok(())
    }

    /// Every completed rotation of the key, automatic and on demand.
    pub async fn rotations(&self, key_id: &str) -> Result<Vec<RotationEntry>, AwsError> {
        let mut entries = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .ctx
                .call(&self.account_id, &self.region, Op::ListKeyRotations, || {
                    self.inner.list_key_rotations().key_id(key_id).limit(1000).set_marker(marker.clone()).send()
                })
                .await?;
            entries.extend(out.rotations().iter().map(|r| RotationEntry {
                date: convert::date(r.rotation_date()),
                kind: r.rotation_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            }));
            match out.next_marker().filter(|_| out.truncated()) {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(entries),
            }
        }
    }

    pub async fn enable_rotation(&self, key_id: &str, period_days: i32) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::EnableKeyRotation, || {
                self.inner.enable_key_rotation().key_id(key_id).rotation_period_in_days(period_days).send()
            })
            .await?;
        Ok(())
    }

    pub async fn disable_rotation(&self, key_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::DisableKeyRotation, || {
                self.inner.disable_key_rotation().key_id(key_id).send()
            })
            .await?;
        Ok(())
    }

    pub async fn enable_key(&self, key_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::EnableKey, || self.inner.enable_key().key_id(key_id).send())
            .await?;
        Ok(())
    }

    pub async fn disable_key(&self, key_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::DisableKey, || self.inner.disable_key().key_id(key_id).send())
            .await?;
        Ok(())
    }

    pub async fn update_description(&self, key_id: &str, description: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::UpdateKeyDescription, || {
                self.inner.update_key_description().key_id(key_id).description(description).send()
            })
            .await?;
        Ok(())
    }

    pub async fn tag(&self, key_id: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let tags = convert::tags_to_sdk(tags);
        self.ctx
            .call(&self.account_id, &self.region, Op::TagResource, || {
                self.inner.tag_resource().key_id(key_id).set_tags(Some(tags.clone())).send()
            })
            .await?;
        Ok(())
    }

    pub async fn untag(&self, key_id: &str, tag_keys: &[String]) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::UntagResource, || {
                self.inner.untag_resource().key_id(key_id).set_tag_keys(Some(tag_keys.to_vec())).send()
            })
            .await?;
        Ok(())
    }

    /// Returns the deletion date KMS set.
    pub async fn schedule_deletion(&self, key_id: &str, pending_window_days: i32) -> Result<Option<String>, AwsError> {
        let out = self
            .ctx
            .call(&self.account_id, &self.region, Op::ScheduleKeyDeletion, || {
                self.inner.schedule_key_deletion().key_id(key_id).pending_window_in_days(pending_window_days).send()
            })
            .await?;
        Ok(convert::date(out.deletion_date()))
    }

    /// Cancels a scheduled deletion; KMS leaves the key disabled.
    pub async fn cancel_deletion(&self, key_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::CancelKeyDeletion, || {
                self.inner.cancel_key_deletion().key_id(key_id).send()
            })
            .await?;
        Ok(())
    }

    /// Creates a key; `guard` is asked before each attempt leaves (see [`SendGuard`]).
    pub async fn create_key(&self, key: &NewKey, guard: SendGuard<'_>) -> Result<KeyDescription, AwsError> {
        let tags = convert::tags_to_sdk(&key.tags);
        let out = self
            .ctx
            .call_guarded(&self.account_id, &self.region, Op::CreateKey, guard, || {
                self.inner
                    .create_key()
                    .description(&key.description)
                    .key_spec(KeySpec::from(key.key_spec.as_str()))
                    .key_usage(KeyUsageType::from(key.key_usage.as_str()))
                    .multi_region(key.multi_region)
                    .origin(OriginType::from(key.material.origin.as_str()))
                    .set_custom_key_store_id(key.material.custom_key_store_id.clone())
                    .set_xks_key_id(key.material.xks_key_id.clone())
                    .policy(&key.policy)
                    .bypass_policy_lockout_safety_check(key.bypass_policy_lockout_safety_check)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await?;
        out.key_metadata().map(convert::key_description).ok_or_else(|| missing(Op::CreateKey, "key metadata"))
    }

    /// Replicates the multi-Region key `key_id` (of this client's region) into `replica.region`.
    pub async fn replicate_key(&self, key_id: &str, replica: &NewReplica) -> Result<KeyDescription, AwsError> {
        // ReplicateKey also spends two CreateKey requests of the destination region's quota.
        let also = [(replica.region.as_str(), Op::CreateKey, 2)];
        let tags = convert::tags_to_sdk(&replica.tags);
        let out = self
            .ctx
            .call_spending(&self.account_id, &self.region, Op::ReplicateKey, &also, || {
                self.inner
                    .replicate_key()
                    .key_id(key_id)
                    .replica_region(&replica.region)
                    .description(&replica.description)
                    .policy(&replica.policy)
                    .bypass_policy_lockout_safety_check(replica.bypass_policy_lockout_safety_check)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await?;
        out.replica_key_metadata()
            .map(convert::key_description)
            .ok_or_else(|| missing(Op::ReplicateKey, "replica key metadata"))
    }

    /// Every alias in the region, all pages.
    pub async fn list_aliases(&self) -> Result<Vec<AliasEntry>, AwsError> {
        let mut aliases = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .ctx
                .call(&self.account_id, &self.region, Op::ListAliases, || {
                    self.inner.list_aliases().limit(100).set_marker(marker.clone()).send()
                })
                .await?;
            aliases.extend(out.aliases().iter().filter_map(|a| {
                Some(AliasEntry {
                    name: a.alias_name()?.to_owned(),
                    arn: a.alias_arn().map(str::to_owned),
                    target_key_id: a.target_key_id().map(str::to_owned),
                })
            }));
            match out.next_marker().filter(|_| out.truncated()) {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(aliases),
            }
        }
    }

    pub async fn create_alias(&self, name: &str, target_key_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::CreateAlias, || {
                self.inner.create_alias().alias_name(name).target_key_id(target_key_id).send()
            })
            .await?;
        Ok(())
    }

    pub async fn update_alias(&self, name: &str, target_key_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::UpdateAlias, || {
                self.inner.update_alias().alias_name(name).target_key_id(target_key_id).send()
            })
            .await?;
        Ok(())
    }

    pub async fn delete_alias(&self, name: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::DeleteAlias, || self.inner.delete_alias().alias_name(name).send())
            .await?;
        Ok(())
    }

    /// Every grant on `key_id`, all pages.
    pub async fn list_grants(&self, key_id: &str) -> Result<Vec<GrantEntry>, AwsError> {
        let mut grants = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .ctx
                .call(&self.account_id, &self.region, Op::ListGrants, || {
                    self.inner.list_grants().key_id(key_id).limit(100).set_marker(marker.clone()).send()
                })
                .await?;
            grants.extend(out.grants().iter().map(convert::grant_entry));
            match out.next_marker().filter(|_| out.truncated()) {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(grants),
            }
        }
    }

    /// Returns the new grant's id and token.
    pub async fn create_grant(&self, key_id: &str, grant: &NewGrant) -> Result<CreatedGrant, AwsError> {
        let operations: Vec<GrantOperation> =
            grant.operations.iter().map(|o| GrantOperation::from(o.as_str())).collect();
        let constraints = convert::constraints_to_sdk(&grant.constraints);
        let out = self
            .ctx
            .call(&self.account_id, &self.region, Op::CreateGrant, || {
                self.inner
                    .create_grant()
                    .key_id(key_id)
                    .name(&grant.name)
                    .grantee_principal(&grant.grantee_principal)
                    .set_retiring_principal(grant.retiring_principal.clone())
                    .set_operations(Some(operations.clone()))
                    .set_constraints(constraints.clone())
                    .send()
            })
            .await?;
        let grant_id = out.grant_id().map(str::to_owned).ok_or_else(|| missing(Op::CreateGrant, "grant id"))?;
        Ok(CreatedGrant { grant_id, token: out.grant_token().map(str::to_owned) })
    }

    pub async fn retire_grant(&self, key_id: &str, grant_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::RetireGrant, || {
                self.inner.retire_grant().key_id(key_id).grant_id(grant_id).send()
            })
            .await?;
        Ok(())
    }

    pub async fn revoke_grant(&self, key_id: &str, grant_id: &str) -> Result<(), AwsError> {
        self.ctx
            .call(&self.account_id, &self.region, Op::RevokeGrant, || {
                self.inner.revoke_grant().key_id(key_id).grant_id(grant_id).send()
            })
            .await?;
        Ok(())
    }
}
