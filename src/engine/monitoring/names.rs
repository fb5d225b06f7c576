//! What the operator's alarms and filters are called and what their filters match: pure text,
//! so that plan, tests and docs/monitoring.md agree. Every name starts with
//! `kms-operator/<cluster>/`, which is how a pass finds all of its cluster's in one listing and
//! tells them from anyone else's.

use sha2::{Digest, Sha256};

use crate::api::ObjectName;

/// CloudWatch allows 255 characters in an alarm name.
const MAX_ALARM_NAME: usize = 255;
/// Room left after a key's prefix for `/<region>/<signal>`.
const SUFFIX_ROOM: usize = 40;
/// Metric namespaces take letters, digits and `.-_/#:`; filter names refuse `:` and `*`.
const MAX_CLUSTER_LABEL: usize = 64;

/// A signal a key is watched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    Decrypt,
    AccessDenied,
}

impl Signal {
    pub const ALL: [Signal; 2] = [Signal::Decrypt, Signal::AccessDenied];

    /// As `status.monitoring.alarms[].signal` and the metric name say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Decrypt => "Decrypt",
            Signal::AccessDenied => "AccessDenied",
        }
    }

    /// As names say it.
    fn slug(self) -> &'static str {
        match self {
            Signal::Decrypt => "decrypt",
            Signal::AccessDenied => "accessdenied",
        }
    }

    pub fn from_metric(metric: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.as_str() == metric)
    }
}

/// The metric of the account-wide key deletion filter.
pub const KEY_DELETION_METRIC: &str = "KeyDeletion";
/// The dimension every per-key metric carries: the ARN of the key copy the event was about.
pub const KEY_ARN_DIMENSION: &str = "KeyArn";
pub const KEY_ARN_SELECTOR: &str = "$.resources[0].ARN";
pub const ACCOUNT_DIMENSION: &str = "AccountId";
pub const ACCOUNT_SELECTOR: &str = "$.recipientAccountId";
/// Shared filters split keys by the first hex digit of their id.
pub const SHARDS: [char; 16] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'];

/// The cluster's names: `--cluster-name` with every character a metric namespace or a filter
/// name could refuse written as `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Naming {
    label: String,
}

impl Naming {
    pub fn new(cluster: &str) -> Self {
        let label: String = cluster
            .chars()
            .take(MAX_CLUSTER_LABEL)
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .collect();
        Naming { label }
    }

    /// What every alarm and filter of this cluster starts with.
    pub fn cluster_prefix(&self) -> String {
        format!("kms-operator/{}/", self.label)
    }

    pub fn namespace(&self) -> String {
        format!("KmsOperator/{}", self.label)
    }

    /// What the alarms and filters of one KmsKey start with; the trailing `/` keeps `logs`
    /// from claiming `logs-archive`'s. A long namespace and name is shortened with a hash so
    /// that alarm names stay within CloudWatch's 255 characters.
    pub fn key_prefix(&self, object: &ObjectName) -> String {
        let namespace = object.namespace.as_deref().unwrap_or("default");
        let full = format!("{}key/{namespace}/{}/", self.cluster_prefix(), object.name);
        if full.len() <= MAX_ALARM_NAME - SUFFIX_ROOM {
            return full;
        }
        let digest = Sha256::digest(format!("{namespace}/{}", object.name).as_bytes());
        let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let head = format!("{}key/{namespace}/", self.cluster_prefix());
        let keep = (MAX_ALARM_NAME - SUFFIX_ROOM).saturating_sub(head.len() + hash.len() + 2);
        let name: String = object.name.chars().take(keep).collect();
        format!("{head}{name}~{hash}/")
    }

    /// What the alarm and filters of one AwsAccount start with.
    pub fn account_prefix(&self, account: &str) -> String {
        format!("{}account/{account}/", self.cluster_prefix())
    }
}

pub fn key_alarm_name(prefix: &str, region: &str, signal: Signal) -> String {
    format!("{prefix}{region}/{}", signal.slug())
}

pub fn key_filter_name(prefix: &str, signal: Signal) -> String {
    format!("{prefix}{}", signal.slug())
}

pub fn shard_filter_name(account_prefix: &str, signal: Signal, shard: char) -> String {
    format!("{account_prefix}{}/{shard}", signal.slug())
}

pub fn key_deletion_name(account_prefix: &str) -> String {
    format!("{account_prefix}key-deletion")
}

