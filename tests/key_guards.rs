//! Keys the operator must not change, in local mode against a real local KMS server: an AWS
//! managed key, and a key whose immutable settings (keySpec, keyUsage, multiRegion) differ from
//! the spec. Each is blocked with its reason before any write, however much else differs.

mod support;

use support::cli::{Output, run_json};
use support::kms;
use support::manifests::{REGION, Workspace, account, key};
use support::moto::Moto;
use support::proxy::FaultProxy;

/// `apply` of a KmsKey importing `key_id` with `spec`, through `endpoint`: blocked, with
/// `reason` naming `field`, and no write.
fn assert_blocked(endpoint: &str, key_id: &str, spec: &str, reason: &str, field: &str) -> Output {
    let ws = Workspace::new();
    ws.write("account.yaml", &account(endpoint));
    // A description and tags the live key lacks: were the guard not there, these would be written.
    let spec = format!("import: {{keyId: {key_id}}}\ndescription: taken over\ntags: {{Team: data}}\n{spec}");
    ws.write("key.yaml", &key("imported", &spec));
    let apply = run_json("apply", ws.path());
    apply.assert_code(1);
    let blockers = apply.resource("KmsKey", "imported")["blockers"].clone();
    let found: Vec<&str> = blockers.as_array().expect("blockers").iter().filter_map(|b| b["reason"].as_str()).collect();
    assert_eq!(found, vec![reason], "{blockers}");
    let message = blockers[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(key_id) && message.contains(field), "{message}");
    assert_eq!(apply.writes(), 0, "{}", apply.stderr);
    apply
}

/// AWS managed keys (`alias/aws/...`) belong to the AWS services that made them. moto reports
/// them as customer managed, so the proxy reports this one as KMS does. (Multi-threaded: the
/// proxy serves the command on another thread while this one waits for it.)
#[tokio::test(flavor = "multi_thread")]
async fn an_aws_managed_key_is_never_adopted() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let client = kms::client(&moto.endpoint(), REGION).await;
    let before = kms::describe(&client, "alias/aws/ebs").await;
    let ebs = before.key_id().to_owned();
    proxy.report_aws_managed(&ebs);
    assert_blocked(&proxy.endpoint(), &ebs, "", "AwsManagedKey", "AWS managed key");
    assert_eq!(kms::describe(&client, &ebs).await.description(), before.description(), "untouched");
    assert!(kms::tags(&client, &ebs).await.is_empty(), "untouched");
}

#[tokio::test]
async fn a_key_of_another_key_spec_usage_or_region_kind_is_never_changed() {
    let moto = Moto::start();
    let client = kms::client(&moto.endpoint(), REGION).await;
    let created = |spec: aws_sdk_kms::types::KeySpec, usage: aws_sdk_kms::types::KeyUsageType, multi_region: bool| {
        let client = client.clone();
        async move {
            let out = client.create_key().key_spec(spec).key_usage(usage).multi_region(multi_region).send().await;
            out.expect("CreateKey").key_metadata().expect("metadata").key_id().to_owned()
        }
    };
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let signing = created(KeySpec::Rsa2048, KeyUsageType::SignVerify, false).await;
    let symmetric = created(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt, false).await;
    let endpoint = moto.endpoint();
    let cases = [
        (&signing, "keySpec: RSA_2048\nkeyUsage: ENCRYPT_DECRYPT", "keyUsage"),
        (&signing, "keySpec: RSA_4096\nkeyUsage: SIGN_VERIFY", "keySpec"),
        // (A multi-Region key imported as single-Region is refused offline: its id says so.)
        (&symmetric, "multiRegion: true", "multiRegion"),
    ];
    for (key_id, spec, field) in cases {
        assert_blocked(&endpoint, key_id, spec, "ImmutableFieldMismatch", field);
    }
    for key_id in [&signing, &symmetric] {
        assert!(kms::tags(&client, key_id).await.is_empty(), "{key_id} untouched");
        assert_eq!(kms::describe(&client, key_id).await.description(), Some(""), "{key_id} untouched");
    }
}
