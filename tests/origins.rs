//! Keys whose material KMS does not make, and what DescribeKey tells about every key, end to end
//! through the binary against moto behind the test proxy, which describes such keys as KMS
//! documents them (`support/key_material.rs`): imported material (`origin: EXTERNAL`) waits in
//! `PendingImport`, reported as such and never as drift; keys in a custom key store carry their
//! store and external key; a difference in any of them blocks; the status shows DescribeKey's
//! fields.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::cli::{Output, kms_operator};
use support::key_material::CustomKeyStore;
use support::kms;
use support::manifests::{REGION, Workspace, account, key};
use support::moto::Moto;
use support::proxy::FaultProxy;

const CLOUDHSM_STORE: &str = "cks-1234567890abcdef0";
const XKS_STORE: &str = "cks-0fedcba0987654321";

struct Setup {
    _moto: Moto,
    proxy: FaultProxy,
    ws: Workspace,
    kms: aws_sdk_kms::Client,
}

async fn setup() -> Setup {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    proxy.describe_key_material(&[
        CustomKeyStore { id: CLOUDHSM_STORE.into(), kind: "AWS_CLOUDHSM".into() },
        CustomKeyStore { id: XKS_STORE.into(), kind: "EXTERNAL_KEY_STORE".into() },
    ]);
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    let kms = kms::client(&proxy.endpoint(), REGION).await;
    Setup { _moto: moto, proxy, ws, kms }
}

/// `kms-operator ARGS` in `dir`, off the runtime the proxy answers on.
async fn cli(dir: PathBuf, args: &'static [&'static str]) -> Output {
    tokio::task::spawn_blocking(move || kms_operator(args, &dir)).await.expect("the binary ran")
}

async fn apply(s: &Setup) -> Output {
    cli(s.ws.path().to_owned(), &["apply", "-f", ".", "-o", "json"]).await
}

async fn plan(s: &Setup) -> Output {
    cli(s.ws.path().to_owned(), &["plan", "-f", ".", "-o", "json"]).await
}

