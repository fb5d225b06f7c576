//! Fencing a leader that may no longer be one. The lease manager renews the Lease and reports
//! a loss it sees, but while the API server cannot be reached it goes on believing it leads,
//! and meanwhile the Lease expires and a standby takes over: two writers. This guard reads the
//! Lease on its own and turns shutdown on (no new AWS write starts from that moment) as soon
//! as another replica holds it, or as soon as no renewal of ours has been seen for longer than
//! a renewal may take, which is before the Lease can expire for the others.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use tokio::sync::watch;
use tokio::time::Instant;

use super::leader::LeaseTiming;

/// Why a leader stopped trusting its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fenced {
    /// Another replica holds the Lease.
    TakenBy(String),
    /// No renewal was seen for this long: the Lease may have expired for the others.
    NotRenewed(Duration),
    /// The lease manager saw the Lease go to another replica.
    Lost,
}

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fenced::TakenBy(holder) => write!(f, "the leader lease is held by {holder}"),
            Fenced::Lost => write!(f, "the leader lease went to another replica"),
            Fenced::NotRenewed(after) => {
                write!(f, "the leader lease was not renewed for {}s and may have expired", after.as_secs())
            }
        }
    }
}

/// How long after a renewal the next one must be seen: the renewal interval plus half the
/// grace, so a renewal that is merely late still counts, and the guard acts a full half grace
/// before the Lease expires for the other replicas.
pub fn renewal_deadline(timing: LeaseTiming) -> Duration {
    let renew_every = timing.duration_seconds.saturating_sub(timing.renew_grace_seconds);
    Duration::from_millis(renew_every * 1000 + timing.renew_grace_seconds * 500)
}

/// What one look at the Lease says about `identity`'s leadership.
fn verdict(lease: &Lease, identity: &str) -> Result<Option<String>, Fenced> {
    let spec = lease.spec.as_ref();
    match spec.and_then(|s| s.holder_identity.as_deref()) {
        Some(holder) if holder != identity => Err(Fenced::TakenBy(holder.to_owned())),
        // The renewal we last saw, as the Lease records it.
        _ => Ok(spec.and_then(|s| s.renew_time.as_ref()).map(|t| t.0.to_string())),
    }
}

/// Watches the Lease `name` until this replica is fenced or shutdown is asked; on fencing,
/// turns `shutdown` on and returns why.
pub async fn guard(
    leases: Api<Lease>,
    name: String,
    identity: String,
    timing: LeaseTiming,
    shutdown_tx: watch::Sender<bool>,
) -> Option<Fenced> {
    let deadline = renewal_deadline(timing);
    let poll = Duration::from_millis(250).max(deadline / 10);
    let mut renewed_at = Instant::now();
    let mut last_renewal: Option<String> = None;
    let mut previous_ask = renewed_at;
    let mut shutdown = shutdown_tx.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = shutdown.wait_for(|stop| *stop) => return None,
        }
        let asked = Instant::now();
        let fenced = match leases.get(&name).await {
            Ok(lease) => match verdict(&lease, &identity) {
                Err(fenced) => Some(fenced),
                Ok(renewal) => {
                    if renewal.is_some() && renewal != last_renewal {
                        // The renewal happened after the previous look at the latest: counting
                        // from there never makes the lease look fresher than it is.
                        last_renewal = renewal;
                        renewed_at = previous_ask;
                    }
                    None
                }
            },
            Err(error) => {
                tracing::warn!(%error, lease = %name, "cannot read the leader lease");
                None
            }
        };
        previous_ask = asked;
        let fenced = fenced.or_else(|| (renewed_at.elapsed() >= deadline).then_some(Fenced::NotRenewed(deadline)));
        if let Some(fenced) = fenced {
            tracing::error!(reason = %fenced, "fenced: no new AWS write starts; stopping the controllers");
            let _ = shutdown_tx.send(true);
            return Some(fenced);
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    use super::*;

    fn lease(holder: &str, renewed: i64) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.to_owned()),
                renew_time: Some(MicroTime(jiff::Timestamp::from_second(1_800_000_000 + renewed).unwrap())),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn another_holder_fences_at_once() {
        assert_eq!(verdict(&lease("b", 0), "a"), Err(Fenced::TakenBy("b".into())));
    }

    #[test]
    fn our_own_renewals_are_told_apart() {
        let first = verdict(&lease("a", 0), "a").unwrap();
        let second = verdict(&lease("a", 10), "a").unwrap();
        assert!(first.is_some() && second.is_some() && first != second);
    }

    #[test]
    fn the_deadline_falls_between_a_late_renewal_and_expiry() {
        let timing = LeaseTiming { duration_seconds: 15, renew_grace_seconds: 5 };
        let deadline = renewal_deadline(timing);
        assert!(deadline > Duration::from_secs(10), "renewals come every 10 s");
        assert!(deadline < Duration::from_secs(15), "the others may take over at 15 s");
    }
}
