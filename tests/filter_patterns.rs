//! The filter patterns the operator writes match the CloudTrail events they are for, and no
//! others: a Decrypt event in the shape KMS's documentation gives ("Logging AWS KMS API calls
//! with AWS CloudTrail", Decrypt), put into a log group of the local AWS server and read back,
//! is matched by CloudWatch Logs' documented JSON pattern rules (`support::filter_pattern`).

mod support;

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use kms_operator::engine::monitoring::names::{self, Signal};
use serde_json::{Value, json};
use support::filter_pattern::matches;
use support::moto::Moto;

const ACCOUNT: &str = "111122223333";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

/// KMS's documented CloudTrail entry for Decrypt with a symmetric key.
fn decrypt_event(region: &str, key_id: &str) -> Value {
    json!({
        "eventVersion": "1.05",
        "userIdentity": {"type": "IAMUser", "principalId": "EX_PRINCIPAL_ID", "arn": "arn:aws:iam::111122223333:user/Alice", "accountId": ACCOUNT, "accessKeyId": "EXAMPLE_KEY_ID", "userName": "Alice"},
        "eventTime": "2020-07-27T22:58:24Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.0",
        "userAgent": "AWS Internal",
        "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"), "encryptionContext": {"Department": "Engineering", "Project": "Alpha"}},
        "responseElements": null,
        "requestID": "12345126-30d5-4b28-98b9-9153da559963",
        "eventID": "abcde202-ba1a-467c-b4ba-f729d45ae521",
        "readOnly": true,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}")}],
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT
    })
}

fn with(mut event: Value, field: &str, value: Value) -> Value {
    event[field] = value;
    event
}

#[tokio::test]
async fn a_decrypt_event_put_into_the_log_group_matches_the_keys_decrypt_filter() {
    let moto = Moto::start();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .region(Region::new("us-west-2"))
        .endpoint_url(moto.endpoint())
        .load()
        .await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    logs.create_log_group().log_group_name("trail").send().await.unwrap();
    logs.create_log_stream()
        .log_group_name("trail")
        .log_stream_name(format!("{ACCOUNT}_CloudTrail_us-west-2"))
        .send()
        .await
        .unwrap();
    let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
        .timestamp(jiff::Timestamp::now().as_millisecond())
        .message(decrypt_event("us-west-2", KEY_ID).to_string())
        .build()
        .unwrap();
    logs.put_log_events()
        .log_group_name("trail")
        .log_stream_name(format!("{ACCOUNT}_CloudTrail_us-west-2"))
        .log_events(event)
        .send()
        .await
        .unwrap();
    let stored = logs
        .get_log_events()
        .log_group_name("trail")
        .log_stream_name(format!("{ACCOUNT}_CloudTrail_us-west-2"))
        .send()
        .await
        .unwrap();
    let message: Value = serde_json::from_str(stored.events()[0].message().unwrap()).unwrap();
    assert_eq!(matches(&names::key_pattern(Signal::Decrypt, ACCOUNT, KEY_ID), &message), Ok(true));
}

#[test]
fn each_pattern_matches_its_events_and_no_others() {
    let decrypt = decrypt_event("us-west-2", KEY_ID);
    let pattern = names::key_pattern(Signal::Decrypt, ACCOUNT, KEY_ID);
    assert_eq!(matches(&pattern, &decrypt), Ok(true));
    assert_eq!(matches(&pattern, &decrypt_event("eu-west-1", KEY_ID)), Ok(true), "a replica's region too");
    assert_eq!(matches(&pattern, &decrypt_event("us-west-2", "99999999-12ab-34cd-56ef-1234567890ab")), Ok(false));
    assert_eq!(matches(&pattern, &with(decrypt.clone(), "eventName", json!("Encrypt"))), Ok(false));
    assert_eq!(matches(&pattern, &with(decrypt.clone(), "recipientAccountId", json!("444455556666"))), Ok(false));
    let denied =
        with(with(decrypt.clone(), "errorCode", json!("AccessDenied")), "errorMessage", json!("not authorized"));
    assert_eq!(matches(&pattern, &denied), Ok(false), "a refused Decrypt is not a decrypt");

    let access_denied = names::key_pattern(Signal::AccessDenied, ACCOUNT, KEY_ID);
    assert_eq!(matches(&access_denied, &denied), Ok(true));
    let exception =
        with(with(decrypt.clone(), "eventName", json!("GenerateDataKey")), "errorCode", json!("AccessDeniedException"));
    assert_eq!(matches(&access_denied, &exception), Ok(true), "any call, either spelling");
    assert_eq!(matches(&access_denied, &decrypt), Ok(false));

    let shard = names::shard_pattern(Signal::Decrypt, ACCOUNT, '1');
    assert_eq!(matches(&shard, &decrypt), Ok(true));
    assert_eq!(matches(&shard, &decrypt_event("us-west-2", "mrk-1f2e3d4c5b6a79880123456789abcdef")), Ok(true));
    assert_eq!(matches(&shard, &decrypt_event("us-west-2", "2234abcd-12ab-34cd-56ef-1234567890ab")), Ok(false));

    let deletion = names::key_deletion_pattern(ACCOUNT);
    assert_eq!(matches(&deletion, &with(decrypt.clone(), "eventName", json!("ScheduleKeyDeletion"))), Ok(true));
    assert_eq!(matches(&deletion, &with(decrypt.clone(), "eventName", json!("DisableKey"))), Ok(true));
    assert_eq!(matches(&deletion, &decrypt), Ok(false));
}

#[test]
fn every_pattern_stays_within_the_documented_syntax_and_length() {
    for pattern in [
        names::key_pattern(Signal::Decrypt, ACCOUNT, "mrk-1f2e3d4c5b6a79880123456789abcdef"),
        names::key_pattern(Signal::AccessDenied, ACCOUNT, KEY_ID),
        names::shard_pattern(Signal::AccessDenied, ACCOUNT, 'f'),
        names::key_deletion_pattern(ACCOUNT),
    ] {
        assert!(matches(&pattern, &json!({})).is_ok(), "{pattern}");
        assert!(pattern.len() <= 1024, "CloudWatch Logs takes 1024 characters: {pattern}");
    }
    assert!(matches(r#"{ $.eventName = "De*ypt" }"#, &json!({})).is_err(), "the evaluator is as strict as the docs");
}
