//! A key as KMS shows it, read into plain values.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::aws::model::{KeyDescription, RotationEntry, RotationState};
use crate::engine::monitoring::ObservedMonitoring;
use crate::engine::ownership::owner_of;

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedReplica {
    pub region: String,
    pub key: KeyDescription,
    pub policy: Option<Value>,
    pub tags: BTreeMap<String, String>,
    /// Created by the operator for this object: it carries the object's ownership tag, or this
    /// process made it moments ago. Only such replicas (and declared ones) may be changed or
    /// deleted.
    pub created_here: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedKey {
    pub key: KeyDescription,
    /// `None` when not read (the key is pending deletion).
    pub policy: Option<Value>,
    /// `None` where rotation does not apply or was not read.
    pub rotation: Option<RotationState>,
    /// Every rotation so far; `None` when not read (see `rotate_now::needs_history`).
    pub rotation_history: Option<Vec<RotationEntry>>,
    pub tags: BTreeMap<String, String>,
    /// The ownership tag of its multi-Region primary, when this key is a replica that carries
    /// none of its own: a family has one owner, the primary's.
    pub primary_owner: Option<String>,
    pub replicas: Vec<ObservedReplica>,
    /// The key's alarms and filters; `None` when its account has no monitoring, or not read
    /// (the key is pending deletion).
    pub monitoring: Option<ObservedMonitoring>,
}

impl ObservedKey {
    /// The ownership tag that decides whose the key is: its own, else its primary's.
    pub fn owner_tag(&self) -> Option<&str> {
        owner_of(&self.tags).or(self.primary_owner.as_deref())
    }

    pub fn replica(&self, region: &str) -> Option<&ObservedReplica> {
        self.replicas.iter().find(|r| r.region == region)
    }
}

/// Where the key for a `KmsKey` stands.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyObservation {
    /// No key carries this object's ownership tag.
    Missing,
    Found(Box<ObservedKey>),
    /// The key recorded for this object carries no ownership tag of it.
    NotOwned {
        key: Box<KeyDescription>,
        owner: Option<String>,
    },
    /// Several live keys carry this object's ownership tag: a create was repeated (a run
    /// killed while its CreateKey was in flight, a listing that had not caught up).
    Duplicates(Vec<Duplicate>),
    /// `import.keyId` names no key.
    ImportNotFound {
        key_id: String,
    },
    /// The key recorded in status no longer exists.
    Gone {
        key_id: String,
    },
}

/// One of several keys carrying the same object's ownership tag, and what refers to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Duplicate {
    pub key: KeyDescription,
    /// Aliases of its region that point at it.
    pub aliases: Vec<String>,
    /// Grants on it.
    pub grants: usize,
}

impl Duplicate {
    /// Whether anything would break if it went: an alias resolves to it or a grant is on it.
    pub fn is_referenced(&self) -> bool {
        !self.aliases.is_empty() || self.grants > 0
    }
}

/// KMS returns policies as JSON text; a text that does not parse is kept as a string so that
/// it compares unequal to every real policy.
pub fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}
