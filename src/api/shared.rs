use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Points at a `KmsKey` in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyReference {
    /// Name of a `KmsKey` in the namespace of the referring object.
    pub name: String,
}
