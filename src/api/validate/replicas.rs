//! Rules on `spec.replicas` of a multi-Region key.

use std::collections::BTreeMap;

use super::issue::{Issues, quote};
use super::key::check_description;
use super::names::check_region;
use super::path;
use super::tags::{Ownership, check_tags};
use crate::api::KmsKeySpec;
use crate::api::catalog::partition_of;

pub(crate) fn check_replicas(
    issues: &mut Issues,
    spec: &KmsKeySpec,
    primary_region: Option<&str>,
    ownership: Ownership,
) {
    if !spec.replicas.is_empty() && !spec.multi_region {
        issues.add(
            "spec.replicas",
            format!(
                "lists {} replica(s), but only multi-Region keys have replicas and spec.multiRegion is not true",
                spec.replicas.len()
            ),
            "set spec.multiRegion: true (only possible when the key is created: it is immutable), or remove spec.replicas",
        );
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, replica) in spec.replicas.iter().enumerate() {
        let at = path::item("spec.replicas", i);
        let region_field = path::child(&at, "region");
        check_region(issues, &region_field, &replica.region);
        if let Some(first) = seen.insert(&replica.region, i) {
            issues.add(
                &region_field,
                format!("{} is already listed at spec.replicas[{first}]", quote(&replica.region)),
                "list each replica region once",
            );
        }
        if primary_region == Some(replica.region.as_str()) {
            issues.add(
                &region_field,
                format!("{} is the key's primary region", quote(&replica.region)),
                "remove this replica: the primary key already lives in that region",
            );
        }
        if let Some(primary) = primary_region
            && partition_of(primary) != partition_of(&replica.region)
        {
            issues.add(
                &region_field,
                format!(
                    "{} is in partition {}, but the primary region {} is in {}; KMS replicates a key only within its partition",
                    quote(&replica.region),
                    partition_of(&replica.region),
                    primary,
                    partition_of(primary)
                ),
                format!("choose a replica region of partition {}, or create a separate key there", partition_of(primary)),
            );
        }
        if let Some(description) = &replica.description {
            check_description(issues, &path::child(&at, "description"), description);
        }
        if let Some(tags) = &replica.tags {
            check_tags(issues, &path::child(&at, "tags"), tags, ownership, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{account_spec, assert_clean, assert_issue, key};
    use super::super::validate_key;

    const KEY: &str = "KmsKey platform-kms/datamesh";

    #[test]
    fn replicas_need_multi_region() {
        let issues = validate_key(&key("{accountRef: core, replicas: [{region: us-west-2}]}"), None);
        assert_issue(&issues, KEY, "spec.replicas", &["multiRegion is not true"], "spec.multiRegion: true");
    }

    #[test]
    fn a_region_listed_twice() {
        let spec = "{accountRef: core, multiRegion: true, replicas: [{region: us-west-2}, {region: eu-west-1}, {region: us-west-2}]}";
        let issues = validate_key(&key(spec), None);
        assert_issue(
            &issues,
            KEY,
            "spec.replicas[2].region",
            &["\"us-west-2\" is already listed at spec.replicas[0]"],
            "once",
        );
    }

    #[test]
    fn replica_in_the_primary_region_from_the_key_or_the_account() {
        let spec = "{accountRef: core, region: us-west-2, multiRegion: true, replicas: [{region: us-west-2}]}";
        let issues = validate_key(&key(spec), None);
        assert_issue(&issues, KEY, "spec.replicas[0].region", &["primary region"], "remove this replica");

        // No spec.region: the account's region (ap-southeast-2) is the primary.
        let spec = "{accountRef: core, multiRegion: true, replicas: [{region: ap-southeast-2}]}";
        assert_clean(&validate_key(&key(spec), None));
        let issues = validate_key(&key(spec), Some(&account_spec()));
        assert_issue(
            &issues,
            KEY,
            "spec.replicas[0].region",
            &["\"ap-southeast-2\" is the key's primary region"],
            "remove",
        );
    }

    #[test]
    fn replicas_stay_in_the_primary_s_partition() {
        for (primary, replica, partition) in [
            ("us-east-1", "cn-north-1", "aws-cn"),
            ("us-east-1", "us-gov-west-1", "aws-us-gov"),
            ("cn-north-1", "us-west-2", "aws"),
        ] {
            let spec = format!(
                "{{accountRef: core, region: {primary}, multiRegion: true, replicas: [{{region: {replica}}}]}}"
            );
            let issues = validate_key(&key(&spec), None);
            assert_issue(
                &issues,
                KEY,
                "spec.replicas[0].region",
                &[&format!("is in partition {partition}")],
                "separate key",
            );
        }
        let spec = "{accountRef: core, region: cn-north-1, multiRegion: true, replicas: [{region: cn-northwest-1}]}";
        assert_clean(&validate_key(&key(spec), None));
        // Without spec.region the account's region is the primary's.
        let spec = "{accountRef: core, multiRegion: true, replicas: [{region: us-gov-east-1}]}";
        let issues = validate_key(&key(spec), Some(&account_spec()));
        assert_issue(&issues, KEY, "spec.replicas[0].region", &["ap-southeast-2 is in aws"], "partition aws");
    }

    #[test]
    fn replica_region_and_description() {
        let spec = format!(
            "{{accountRef: core, multiRegion: true, replicas: [{{region: oregon, description: '{}'}}]}}",
            "d".repeat(8193)
        );
        let issues = validate_key(&key(&spec), None);
        assert_issue(&issues, KEY, "spec.replicas[0].region", &["\"oregon\" is not an AWS region"], "us-east-1");
        assert_issue(&issues, KEY, "spec.replicas[0].description", &["8193"], "8192");
    }
}