/// The shard a key id belongs to: its first hex digit, after `mrk-` for multi-Region keys.
pub fn shard_of(key_id: &str) -> char {
    let id = key_id.strip_prefix("mrk-").unwrap_or(key_id);
    id.chars().next().map(|c| c.to_ascii_lowercase()).filter(|c| SHARDS.contains(c)).unwrap_or('0')
}

/// The key id at the end of a key ARN.
pub fn key_id_of(arn: &str) -> &str {
    arn.rsplit_once(":key/").map_or(arn, |(_, id)| id)
}

/// The events of one signal in `account`, as JSON filter pattern terms (CloudWatch Logs'
/// documented syntax: `{ (a) && (b) }`, `*` before or after a string).
fn signal_terms(signal: Signal, account_id: &str) -> String {
    let event = match signal {
        Signal::Decrypt => r#"($.eventName = "Decrypt") && ($.errorCode NOT EXISTS)"#,
        // AccessDenied or AccessDeniedException, whichever the trail writes, on any call.
        Signal::AccessDenied => r#"($.errorCode = "AccessDenied*")"#,
    };
    format!(r#"($.eventSource = "kms.amazonaws.com") && {event} && ($.recipientAccountId = "{account_id}")"#)
}

/// One key, in every region (its replicas share its id).
pub fn key_pattern(signal: Signal, account_id: &str, key_id: &str) -> String {
    format!(r#"{{ {} && ($.resources[0].ARN = "*:key/{key_id}") }}"#, signal_terms(signal, account_id))
}

/// Every key whose id (after `mrk-`) starts with `shard`.
pub fn shard_pattern(signal: Signal, account_id: &str, shard: char) -> String {
    format!(
        r#"{{ {} && (($.resources[0].ARN = "*:key/{shard}*") || ($.resources[0].ARN = "*:key/mrk-{shard}*")) }}"#,
        signal_terms(signal, account_id)
    )
}

/// DisableKey or ScheduleKeyDeletion on any key of `account` (CIS AWS Foundations).
pub fn key_deletion_pattern(account_id: &str) -> String {
    format!(
        r#"{{ ($.eventSource = "kms.amazonaws.com") && (($.eventName = "DisableKey") || ($.eventName = "ScheduleKeyDeletion")) && ($.recipientAccountId = "{account_id}") }}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    #[test]
    fn names_start_with_the_cluster_and_the_object() {
        let naming = Naming::new("prod eu:1");
        let key = ObjectName::new(Kind::KmsKey, Some("platform-kms"), "logs");
        let prefix = naming.key_prefix(&key);
        assert_eq!(prefix, "kms-operator/prod_eu_1/key/platform-kms/logs/");
        assert_eq!(naming.namespace(), "KmsOperator/prod_eu_1");
        assert_eq!(
            key_alarm_name(&prefix, "us-west-2", Signal::Decrypt),
            "kms-operator/prod_eu_1/key/platform-kms/logs/us-west-2/decrypt"
        );
        assert_eq!(key_filter_name(&prefix, Signal::AccessDenied), format!("{prefix}accessdenied"));
        let other = naming.key_prefix(&ObjectName::new(Kind::KmsKey, Some("platform-kms"), "logs-archive"));
        assert!(!other.starts_with(&prefix), "one key's prefix never covers another's");
        assert_eq!(
            key_deletion_name(&naming.account_prefix("core")),
            "kms-operator/prod_eu_1/account/core/key-deletion"
        );
    }

    #[test]
    fn long_names_are_shortened_with_a_hash_within_cloudwatch_limits() {
        let naming = Naming::new("c");
        let long = ObjectName::new(Kind::KmsKey, Some(&"n".repeat(63)), &"k".repeat(253));
        let prefix = naming.key_prefix(&long);
        assert!(prefix.len() <= MAX_ALARM_NAME - SUFFIX_ROOM, "{}", prefix.len());
        assert!(key_alarm_name(&prefix, "ap-southeast-2", Signal::AccessDenied).len() <= MAX_ALARM_NAME);
        let sibling = ObjectName::new(Kind::KmsKey, Some(&"n".repeat(63)), &format!("{}x", "k".repeat(252)));
        assert_ne!(prefix, naming.key_prefix(&sibling), "the hash keeps shortened names apart");
    }

    #[test]
    fn keys_fall_into_shards_by_their_first_hex_digit() {
        assert_eq!(shard_of("1234abcd-12ab-34cd-56ef-1234567890ab"), '1');
        assert_eq!(shard_of("mrk-f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6"), 'f');
        assert_eq!(key_id_of("arn:aws:kms:us-west-2:111122223333:key/mrk-1"), "mrk-1");
    }
}
