//! The engine: observe live KMS state, plan the changes a spec needs (pure), execute them.
//! Both front doors (local mode and the controller) call it the same way.

pub mod account;
pub mod admission;
pub mod alias;
mod args;
mod cache;
pub mod change;
mod converge;
pub mod desired;
mod error;
pub mod export;
mod family;
pub mod grant;
pub mod identity;
pub mod key;
mod listings;
pub mod monitoring;
pub mod on_key;
mod owned_key;
pub mod ownership;
pub mod plan;
mod report;
mod settings;
mod waits;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use args::EngineArgs;
pub use change::{Action, Change, Finding, KeyHandle};
pub use error::EngineError;
pub(crate) use identity::noting_unverified;
pub use report::{Outcome, Report};
pub use settings::{DEFAULT_CLUSTER_NAME, EngineSettings, partition_of};

use crate::aws::{AccountConfig, AwsError, CallContext, ClientPool, ErrorKind, KmsClient};
use cache::lock;
use identity::{Identity, check_identity};
use listings::Listings;

/// Whether a pass may write to KMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Observe and plan only.
    Plan,
    /// Observe, plan, execute, verify.
    Apply,
}

pub struct Engine {
    pool: ClientPool,
    settings: EngineSettings,
    listings: Listings,
    /// Keys this process created, and when: KMS may answer NotFound for them for a while.
    created: Mutex<HashMap<String, Instant>>,
    /// Replicas (key id, region) this process created: theirs even where the server dropped the
    /// tags of ReplicateKey (moto does), until the next pass tags them.
    replicated: Mutex<HashSet<(String, String)>>,
    /// Objects (by ownership tag) whose CreateKey this process sent without learning the
    /// outcome, and when.
    in_question: Mutex<HashMap<String, Instant>>,
    /// Set when the process is asked to stop: no new change starts, the ones under way finish.
    stopping: AtomicBool,
    /// Tokens of the grants this process created.
    grant_tokens: grant::GrantTokens,
    /// When KMS first refused a principal for each write still waiting for IAM.
    propagating: waits::Propagating,
}

impl Engine {
    pub fn new(pool: ClientPool, settings: EngineSettings) -> Self {
        let listings = Listings::new(settings.listing_ttl);
        Engine {
            pool,
            settings,
            listings,
            created: Mutex::new(HashMap::new()),
            replicated: Mutex::new(HashSet::new()),
            in_question: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            grant_tokens: grant::GrantTokens::default(),
            propagating: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    pub fn calls(&self) -> &CallContext {
        self.pool.context()
    }

    /// Stops starting changes (a signal, a shutdown): writes under way are answered and
    /// recorded; every change not yet started fails with `Interrupted`.
    pub fn stop_writes(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// `Err(Interrupted)` once asked to stop, before a change starts.
    pub(crate) fn may_start(&self, change: &Change) -> Result<(), EngineError> {
        if self.is_stopping() {
            return Err(EngineError::Interrupted(change.summary()));
        }
        Ok(())
    }

    async fn kms(&self, account: &AccountConfig, region: &str) -> KmsClient {
        self.pool.kms(account, region).await
    }

    /// Fails unless the account's credentials really are the declared account
    /// ([`identity::check_identity`]); with `verifyAccount: false` nothing is asked and the
    /// identity is unverified.
    pub async fn verify_account(&self, account: &AccountConfig) -> Result<Identity, EngineError> {
        if !account.verify_account {
            return Ok(Identity { caller: None });
        }
        check_identity(account, self.listings.identity(&self.pool, account).await)
    }

    fn remember_created(&self, key_id: &str) {
        lock(&self.created).insert(key_id.to_owned(), Instant::now());
    }

    fn remember_replicated(&self, key_id: &str, region: &str) {
        lock(&self.replicated).insert((key_id.to_owned(), region.to_owned()));
    }

    fn replicated_here(&self, key_id: &str, region: &str) -> bool {
        lock(&self.replicated).contains(&(key_id.to_owned(), region.to_owned()))
    }

    fn recently_created(&self, key_id: &str) -> bool {
        lock(&self.created).get(key_id).is_some_and(|at| at.elapsed() < self.settings.new_key_visibility_timeout)
    }

    /// Runs `call` again while it answers NotFound for a key this process just created.
    async fn tolerate_new_key<T, F, Fut>(&self, key_id: &str, mut call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        loop {
            match call().await {
                Err(e) if e.kind == ErrorKind::NotFound && self.recently_created(key_id) => {
                    tracing::debug!(key_id, "key created moments ago is not visible yet; retrying");
                    tokio::time::sleep(self.settings.consistency_poll).await;
                }
                other => return other,
            }
        }
    }
}
