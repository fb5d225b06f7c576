//! A plain SDK client on the test's KMS server: to check what the operator did and to make
//! changes behind its back, as someone in the console would.

use std::collections::BTreeMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;

pub async fn client(endpoint: &str, region: &str) -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .load()
        .await;
    Client::new(&config)
}

/// The key `name` points at in the client's region, if the alias exists.
pub async fn alias_target(client: &Client, name: &str) -> Option<String> {
    let out = client.list_aliases().send().await.expect("ListAliases");
    out.aliases().iter().find(|a| a.alias_name() == Some(name)).and_then(|a| a.target_key_id().map(str::to_owned))
}

pub async fn tags(client: &Client, key_id: &str) -> BTreeMap<String, String> {
    let out = client.list_resource_tags().key_id(key_id).send().await.expect("ListResourceTags");
    out.tags().iter().map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())).collect()
}

pub async fn policy(client: &Client, key_id: &str) -> Value {
    let out = client.get_key_policy().key_id(key_id).policy_name("default").send().await.expect("GetKeyPolicy");
    serde_json::from_str(out.policy().expect("policy")).expect("policy JSON")
}

pub async fn describe(client: &Client, key_id: &str) -> aws_sdk_kms::types::KeyMetadata {
    client.describe_key().key_id(key_id).send().await.expect("DescribeKey").key_metadata().cloned().expect("metadata")
}

pub async fn key_ids(client: &Client) -> Vec<String> {
    let out = client.list_keys().send().await.expect("ListKeys");
    out.keys().iter().filter_map(|k| k.key_id().map(str::to_owned)).collect()
}

pub async fn rotation_enabled(client: &Client, key_id: &str) -> bool {
    client.get_key_rotation_status().key_id(key_id).send().await.expect("GetKeyRotationStatus").key_rotation_enabled()
}
