//! Objects no shard writes: each shard counts, from its own watch caches, the objects that have
//! carried no live claim for longer than a grace period, and exports the count
//! (`kms_operator_unclaimed_resources`, by kind and by what is wrong with the claim).
//!
//! Why the claim and not the selectors: a shard knows only its own selector, so it cannot tell
//! that an account is matched by no shard; but it watches every object of the four kinds (which
//! account an alias belongs to is not visible to a server-side selector), and the claim is what
//! every shard, running or not, leaves on what it holds. An object that stays without a claim
//! is one no running shard selects (or whose account, or alias's key, does not exist), since the
//! shard that selects it claims it within seconds. A claim naming a shard that the chart does not
//! deploy (`--known-shards`, the names in its `shards` list) is one no shard will ever give back.
//! A claim naming a known shard that is down is that shard's outage, which `KmsOperatorDown`
//! reports per shard. Every shard reports the same objects, so alerts take the maximum.
//!
//! Why only a metric and a log line, and no condition or Event on the object: a shard writes
//! only what it has claimed. A status write to an unclaimed object could land after another
//! shard's claim (two writers), and an Event about an object the shard does not hold breaks the
//! rule that Events come from the holder; every shard would also report each object once more.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kube::Resource;
use kube::runtime::reflector::Store;
use tokio::time::Instant;

use super::super::metrics::Metrics;
use super::super::watched::Watched;
use super::{Shard, claim};
use crate::api::{Kind, ObjectName};

/// How a shard reports objects no shard holds.
#[derive(Clone, Debug)]
pub struct Unclaimed {
    /// Every shard's name (`--known-shards`): a claim naming another is stale. `None`: any
    /// non-empty claim counts as held.
    pub known_shards: Option<BTreeSet<String>>,
    /// How long an object may go without a live claim before it counts: longer than claiming
    /// takes after a shard starts (one write per object, once).
    pub grace: Duration,
}

/// `--unclaimed-grace-seconds`' default: time for a shard (re)started with thousands of objects
/// to claim them all, and for a Helm upgrade to roll its pods.
pub const DEFAULT_GRACE_SECONDS: u64 = 300;

impl Default for Unclaimed {
    fn default() -> Self {
        Unclaimed { known_shards: None, grace: Duration::from_secs(DEFAULT_GRACE_SECONDS) }
    }
}

/// What is wrong with an object's claim, as the metric's `claim` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missing {
    /// No shard has claimed it.
    Absent,
    /// Its claim names no shard that runs: empty, or not among the known shards.
    UnknownShard,
}

impl Missing {
    pub const ALL: [Missing; 2] = [Missing::Absent, Missing::UnknownShard];

    pub fn label(self) -> &'static str {
        match self {
            Missing::Absent => "absent",
            Missing::UnknownShard => "unknown_shard",
        }
    }
}

/// What is wrong with the claim `holder` as shard `me` sees it; `None`: someone holds it.
pub fn missing(me: &str, known: Option<&BTreeSet<String>>, holder: Option<&str>) -> Option<Missing> {
    match holder {
        None => Some(Missing::Absent),
        Some(holder) if holder == me => None,
        Some(holder) if holder.is_empty() || known.is_some_and(|k| !k.contains(holder)) => Some(Missing::UnknownShard),
        Some(_) => None,
    }
}

/// Since when each object has been seen without a live claim by this process, and whether it
/// has been reported overdue.
#[derive(Debug, Default)]
pub struct Census {
    since: BTreeMap<ObjectName, Seen>,
}

#[derive(Clone, Copy, Debug)]
struct Seen {
    since: Instant,
    missing: Missing,
    overdue: bool,
}

/// One look at the objects.
#[derive(Debug, Default, PartialEq)]
pub struct Look {
    /// Objects past the grace period, by kind and problem; every pair present, zero or not.
    pub counts: BTreeMap<(Kind, Missing), usize>,
    /// Those that passed it since the last look.
    pub newly_overdue: Vec<(ObjectName, Missing)>,
}

impl Census {
    /// Takes in every object this shard sees and what is wrong with its claim. Objects held, or
    /// gone, are forgotten, so one claimed and released again later starts its grace afresh; so
    /// does one whose problem changed.
    pub fn look(
        &mut self,
        now: Instant,
        grace: Duration,
        objects: impl IntoIterator<Item = (ObjectName, Option<Missing>)>,
    ) -> Look {
        let mut look = Look::default();
        for kind in Kind::ALL {
            for missing in Missing::ALL {
                look.counts.insert((kind, missing), 0);
            }
        }
        let mut since = BTreeMap::new();
        for (object, missing) in objects {
            let Some(missing) = missing else { continue };
            let mut seen = match self.since.get(&object) {
                Some(seen) if seen.missing == missing => *seen,
                _ => Seen { since: now, missing, overdue: false },
            };
            if now.saturating_duration_since(seen.since) >= grace {
                *look.counts.entry((object.kind, missing)).or_default() += 1;
                if !seen.overdue {
                    look.newly_overdue.push((object.clone(), missing));
                }
                seen.overdue = true;
            }
            since.insert(object, seen);
        }
        self.since = since;
        look
    }
}

