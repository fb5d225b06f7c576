use serde::{Deserialize, Deserializer};

/// API.md writes optional strings as `""` in its examples; an empty string means "not set".
pub fn empty_as_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(deserializer)?;
    Ok(value.filter(|s| !s.is_empty()))
}

pub fn is_false(value: &bool) -> bool {
    !*value
}

pub fn is_true(value: &bool) -> bool {
    *value
}

pub fn default_true() -> bool {
    true
}
