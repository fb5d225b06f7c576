//! A create whose outcome is unknown (the request left, the answer was lost, or the process
//! died) must not be repeated before the truth can be seen: ListKeys is eventually consistent,
//! so a key created moments ago may not be listed yet, and a second CreateKey would make a
//! duplicate. The engine remembers such creates of its own process; the controller records an
//! intent in status before every CreateKey, so a restarted process knows too. A pass that finds
//! no key while a create is in question lists again, backing off, until the key appears or the
//! window has passed; only then does it create.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::CreateIntent;
use crate::api::Reason;
use crate::aws::KmsClient;
use crate::engine::cache::lock;
use crate::engine::{Engine, EngineError};

/// Where a front door keeps the record of a CreateKey about to leave.
pub trait IntentRecorder: Send + Sync {
    /// Records `intent` where the next pass, in this process or another, finds it. An error
    /// stops the create: a create nobody could find out about later is not sent.
    fn record<'a>(&'a self, intent: &'a CreateIntent) -> BoxFuture<'a, Result<(), IntentError>>;
}

/// Why the intent to create could not be recorded. Each asks for something else: the pass's
/// view is old (read again, say nothing), the record's store is away (retry), or kms-operator
/// itself is at fault (report it as such, never as a reference that is not ready).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntentError {
    /// The object changed since the pass read it (a conditional write met a newer version):
    /// another writer may have recorded an intent of its own, so this pass must not create.
    #[error("the object changed since this pass read it: {0}")]
    Stale(String),
    /// The store of the record refused or could not be reached (a 5xx, throttling, a lost
    /// connection): trying again can help.
    #[error("the Kubernetes API did not take the write: {0}")]
    Unavailable(String),
    /// kms-operator could not build the write or read its answer: a fault of its own.
    #[error("kms-operator failed internally: {0}")]
    Internal(String),
}

/// A new intent, stamped now.
pub fn new_intent() -> CreateIntent {
    let token: String = (0..8).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    CreateIntent { token, since: Time(jiff::Timestamp::now()) }
}

/// Whether an intent stamped at `since` still covers a CreateKey attempt sent now. A process
/// that dies while the attempt is in flight leaves the intent as it is, and the next one waits
/// for the key only until `since + window`; by then the attempt must have landed or timed out
/// and ListKeys have caught up with it. So an attempt leaves within the first quarter of the
/// window, or the intent is restamped first: the rest outlasts the attempt timeout and as long
/// again for the listing (pinned below for the defaults). Checked right before each attempt,
/// after its wait for quota, as a create can wait for quota, retry throttles and wait for IAM
/// for longer than the whole window.
pub(crate) fn covers_a_send(window: Duration, since: &Time) -> bool {
    age(since) <= window / 4
}

/// How much of `window` is left after `since`.
fn left_of(window: Duration, since: &Time) -> Option<Duration> {
    window.checked_sub(age(since)).filter(|left| !left.is_zero())
}

fn age(since: &Time) -> Duration {
    jiff::Timestamp::now().duration_since(since.0).unsigned_abs()
}

impl Engine {
    pub(crate) fn remember_in_question(&self, owner: &str) {
        lock(&self.in_question).insert(owner.to_owned(), Instant::now());
    }

    pub(crate) fn settle(&self, owner: &str) {
        lock(&self.in_question).remove(owner);
    }

    /// How long a create of `owner` may still land: one of this process whose answer was lost,
    /// or one an earlier process recorded.
    pub(crate) fn in_question(&self, owner: &str, recorded: Option<&CreateIntent>) -> Option<Duration> {
        let window = self.settings.create_visibility_window;
        let here = lock(&self.in_question).get(owner).and_then(|at| window.checked_sub(at.elapsed()));
        let there = recorded.and_then(|intent| left_of(window, &intent.since));
        here.into_iter().chain(there).filter(|left| !left.is_zero()).max()
    }

    /// Lists `owner`'s keys again, backing off, until one appears or `left` has passed. A pass
    /// waits within its budget only; past it, while the create may still land, it ends with
    /// `StillWaiting` rather than create a second key or hold a worker.
    pub(crate) async fn wait_for_created(
        &self,
        client: &KmsClient,
        owner: &str,
        left: Duration,
    ) -> Result<Vec<String>, EngineError> {
        tracing::info!(owner, ?left, "a create may still land; listing again before creating another key");
        let window_ends = Instant::now() + left;
        let deadline = Instant::now() + self.within_budget(left);
        let mut pause = self.settings.consistency_poll;
        loop {
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            self.listings.forget_keys(client);
            let owned = self.listings.keys_owned_by(client, owner).await?;
            if !owned.is_empty() || Instant::now() >= window_ends {
                return Ok(owned);
            }
            if Instant::now() >= deadline {
                return Err(EngineError::StillWaiting {
                    reason: Reason::CreateInQuestion,
                    what: format!(
                        "a CreateKey for {owner} whose outcome is unknown may still show in ListKeys for {}s; no other key is created before",
                        window_ends.saturating_duration_since(Instant::now()).as_secs()
                    ),
                });
            }
            pause = (pause * 2).min(Duration::from_secs(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_counts_for_the_rest_of_its_window() {
        let window = Duration::from_secs(120);
        let fresh = new_intent();
        let left = left_of(window, &fresh.since).expect("fresh");
        assert!(left <= window && left > Duration::from_secs(100), "{left:?}");
        let old = CreateIntent { since: Time(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(121)), ..fresh };
        assert_eq!(left_of(window, &old.since), None);
        assert_eq!(old.token.len(), 16);
    }

    #[test]
    fn the_window_outlasts_the_attempt_a_killed_process_left_in_flight() {
        // A process killed while its CreateKey is in flight leaves the intent as it was when the
        // attempt left, at most a quarter of the window old (`covers_a_send`); the next process
        // counts the window from there, so the rest must outlast the attempt the create may
        // still be in, and as long again for ListKeys to show the key. Neither is a flag a user
        // can set: this holds the two defaults together.
        let window = crate::engine::EngineSettings::default().create_visibility_window;
        let attempt = crate::aws::Timeouts::default().attempt;
        assert!(window - window / 4 >= attempt * 2, "window {window:?}, attempt timeout {attempt:?}");
    }

    #[test]
    fn an_attempt_leaves_under_an_intent_no_older_than_a_quarter_of_the_window() {
        let window = Duration::from_secs(120);
        let stamped = |ago: i64| Time(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(ago));
        assert!(covers_a_send(window, &stamped(0)));
        assert!(covers_a_send(window, &stamped(29)));
        assert!(!covers_a_send(window, &stamped(31)), "restamped first");
        assert!(!covers_a_send(window, &stamped(121)));
    }
}