/// Every object of one kind in a watch's store, and the claim it carries.
pub type Roster = Box<dyn Fn() -> Vec<(ObjectName, Option<String>)> + Send + Sync>;

pub fn roster<K>(kind: Kind, store: Store<Watched<K>>) -> Roster
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    Box::new(move || {
        let objects = store.state().into_iter();
        // An object the binary cannot decode still has its metadata, and so its claim.
        objects.map(|o| (ObjectName::of(kind, o.meta()), claim::holder(o.as_ref()).map(str::to_owned))).collect()
    })
}

/// Looks at the rosters every tick until `stopped`, exporting the counts and logging each object
/// once as it passes the grace period.
pub async fn report(shard: Arc<Shard>, metrics: Metrics, rosters: Vec<Roster>, stopped: impl Future<Output = ()>) {
    let settings = &shard.unclaimed;
    // Four looks per grace period (at most one every 15 s): an object is counted at most a
    // quarter of the grace late.
    let every = (settings.grace / 4).clamp(Duration::from_millis(50), Duration::from_secs(15));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut census = Census::default();
    let known = settings.known_shards.as_ref();
    let looking = async {
        loop {
            ticks.tick().await;
            let objects = rosters.iter().flat_map(|roster| roster()).map(|(object, holder)| {
                let missing = missing(&shard.name, known, holder.as_deref());
                (object, missing)
            });
            let look = census.look(Instant::now(), settings.grace, objects);
            for ((kind, missing), count) in &look.counts {
                metrics.unclaimed(*kind, missing.label(), *count);
            }
            for (object, missing) in &look.newly_overdue {
                let grace = settings.grace.as_secs();
                match missing {
                    Missing::Absent => tracing::warn!(
                        %object, grace,
                        "no shard has claimed it for the grace period (seconds): no running shard's selector matches its AwsAccount's labels, or its account (an alias's or grant's key) does not exist; nothing reconciles it (docs/operations.md, KmsOperatorUnclaimedResources)"
                    ),
                    Missing::UnknownShard => tracing::warn!(
                        %object, grace,
                        "its claim names a shard not in --known-shards (removed from the chart's shards?), which will never give it back; nothing reconciles it (docs/operations.md, KmsOperatorUnclaimedResources)"
                    ),
                }
            }
        }
    };
    tokio::select! {
        () = looking => {}
        () = stopped => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_claim_is_live_when_it_names_this_shard_or_a_known_one() {
        let shards = known(&["prod", "dev"]);
        assert_eq!(missing("prod", Some(&shards), None), Some(Missing::Absent));
        assert_eq!(missing("prod", Some(&shards), Some("prod")), None);
        assert_eq!(missing("prod", Some(&shards), Some("dev")), None);
        assert_eq!(missing("prod", Some(&shards), Some("old")), Some(Missing::UnknownShard));
        assert_eq!(missing("prod", None, Some("old")), None, "without the list, any shard may be running");
        assert_eq!(missing("prod", None, Some("")), Some(Missing::UnknownShard), "no shard is named ''");
    }

    #[test]
    fn an_object_counts_once_past_the_grace_period_and_is_reported_once() {
        let grace = Duration::from_secs(60);
        let start = Instant::now();
        let key = ObjectName::new(Kind::KmsKey, Some("apps"), "orders");
        let alias = ObjectName::new(Kind::KmsAlias, Some("apps"), "orders");
        let mut census = Census::default();
        let objects = || [(key.clone(), Some(Missing::Absent)), (alias.clone(), None)];

        let look = census.look(start, grace, objects());
        assert_eq!(look.counts.values().sum::<usize>(), 0, "within the grace period");
        assert_eq!(look.counts.len(), 8, "every kind and problem, zero or not");
        let look = census.look(start + grace, grace, objects());
        assert_eq!(look.counts[&(Kind::KmsKey, Missing::Absent)], 1);
        assert_eq!(look.counts.values().sum::<usize>(), 1, "the held alias does not count");
        assert_eq!(look.newly_overdue, [(key.clone(), Missing::Absent)]);
        let look = census.look(start + grace * 2, grace, objects());
        assert_eq!(look.counts[&(Kind::KmsKey, Missing::Absent)], 1);
        assert_eq!(look.newly_overdue, [], "reported once");
    }

    #[test]
    fn a_claimed_object_is_forgotten_and_a_changed_problem_starts_afresh() {
        let grace = Duration::from_secs(60);
        let start = Instant::now();
        let key = ObjectName::new(Kind::KmsKey, Some("apps"), "orders");
        let mut census = Census::default();
        census.look(start, grace, [(key.clone(), Some(Missing::Absent))]);
        census.look(start + grace / 2, grace, [(key.clone(), None)]);
        let look = census.look(start + grace, grace, [(key.clone(), Some(Missing::Absent))]);
        assert_eq!(look.counts[&(Kind::KmsKey, Missing::Absent)], 0, "released again: a new grace period");
        let look = census.look(start + grace * 2, grace, [(key.clone(), Some(Missing::UnknownShard))]);
        assert_eq!(look.counts.values().sum::<usize>(), 0, "a new problem: a new grace period");
        let look = census.look(start + grace * 3, grace, []);
        assert_eq!(look.counts.values().sum::<usize>(), 0, "gone");
    }
}
