//! What a change to the manifests removes (`plan --base`): the objects of the manifests before
//! it that the manifests after it no longer hold. GitOps prunes them once the change is merged,
//! and the controller then does what deleting them means (a `Retain` key released, a `Delete`
//! key scheduled for deletion, aliases deleted, grants retired, alarms deleted), so a plan of
//! the change plans exactly that, before the changes of what stays.

use std::collections::BTreeSet;

use super::manifests::{Loaded, ManifestSet};
use super::result::ResourceResult;
use crate::api::{Kind, ObjectName, Reason};
use crate::engine::Finding;

/// The removed objects, as a set to delete: the removed keys, aliases and grants, and the
/// accounts and namespaces their deletion is judged by.
pub struct Removals {
    pub set: ManifestSet,
    /// The objects that are removed (accounts among them); the accounts and namespaces of
    /// `set` that are not named here are kept and there only to admit the removed objects.
    pub removed: BTreeSet<ObjectName>,
}

fn name_of<T: kube::Resource>(kind: Kind, loaded: &Loaded<T>) -> ObjectName {
    ObjectName::of(kind, loaded.object.meta())
}

/// Those of `before` that `kept` names no more.
fn gone<T: kube::Resource + Clone>(kind: Kind, before: &[Loaded<T>], kept: &[Loaded<T>]) -> Vec<Loaded<T>> {
    let after: BTreeSet<ObjectName> = kept.iter().map(|o| name_of(kind, o)).collect();
    before.iter().filter(|o| !after.contains(&name_of(kind, o))).cloned().collect()
}

/// Marks a result of the deletion plan as a removed object's. Removing an `AwsAccount` changes
/// nothing in KMS (the controller keeps no finalizer on it), which its row says.
pub fn mark_removed(result: &mut ResourceResult) {
    result.removed = true;
    if result.object.kind == Kind::AwsAccount {
        result.notices.push(Finding::new(
            Reason::AccountRemoved,
            format!(
                "{} is removed: nothing in KMS changes, and its account-wide alarms and shared metric filters stay (set spec.monitoring.keyDeletionAlarm: false before removing it to delete them)",
                result.object
            ),
        ));
    }
}

/// What `after` removes of `before`. A removed object is deleted in the cluster that holds the
/// change, so it is admitted by the accounts and namespace labels of `after`, and by those of
/// `before` only where `after` has none of that name (an account removed with its keys).
pub fn removals(before: &ManifestSet, after: &ManifestSet) -> Removals {
    let removed_accounts = gone(Kind::AwsAccount, &before.accounts, &after.accounts);
    let mut accounts = after.accounts.clone();
    accounts.extend(removed_accounts.iter().cloned());
    let mut namespaces = after.namespaces.clone();
    namespaces.extend(before.namespaces.iter().filter(|n| after.namespace(&n.object.name).is_none()).cloned());
    let set = ManifestSet::of(
        accounts,
        gone(Kind::KmsKey, &before.keys, &after.keys),
        gone(Kind::KmsAlias, &before.aliases, &after.aliases),
        gone(Kind::KmsGrant, &before.grants, &after.grants),
        namespaces,
    );
    let mut removed: BTreeSet<ObjectName> = removed_accounts.iter().map(|a| name_of(Kind::AwsAccount, a)).collect();
    removed.extend(set.keys.iter().map(|k| name_of(Kind::KmsKey, k)));
    removed.extend(set.aliases.iter().map(|a| name_of(Kind::KmsAlias, a)));
    removed.extend(set.grants.iter().map(|g| name_of(Kind::KmsGrant, g)));
    Removals { set, removed }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::local::manifests::load;

    fn set(yaml: &str) -> ManifestSet {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("set.yaml");
        std::fs::write(&file, yaml).expect("write");
        let (set, issues) = load(&[PathBuf::from(&file)], crate::local::manifests::ReadLimits::default());
        assert!(issues.is_empty(), "{issues:?}");
        set
    }

    const ACCOUNT: &str = "apiVersion: kmsoperator.dev/v1alpha1\nkind: AwsAccount\nmetadata: {name: sec}\nspec: {accountId: '111122223333', region: eu-west-1, allowedNamespaces: {}}\n";

    fn key(name: &str) -> String {
        format!(
            "---\napiVersion: kmsoperator.dev/v1alpha1\nkind: KmsKey\nmetadata: {{name: {name}, namespace: apps}}\nspec: {{accountRef: sec}}\n"
        )
    }

    fn alias(name: &str, key: &str) -> String {
        format!(
            "---\napiVersion: kmsoperator.dev/v1alpha1\nkind: KmsAlias\nmetadata: {{name: {name}, namespace: apps}}\nspec: {{name: alias/{name}, keyRef: {{name: {key}}}}}\n"
        )
    }

    fn names(removals: &Removals) -> Vec<String> {
        removals.removed.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn what_is_gone_is_removed_and_judged_by_the_accounts_that_stay() {
        let before = set(&format!("{ACCOUNT}{}{}{}", key("kept"), key("old"), alias("old", "kept")));
        let after = set(&format!("{ACCOUNT}{}", key("kept")));
        let removals = removals(&before, &after);
        assert_eq!(names(&removals), vec!["KmsKey apps/old", "KmsAlias apps/old"]);
        assert_eq!(removals.set.keys.len(), 1, "the kept key is not deleted");
        assert_eq!(removals.set.accounts.len(), 1, "the account the removed objects are admitted by");
        assert!(removals.set.key("apps", "kept").is_none());
    }

    #[test]
    fn an_account_removed_with_its_keys_is_removed_and_still_reaches_them() {
        let before = set(&format!("{ACCOUNT}{}", key("old")));
        let after = set(&key("other").replace("accountRef: sec", "accountRef: elsewhere"));
        let removals = removals(&before, &after);
        assert_eq!(names(&removals), vec!["AwsAccount sec", "KmsKey apps/old"]);
        assert!(removals.set.account("sec").is_some());
    }

    #[test]
    fn nothing_is_removed_by_a_change_that_only_adds() {
        let before = set(ACCOUNT);
        let after = set(&format!("{ACCOUNT}{}", key("new")));
        let removals = removals(&before, &after);
        assert!(removals.removed.is_empty() && removals.set.keys.is_empty());
    }
}
