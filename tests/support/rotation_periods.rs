//! What moto leaves out of key rotation, put back in the fault proxy: moto accepts
//! `RotationPeriodInDays` on EnableKeyRotation but forgets it, and GetKeyRotationStatus never
//! reports a period. Real KMS reports the period set (365 when none was given), which is what
//! lets the operator see period drift; with this layer the tests can see it too.

use std::collections::HashMap;

use serde_json::Value;

/// KMS's period when EnableKeyRotation names none.
const DEFAULT_PERIOD_DAYS: u64 = 365;

#[derive(Default)]
pub struct RotationPeriods {
    by_key: HashMap<String, u64>,
}

/// The key id in a `KeyId` that may be an id or a key ARN.
fn key_id(request: &Value) -> Option<String> {
    let id = request["KeyId"].as_str()?;
    Some(id.rsplit_once("key/").map_or(id, |(_, id)| id).to_owned())
}

impl RotationPeriods {
    /// Remembers the period of a successful EnableKeyRotation; forgets it on DisableKeyRotation.
    pub fn record(&mut self, operation: &str, request: &[u8], succeeded: bool) {
        let Some(id) = serde_json::from_slice(request).ok().as_ref().and_then(key_id) else {
            return;
        };
        if !succeeded {
            return;
        }
        match operation {
            "EnableKeyRotation" => {
                let request: Value = serde_json::from_slice(request).unwrap_or_default();
                let days = request["RotationPeriodInDays"].as_u64().unwrap_or(DEFAULT_PERIOD_DAYS);
                self.by_key.insert(id, days);
            }
            "DisableKeyRotation" => {
                self.by_key.remove(&id);
            }
            _ => {}
        }
    }

    /// GetKeyRotationStatus with the period KMS would report; `None` leaves the answer alone.
    pub fn answer(&self, operation: &str, request: &[u8], response: &Value) -> Option<Value> {
        if operation != "GetKeyRotationStatus" || response["KeyRotationEnabled"] != Value::Bool(true) {
            return None;
        }
        let id = serde_json::from_slice(request).ok().as_ref().and_then(key_id)?;
        let days = self.by_key.get(&id).copied().unwrap_or(DEFAULT_PERIOD_DAYS);
        let mut answer = response.clone();
        answer["RotationPeriodInDays"] = Value::from(days);
        Some(answer)
    }
}
