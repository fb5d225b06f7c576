//! The claim: an annotation on each object naming the shard that writes it. A shard takes an
//! unclaimed object whose account it selects, and gives back one whose account it no longer
//! selects; both are writes conditional on the object's resourceVersion, so of two shards that
//! try at once on different views only one succeeds. docs/operations.md ("Sharding") has the
//! argument for why this leaves every object at most one writer.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::super::context::ControllerError;
use super::super::status::FIELD_MANAGER;

/// The annotation that names the shard writing an object.
pub const CLAIM: &str = "kmsoperator.dev/shard";

/// What a shard does with an object on a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Its own: the usual pass.
    Reconcile,
    /// Unclaimed, and its account is this shard's: claim it, then pass on the claim's event.
    Claim,
    /// Its own, but its account is no longer this shard's: give it back, and nothing else.
    Release,
    /// Another shard's, nobody's, or this view of it is older than this shard's own release.
    LeaveAlone,
}

/// What shard `me` does with an object claimed by `claim`. `selected` is whether the object's
/// account matches the shard's selector (`None` when the account, or an alias's key, is not
/// known). `released` says this shard released the object since it last claimed it: a view
/// still naming this shard is then older than that release, and is not trusted.
pub fn decide(me: &str, claim: Option<&str>, selected: Option<bool>, released: bool) -> Step {
    match claim {
        Some(holder) if holder == me => match (released, selected) {
            (true, _) => Step::LeaveAlone,
            (false, Some(false)) => Step::Release,
            // An account gone (or a key gone) leaves the object with its holder: it reports the
            // missing reference and lets a deletion finish, as without shards.
            (false, _) => Step::Reconcile,
        },
        None if selected == Some(true) => Step::Claim,
        _ => Step::LeaveAlone,
    }
}

/// The shard named in an object's claim.
pub fn holder<K: Resource>(object: &K) -> Option<&str> {
    object.meta().annotations.as_ref()?.get(CLAIM).map(String::as_str)
}

/// Sets (`Some`) or removes (`None`) the claim, only if `object` is still the version read:
/// a stale view fails with a conflict instead of overwriting another shard's claim.
pub async fn write<K>(api: &Api<K>, object: &K, claim: Option<&str>) -> Result<(), ControllerError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let name = object.name_any();
    let version = object.resource_version();
    // The resourceVersion in a patch makes the API server apply it to that version only.
    let mut annotations = serde_json::Map::new();
    annotations.insert(CLAIM.to_owned(), json!(claim));
    let patch = json!({ "metadata": { "resourceVersion": version, "annotations": annotations } });
    match api.patch(&name, &PatchParams::apply(FIELD_MANAGER), &Patch::Merge(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Err(ControllerError::Stale(kube::Error::Api(status))),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unclaimed_object_of_a_selected_account_is_claimed() {
        assert_eq!(decide("prod", None, Some(true), false), Step::Claim);
        assert_eq!(decide("prod", None, Some(false), false), Step::LeaveAlone);
        assert_eq!(decide("prod", None, None, false), Step::LeaveAlone, "an unknown account is nobody's to claim");
        assert_eq!(
            decide("prod", Some("dev"), Some(true), false),
            Step::LeaveAlone,
            "held by another shard: wait for it to give the object back, whatever this shard's view of the account"
        );
    }

    #[test]
    fn the_holder_gives_back_what_it_no_longer_selects_and_keeps_what_it_cannot_place() {
        assert_eq!(decide("prod", Some("prod"), Some(true), false), Step::Reconcile);
        assert_eq!(decide("prod", Some("prod"), Some(false), false), Step::Release);
        assert_eq!(decide("prod", Some("prod"), None, false), Step::Reconcile);
    }

    #[test]
    fn a_view_older_than_the_shard_s_own_release_is_not_trusted() {
        // The account came back to this shard while its cache of the object still shows the
        // claim it gave up: another shard may hold the object by now.
        assert_eq!(decide("prod", Some("prod"), Some(true), true), Step::LeaveAlone);
        assert_eq!(decide("prod", None, Some(true), true), Step::Claim, "claiming again is a conditional write");
    }
}
