//! SDK types into the crate's plain views, and back.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_kms::primitives::{DateTime, DateTimeFormat};
use aws_sdk_kms::types::{GrantConstraints, GrantListEntry, KeyMetadata, Tag};

use super::model::{GrantConstraintsView, GrantEntry, KeyDescription, RegionalArn};

pub fn date(value: Option<&DateTime>) -> Option<String> {
    value.and_then(|d| d.fmt(DateTimeFormat::DateTime).ok())
}

pub fn key_description(meta: &KeyMetadata) -> KeyDescription {
    let config = meta.multi_region_configuration();
    let primary_region = config.and_then(|c| c.primary_key()).and_then(|p| p.region()).map(str::to_owned);
    let replicas = config
        .map(|c| {
            c.replica_keys()
                .iter()
                .filter_map(|r| Some(RegionalArn { region: r.region()?.to_owned(), arn: r.arn()?.to_owned() }))
                .collect()
        })
        .unwrap_or_default();
    KeyDescription {
        key_id: meta.key_id().to_owned(),
        arn: meta.arn().unwrap_or_default().to_owned(),
        account_id: meta.aws_account_id().unwrap_or_default().to_owned(),
        state: meta.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        enabled: meta.enabled(),
        description: meta.description().unwrap_or_default().to_owned(),
        key_spec: meta.key_spec().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        key_usage: meta.key_usage().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        key_manager: meta.key_manager().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        origin: meta.origin().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        multi_region: meta.multi_region().unwrap_or(false),
        primary_region,
        replicas,
        deletion_date: date(meta.deletion_date()),
        creation_date: date(meta.creation_date()),
        encryption_algorithms: meta.encryption_algorithms().iter().map(|a| a.as_str().to_owned()).collect(),
        signing_algorithms: meta.signing_algorithms().iter().map(|a| a.as_str().to_owned()).collect(),
        mac_algorithms: meta.mac_algorithms().iter().map(|a| a.as_str().to_owned()).collect(),
        multi_region_key_type: config.and_then(|c| c.multi_region_key_type()).map(|t| t.as_str().to_owned()),
        primary_arn: config.and_then(|c| c.primary_key()).and_then(|p| p.arn()).map(str::to_owned),
        custom_key_store_id: meta.custom_key_store_id().map(str::to_owned),
        xks_key_id: meta.xks_key_configuration().and_then(|x| x.id()).map(str::to_owned),
    }
}

pub fn tags_to_sdk(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().ok()).collect()
}

pub fn tags_from_sdk(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())).collect()
}

fn context(map: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

pub fn grant_entry(grant: &GrantListEntry) -> GrantEntry {
    GrantEntry {
        grant_id: grant.grant_id().unwrap_or_default().to_owned(),
        name: grant.name().filter(|n| !n.is_empty()).map(str::to_owned),
        grantee_principal: grant.grantee_principal().map(str::to_owned),
        retiring_principal: grant.retiring_principal().filter(|p| !p.is_empty()).map(str::to_owned),
        operations: grant.operations().iter().map(|o| o.as_str().to_owned()).collect(),
        constraints: grant
            .constraints()
            .map(|c| GrantConstraintsView {
                encryption_context_equals: context(c.encryption_context_equals()),
                encryption_context_subset: context(c.encryption_context_subset()),
            })
            .unwrap_or_default(),
    }
}

pub fn constraints_to_sdk(view: &GrantConstraintsView) -> Option<GrantConstraints> {
    if view.is_empty() {
        return None;
    }
    let to_map = |m: &BTreeMap<String, String>| {
        (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>())
    };
    Some(
        GrantConstraints::builder()
            .set_encryption_context_equals(to_map(&view.encryption_context_equals))
            .set_encryption_context_subset(to_map(&view.encryption_context_subset))
            .build(),
    )
}