fn condition<'a>(resource: &'a Value, type_: &str) -> &'a Value {
    let conditions = resource["status"]["conditions"].as_array().expect("conditions");
    conditions.iter().find(|c| c["type"] == type_).expect("condition")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_for_imported_material_waits_pending_import_and_is_not_drift() {
    let s = setup().await;
    s.ws.write("key.yaml", &key("imported", "description: imported\norigin: EXTERNAL\nenabled: false"));
    let applied = apply(&s).await;
    applied.assert_code(0);
    assert_eq!(applied.calls("CreateKey"), 1);
    assert_eq!(s.proxy.forwarded("DisableKey") + s.proxy.forwarded("EnableKeyRotation"), 0, "KMS would refuse both");
    let resource = applied.resource("KmsKey", "imported");
    let key_id = resource["status"]["keyId"].as_str().expect("key id").to_owned();
    assert_eq!(kms::describe(&s.kms, &key_id).await.origin().map(|o| o.as_str()), Some("EXTERNAL"));
    assert_eq!(resource["status"]["keyState"], "PendingImport");
    assert_eq!(resource["status"]["origin"], "EXTERNAL");
    assert_eq!(condition(&resource, "Ready")["reason"], "PendingImport");
    assert_eq!(condition(&resource, "Synced")["status"], "True", "waiting for material is not drift");

    for enabled in ["false", "true"] {
        s.ws.write(
            "key.yaml",
            &key("imported", &format!("description: imported\norigin: EXTERNAL\nenabled: {enabled}")),
        );
        let planned = plan(&s).await;
        planned.assert_code(0);
        let notices = planned.resource("KmsKey", "imported")["notices"].to_string();
        assert!(notices.contains("waits for its key material"), "{notices}");
        let again = apply(&s).await;
        again.assert_code(0);
        assert_eq!(again.writes(), 0, "enabled: {enabled}: {}", again.stderr);
    }
    assert_eq!(s.proxy.forwarded("GetKeyRotationStatus"), 0, "rotation is not read for imported material");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_in_custom_key_stores_are_created_in_their_store_and_stay_in_sync() {
    let s = setup().await;
    s.ws.write("hsm.yaml", &key("hsm", &format!("origin: AWS_CLOUDHSM\ncustomKeyStoreId: {CLOUDHSM_STORE}")));
    s.ws.write(
        "xks.yaml",
        &key("xks", &format!("origin: EXTERNAL_KEY_STORE\ncustomKeyStoreId: {XKS_STORE}\nxksKeyId: bb8562717f809024")),
    );
    let applied = apply(&s).await;
    applied.assert_code(0);
    let hsm = kms::describe(&s.kms, applied.resource("KmsKey", "hsm")["status"]["keyId"].as_str().unwrap()).await;
    assert_eq!(hsm.custom_key_store_id(), Some(CLOUDHSM_STORE));
    let xks = kms::describe(&s.kms, applied.resource("KmsKey", "xks")["status"]["keyId"].as_str().unwrap()).await;
    assert_eq!(xks.xks_key_configuration().and_then(|x| x.id()), Some("bb8562717f809024"));
    assert_eq!(xks.origin().map(|o| o.as_str()), Some("EXTERNAL_KEY_STORE"));
    assert_eq!(s.proxy.forwarded("EnableKeyRotation"), 0, "keys in a custom key store have no automatic rotation");
    plan(&s).await.assert_code(0);
    assert_eq!(apply(&s).await.writes(), 0);

    // A key declared in another store than the one it lives in is never recreated or changed.
    s.ws.write("hsm.yaml", &key("hsm", &format!("origin: AWS_CLOUDHSM\ncustomKeyStoreId: {XKS_STORE}")));
    let moved = plan(&s).await;
    moved.assert_code(1);
    let blockers = moved.resource("KmsKey", "hsm")["blockers"].to_string();
    assert!(blockers.contains("ImmutableFieldMismatch") && blockers.contains(CLOUDHSM_STORE), "{blockers}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_store_that_does_not_exist_fails_the_create_with_kms_s_answer() {
    let s = setup().await;
    s.ws.write("hsm.yaml", &key("hsm", "origin: AWS_CLOUDHSM\ncustomKeyStoreId: cks-00000000000000000"));
    let applied = apply(&s).await;
    applied.assert_code(1);
    let error = applied.resource("KmsKey", "hsm")["error"]["message"].to_string();
    assert!(error.contains("CustomKeyStoreNotFoundException") || error.contains("does not exist"), "{error}");
    assert!(kms::key_ids(&s.kms).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_key_of_imported_material_must_declare_its_origin() {
    let s = setup().await;
    let created = s.kms.create_key().origin(aws_sdk_kms::types::OriginType::External).send().await.unwrap();
    let key_id = created.key_metadata().unwrap().key_id().to_owned();
    s.ws.write("key.yaml", &key("legacy", &format!("import: {{keyId: {key_id}}}")));
    let undeclared = plan(&s).await;
    undeclared.assert_code(1);
    let blockers = undeclared.resource("KmsKey", "legacy")["blockers"].to_string();
    assert!(blockers.contains("set spec.origin: EXTERNAL"), "{blockers}");

    s.ws.write("key.yaml", &key("legacy", &format!("import: {{keyId: {key_id}}}\norigin: EXTERNAL")));
    let declared = plan(&s).await;
    declared.assert_code(0);
    assert_eq!(declared.resource("KmsKey", "legacy")["status"]["keyState"], "PendingImport");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_what_describe_key_gives() {
    let s = setup().await;
    s.ws.write(
        "keys.yaml",
        &[
            key("global", "multiRegion: true\nreplicas:\n  - region: us-west-2"),
            key("mac", "keySpec: HMAC_256\nkeyUsage: GENERATE_VERIFY_MAC"),
            key("signer", "keySpec: ECC_NIST_P256\nkeyUsage: SIGN_VERIFY"),
        ]
        .join("---\n"),
    );
    let applied = apply(&s).await;
    applied.assert_code(0);
    let global = &applied.resource("KmsKey", "global")["status"];
    assert_eq!(global["keyManager"], "CUSTOMER");
    assert_eq!(global["origin"], "AWS_KMS");
    assert_eq!(global["encryptionAlgorithms"], serde_json::json!(["SYMMETRIC_DEFAULT"]));
    assert!(global["creationDate"].as_str().is_some_and(|d| d.contains('T')), "{global}");
    let family = &global["multiRegionConfiguration"];
    assert_eq!(family["multiRegionKeyType"], "PRIMARY");
    assert_eq!(family["primaryKey"]["region"], REGION);
    assert_eq!(family["primaryKey"]["arn"], global["arn"]);
    assert_eq!(family["replicaKeys"][0]["region"], "us-west-2");
    assert!(family["replicaKeys"][0]["arn"].as_str().is_some_and(|a| a.contains(":us-west-2:")), "{family}");

    let mac = &applied.resource("KmsKey", "mac")["status"];
    assert_eq!(mac["macAlgorithms"], serde_json::json!(["HMAC_SHA_256"]));
    assert!(mac.get("encryptionAlgorithms").is_none(), "{mac}");
    assert!(mac.get("multiRegionConfiguration").is_none(), "single-Region: {mac}");
    let signer = &applied.resource("KmsKey", "signer")["status"];
    assert_eq!(signer["signingAlgorithms"], serde_json::json!(["ECDSA_SHA_256"]));
}
