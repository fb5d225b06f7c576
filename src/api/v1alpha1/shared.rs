use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KmsAliasSpec, KmsGrantSpec};

/// Points at a `KmsKey` in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyReference {
    /// Name of a `KmsKey` in the namespace of the referring object.
    pub name: String,
}

/// How a `KmsAlias` or `KmsGrant` names its key: `keyRef` to a KmsKey of its namespace, or
/// `targetKeyId` with `accountRef` for a key the operator does not manage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPointer<'a> {
    pub key_ref: Option<&'a KeyReference>,
    pub target_key_id: Option<&'a str>,
    pub account_ref: Option<&'a str>,
    pub region: Option<&'a str>,
}

impl KmsAliasSpec {
    pub fn pointer(&self) -> KeyPointer<'_> {
        KeyPointer {
            key_ref: self.key_ref.as_ref(),
            target_key_id: self.target_key_id.as_deref(),
            account_ref: self.account_ref.as_deref(),
            region: self.region.as_deref(),
        }
    }
}

impl KmsGrantSpec {
    pub fn pointer(&self) -> KeyPointer<'_> {
        KeyPointer {
            key_ref: self.key_ref.as_ref(),
            target_key_id: self.target_key_id.as_deref(),
            account_ref: self.account_ref.as_deref(),
            region: self.region.as_deref(),
        }
    }
}
