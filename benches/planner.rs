//! Micro-benchmarks of the pure parts every pass runs: planning a converged key (policy
//! equivalence included), comparing policies, building a policy.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kms_operator::api::{DeletionPolicy, Kind, ObjectName, PolicySpec, ServiceAccess};
use kms_operator::aws::AccountConfig;
use kms_operator::aws::model::{KeyDescription, KeyMaterial, RotationState};
use kms_operator::engine::desired::{DesiredKey, DesiredRotation, Mandate, Origin};
use kms_operator::engine::key::observed::{KeyObservation, ObservedKey};
use kms_operator::engine::key::plan::plan_key;
use kms_operator::engine::ownership::OWNER_TAG;
use kms_operator::policy::{self, BuildContext};
use serde_json::Value;

fn context() -> BuildContext<'static> {
    BuildContext {
        account_id: "484357440923",
        region: "ap-southeast-2",
        partition: "aws",
        key_spec: "SYMMETRIC_DEFAULT",
        key_usage: "ENCRYPT_DECRYPT",
    }
}

/// A realistic builder policy: admins, users, two trusted accounts, three services.
fn spec() -> PolicySpec {
    PolicySpec {
        administrators: vec!["arn:aws:iam::484357440923:role/PlatformKmsAdmin".into()],
        users: (0..5).map(|i| format!("arn:aws:iam::339712836516:role/app-{i}")).collect(),
        trusted_accounts: vec!["339712836516".into(), "111122223333".into()],
        services: ["rds", "logs", "secretsmanager"]
            .iter()
            .map(|s| ServiceAccess { name: (*s).into(), caller_accounts: None })
            .collect(),
        ..PolicySpec::default()
    }
}

/// The same policy as KMS might return it: statements reversed, compact text re-parsed.
fn reshuffled(policy: &Value) -> Value {
    let mut copy = policy.clone();
    if let Some(statements) = copy["Statement"].as_array_mut() {
        statements.reverse();
    }
    serde_json::from_str(&copy.to_string()).unwrap_or(copy)
}

fn desired(policy: Value) -> DesiredKey {
    DesiredKey {
        object: ObjectName::new(Kind::KmsKey, Some("platform-kms"), "bench"),
        account: AccountConfig {
            name: "core".into(),
            account_id: "484357440923".into(),
            region: "ap-southeast-2".into(),
            assume_role_arn: None,
            external_id: None,
            endpoint_url: None,
            sts_endpoint_url: None,
            verify_account: true,
        },
        region: "ap-southeast-2".into(),
        origin: Origin::Create,
        description: Some("bench".into()),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        multi_region: false,
        material: KeyMaterial { origin: "AWS_KMS".into(), ..KeyMaterial::default() },
        enabled: true,
        rotation: Some(DesiredRotation { enabled: true, period_days: 365, rotate_now: None }),
        policy: Some(policy),
        bypass_lockout_check: false,
        tags: BTreeMap::from([("Environment".into(), "prod".into()), ("Team".into(), "data".into())]),
        owner: (OWNER_TAG.into(), "kms-operator/platform-kms/bench".into()),
        replicas: Vec::new(),
        observe_only: false,
        deletion: DeletionPolicy::Retain,
        pending_window_days: 30,
        may_adopt: false,
        show_owners: false,
        mandate: Mandate::default(),
        monitoring: None,
    }
}

fn benches(c: &mut Criterion) {
    let built = policy::build(&spec(), &context());
    let live = reshuffled(&built);
    let desired = desired(built.clone());
    let observed = KeyObservation::Found(Box::new(ObservedKey {
        key: KeyDescription {
            key_id: "k".into(),
            state: "Enabled".into(),
            enabled: true,
            description: "bench".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_manager: "CUSTOMER".into(),
            ..KeyDescription::default()
        },
        policy: Some(live.clone()),
        rotation: Some(RotationState { enabled: true, period_days: Some(365), ..RotationState::default() }),
        rotation_history: None,
        tags: desired.full_tags(&desired.tags),
        primary_owner: None,
        replicas: Vec::new(),
        monitoring: None,
    }));
    assert!(plan_key(&desired, &observed).is_empty(), "the benchmark plans a converged key");

    c.bench_function("plan a converged key", |b| b.iter(|| plan_key(black_box(&desired), black_box(&observed))));
    c.bench_function("policy equivalence (8 statements)", |b| {
        b.iter(|| policy::equivalent(black_box(&built), black_box(&live)))
    });
    c.bench_function("policy build (8 statements)", |b| {
        b.iter(|| policy::build(black_box(&spec()), black_box(&context())))
    });
}

criterion_group!(planner, benches);
criterion_main!(planner);
