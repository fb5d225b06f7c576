//! The engine in-process, for tests that need settings the command line does not expose
//! (short waits) or that look at the reports directly.

use std::path::Path;
use std::time::Duration;

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use kms_operator::aws::{CallContext, ClientPool, RateLimits, RetryPolicy, Timeouts};
use kms_operator::engine::{Engine, EngineSettings};
use kms_operator::local::manifests::{self, ManifestSet};
use kms_operator::local::runner::{Command, RunOutput, Runner};

/// Waits short enough for tests, long enough for a local server.
pub fn fast_settings() -> EngineSettings {
    EngineSettings {
        consistency_poll: Duration::from_millis(50),
        policy_propagation_timeout: Duration::from_secs(2),
        new_key_visibility_timeout: Duration::from_secs(5),
        // No shorter than the attempt timeouts below is enough: the window runs from the moment
        // a create's answer was lost (tests/crash.rs pins it), not from the send. Only a pass
        // killed mid-request leaves an intent stamped before the send, and the tests that kill
        // one let its create land at once.
        create_visibility_window: Duration::from_secs(5),
        ..EngineSettings::default()
    }
}

pub async fn engine_with(settings: EngineSettings, limits: RateLimits) -> Engine {
    engine_with_timeouts(
        settings,
        limits,
        Timeouts { connect: Duration::from_secs(2), attempt: Duration::from_secs(5) },
    )
    .await
}

pub async fn engine_with_timeouts(settings: EngineSettings, limits: RateLimits, timeouts: Timeouts) -> Engine {
    signed_engine("testing", settings, limits, timeouts).await
}

/// An engine whose requests are signed with the access key id `access_key` (the proxy records
/// it), so that the requests of two engines can be told apart.
pub async fn engine_signed_by(access_key: &str) -> Engine {
    let timeouts = Timeouts { connect: Duration::from_secs(2), attempt: Duration::from_secs(5) };
    signed_engine(access_key, fast_settings(), RateLimits::unlimited(), timeouts).await
}

async fn signed_engine(access_key: &str, settings: EngineSettings, limits: RateLimits, timeouts: Timeouts) -> Engine {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new(access_key, "testing", None, None, "tests"))
        .region(Region::new("us-east-1"))
        .load()
        .await;
    let ctx = CallContext::new(&limits, RetryPolicy::fast());
    Engine::new(ClientPool::with_base_config(base, ctx, timeouts), settings)
}

pub async fn engine() -> Engine {
    engine_with(fast_settings(), RateLimits::unlimited()).await
}

pub fn load(dir: &Path) -> ManifestSet {
    let (set, mut issues) = manifests::load(&[dir.to_path_buf()], manifests::ReadLimits::default());
    issues.extend(set.validate());
    assert!(issues.is_empty(), "invalid test manifests: {issues:?}");
    set
}

pub async fn run(engine: &Engine, dir: &Path, command: Command) -> RunOutput {
    let set = load(dir);
    Runner::new(engine, &set, 8).run(command).await
}

/// Panics with every failure's reason unless nothing failed.
pub fn assert_ok(output: &RunOutput) {
    let failures: Vec<String> = output
        .results
        .iter()
        .filter(|r| r.failed())
        .map(|r| format!("{}: {:?} {:?}", r.object, r.outcome, r.blockers))
        .collect();
    assert!(failures.is_empty(), "failures: {failures:#?}");
}
