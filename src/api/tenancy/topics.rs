//! Where a key's alarms may send their notifications: only to SNS topics the platform team
//! listed in the account's `spec.monitoring.alarmTopics`, in accounts tenants may name.

use super::Refusal;
use super::principals::{Permitted, Refusals};
use crate::api::validate::names::parse_arn;
use crate::api::validate::path;
use crate::api::{KmsKey, ObjectName};

pub fn check_notify(key: &KmsKey, object: &ObjectName, permitted: Permitted<'_>) -> Vec<Refusal> {
    let mut out = Refusals::new(object, permitted);
    let Some(monitoring) = &key.spec.monitoring else {
        return out.list;
    };
    let listed: &[String] = permitted.spec.monitoring.as_ref().map_or(&[], |m| &m.alarm_topics);
    for (i, topic) in monitoring.notify.iter().enumerate() {
        let field = path::item("spec.monitoring.notify", i);
        if !listed.contains(topic) {
            out.add(
                &field,
                format!(
                    "{topic} is not in spec.monitoring.alarmTopics of AwsAccount {}, so alarms of its keys may not notify it",
                    permitted.account
                ),
                format!(
                    "notify a topic listed there ({}), or ask the platform team to add this one",
                    if listed.is_empty() { "none is".to_owned() } else { listed.join(", ") }
                ),
            );
        } else if let Some(arn) = parse_arn(topic) {
            out.account(&field, "the topic", arn.account);
        }
    }
    out.list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tenancy::Reason;
    use crate::api::{AwsAccountSpec, Kind};

    fn account() -> AwsAccountSpec {
        serde_json::from_value(serde_json::json!({
            "accountId": "484357440923",
            "region": "ap-southeast-2",
            "permissions": {"principalAccounts": ["339712836516"]},
            "monitoring": {
                "cloudTrailLogGroup": "trail",
                "alarmTopics": [
                    "arn:aws:sns:ap-southeast-2:484357440923:kms-alarms",
                    "arn:aws:sns:ap-southeast-2:339712836516:team",
                    "arn:aws:sns:ap-southeast-2:999999999999:elsewhere",
                ],
            },
        }))
        .unwrap()
    }

    fn refusals(topics: &[&str]) -> Vec<Refusal> {
        let key: KmsKey = KmsKey::new(
            "k",
            serde_json::from_value(serde_json::json!({"accountRef": "sec", "monitoring": {"notify": topics}})).unwrap(),
        );
        let object = ObjectName::new(Kind::KmsKey, Some("apps"), "k");
        let spec = account();
        check_notify(&key, &object, Permitted { account: "sec", spec: &spec })
    }

    #[test]
    fn listed_topics_of_permitted_accounts_may_be_notified() {
        let ok = refusals(&[
            "arn:aws:sns:ap-southeast-2:484357440923:kms-alarms",
            "arn:aws:sns:ap-southeast-2:339712836516:team",
        ]);
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn an_unlisted_topic_is_not_permitted() {
        let refused = refusals(&["arn:aws:sns:ap-southeast-2:484357440923:attacker"]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].reason, Reason::NotPermitted);
        let text = refused[0].to_string();
        assert!(
            text.contains("spec.monitoring.notify[0]") && text.contains("not in spec.monitoring.alarmTopics"),
            "{text}"
        );
    }

    #[test]
    fn a_listed_topic_in_an_account_tenants_may_not_name_is_not_permitted() {
        let refused = refusals(&["arn:aws:sns:ap-southeast-2:999999999999:elsewhere"]);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].to_string().contains("account 999999999999"), "{}", refused[0]);
    }
}
