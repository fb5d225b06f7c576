//! The fleet a benchmark builds: A accounts, each reached through a role in it, R regions,
//! K keys per account. With more than one region every key is multi-Region with a replica in
//! every other region and an alias in each; the primaries are spread over the regions.

use std::collections::BTreeMap;
use std::time::Duration;

use kms_operator::aws::Op;
use serde_json::{Value, json};

use super::Quotas;

pub const NAMESPACE: &str = "fleet";
const REGIONS: &[&str] = &["eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1", "us-west-2"];

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub accounts: usize,
    pub regions: usize,
    pub keys_per_account: usize,
}

impl Shape {
    /// `--accounts A --regions R --keys-per-account K`, or sizes alone (`100 1000`: one account,
    /// one region, that many keys each), among the arguments cargo passes.
    pub fn parse(args: &[String]) -> Vec<Shape> {
        let flag = |name: &str| {
            args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<usize>().ok())
        };
        if let Some(keys_per_account) = flag("--keys-per-account") {
            let regions = flag("--regions").unwrap_or(1).clamp(1, REGIONS.len());
            return vec![Shape { accounts: flag("--accounts").unwrap_or(1).max(1), regions, keys_per_account }];
        }
        let sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        let sizes = if sizes.is_empty() { vec![100] } else { sizes };
        sizes.into_iter().map(|n| Shape { accounts: 1, regions: 1, keys_per_account: n }).collect()
    }

    pub fn keys(&self) -> usize {
        self.accounts * self.keys_per_account
    }

    pub fn replicas(&self) -> usize {
        self.keys() * (self.regions - 1)
    }

    pub fn aliases(&self) -> usize {
        self.keys() * self.regions
    }

    pub fn describe(&self) -> String {
        format!(
            "{} accounts x {} regions x {} keys per account: {} keys, {} replicas, {} aliases",
            self.accounts,
            self.regions,
            self.keys_per_account,
            self.keys(),
            self.replicas(),
            self.aliases()
        )
    }

    pub fn account_id(account: usize) -> String {
        format!("2000000000{:02}", account + 1)
    }

    pub fn account_name(account: usize) -> String {
        format!("fleet-{account}")
    }

    fn regions(&self) -> &'static [&'static str] {
        &REGIONS[..self.regions]
    }

    /// Every AwsAccount: its own id, reached through its role, KMS and STS at `endpoint`.
    pub fn accounts_json(&self, endpoint: &str) -> Vec<Value> {
        (0..self.accounts)
            .map(|a| {
                let id = Shape::account_id(a);
                json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "AwsAccount",
                    "metadata": {"name": Shape::account_name(a)},
                    "spec": {"accountId": id, "region": REGIONS[0],
                        "assumeRoleArn": format!("arn:aws:iam::{id}:role/kms-operator"),
                        "endpointUrl": endpoint, "stsEndpointUrl": endpoint, "allowedNamespaces": {}}})
            })
            .collect()
    }

    /// Every KmsKey and KmsAlias, account by account (the order a repository lists them in).
    pub fn objects_json(&self) -> Vec<Value> {
        let regions = self.regions();
        let mut objects = Vec::new();
        for a in 0..self.accounts {
            let id = Shape::account_id(a);
            for i in 0..self.keys_per_account {
                let name = format!("key-{a}-{i}");
                let primary = regions[i % regions.len()];
                let replicas: Vec<Value> =
                    regions.iter().filter(|r| **r != primary).map(|r| json!({"region": r})).collect();
                let mut spec = json!({"accountRef": Shape::account_name(a), "region": primary,
                    "description": format!("fleet key {a}-{i}"),
                    "tags": {"Fleet": "bench", "Index": i.to_string()},
                    "policy": {"users": [format!("arn:aws:iam::{id}:role/app-{i}")]}});
                if regions.len() > 1 {
                    spec["multiRegion"] = json!(true);
                    spec["replicas"] = json!(replicas);
                }
                objects.push(json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsKey",
                    "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}));
                for region in regions {
                    objects.push(json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsAlias",
                        "metadata": {"name": format!("alias-{a}-{i}-{region}"), "namespace": NAMESPACE},
                        "spec": {"name": format!("alias/fleet/key-{i}-{region}"), "keyRef": {"name": name},
                            "region": region}}));
                }
            }
        }
        objects
    }
}

/// The least time KMS's quotas allow for what reached KMS: every (account, region,
/// operation) has its own quota, so the busiest one bounds the whole. Returns the bound and
/// the busiest scopes, slowest first.
pub fn quota_bound(
    spent: &BTreeMap<(String, String, String), usize>,
    quotas: &Quotas,
) -> (Duration, Vec<(String, f64)>) {
    let mut scopes: Vec<(String, f64)> = spent
        .iter()
        .filter_map(|((account, region, op), count)| {
            let op = Op::parse(op).filter(|op| *op != Op::GetCallerIdentity)?;
            let quota = quotas.per_second(op);
            let seconds = *count as f64 / f64::from(quota);
            Some((format!("{account} {region} {:<20} {count:>6} at {quota:>4}/s", op.name()), seconds))
        })
        .collect();
    scopes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let bound = scopes.first().map_or(0.0, |(_, seconds)| *seconds);
    (Duration::from_secs_f64(bound), scopes)
}
