//! What moto leaves out of keys whose material KMS does not make, and of key metadata, put back
//! in the fault proxy as KMS documents it:
//!
//! - A key created with `Origin: EXTERNAL` starts in `PendingImport`, disabled, until its owner
//!   imports material (Developer Guide, "Key states of AWS KMS keys": "Keys with imported key
//!   material are created in the PendingImport state"); moto creates it `Enabled`. Here it stays
//!   `PendingImport` (nothing imports material), and, as the key state table says, EnableKey,
//!   DisableKey and CreateGrant are refused with `KMSInvalidStateException` ("is pending
//!   import").
//! - A key in a custom key store (`AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`) is created only in a
//!   key store that exists (CreateKey API reference: `CustomKeyStoreNotFoundException`), and
//!   DescribeKey reports `CustomKeyStoreId`, `CloudHsmClusterId` (CloudHSM) or
//!   `XksKeyConfiguration.Id` (external key store) (KeyMetadata API reference); moto drops them.
//! - Rotation calls on any key whose material KMS did not make answer
//!   `UnsupportedOperationException` (key state table, notes on GetKeyRotationStatus,
//!   EnableKeyRotation, DisableKeyRotation).
//! - HMAC keys: `MacAlgorithms` is present only for `GENERATE_VERIFY_MAC` keys and
//!   `EncryptionAlgorithms` only for `ENCRYPT_DECRYPT` keys (KeyMetadata API reference); moto
//!   reports RSA encryption algorithms for HMAC keys and no MAC algorithms.
//! - A multi-Region key's `MultiRegionKeyType` is `PRIMARY` for the primary and `REPLICA` for
//!   its replicas (MultiRegionConfiguration API reference); moto's replica shares its
//!   primary's configuration, so describing the replica turns the primary into a `REPLICA`.

use std::collections::HashMap;

use serde_json::{Value, json};

/// The custom key stores a test declares, by id: their type and (CloudHSM) cluster.
#[derive(Clone, Debug)]
pub struct CustomKeyStore {
    pub id: String,
    /// `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`.
    pub kind: String,
}

#[derive(Clone, Debug, Default)]
struct Material {
    origin: String,
    custom_key_store_id: Option<String>,
    xks_key_id: Option<String>,
}

#[derive(Default)]
pub struct KeyMaterialAsKms {
    stores: HashMap<String, CustomKeyStore>,
    /// Keys created through the proxy whose material KMS does not make, by key id.
    keys: HashMap<String, Material>,
}

/// An error KMS would answer, for the proxy to send instead of forwarding.
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

fn key_id(request: &Value) -> Option<String> {
    let id = request["KeyId"].as_str()?;
    Some(id.rsplit_once("key/").map_or(id, |(_, id)| id).to_owned())
}

/// KMS's MAC algorithm for an HMAC key spec (`HMAC_256` → `HMAC_SHA_256`).
fn mac_algorithm(key_spec: &str) -> Option<String> {
    key_spec.strip_prefix("HMAC_").map(|bits| format!("HMAC_SHA_{bits}"))
}

/// The copy whose ARN is the primary's is the primary.
fn family_role(metadata: &mut Value) {
    let Some(primary) = metadata["MultiRegionConfiguration"]["PrimaryKey"]["Arn"].as_str() else { return };
    let role = if metadata["Arn"].as_str() == Some(primary) { "PRIMARY" } else { "REPLICA" };
    metadata["MultiRegionConfiguration"]["MultiRegionKeyType"] = json!(role);
}

impl KeyMaterialAsKms {
    pub fn new(stores: &[CustomKeyStore]) -> Self {
        KeyMaterialAsKms { stores: stores.iter().map(|s| (s.id.clone(), s.clone())).collect(), keys: HashMap::new() }
    }

    /// The answer KMS gives instead of doing `operation`, if it refuses it.
    pub fn refuse(&self, operation: &str, request: &[u8]) -> Option<Refused> {
        let request: Value = serde_json::from_slice(request).ok()?;
        if operation == "CreateKey" {
            let store = request["CustomKeyStoreId"].as_str()?;
            return (!self.stores.contains_key(store)).then(|| Refused {
                code: "CustomKeyStoreNotFoundException",
                message: format!("Custom key store {store} does not exist"),
            });
        }
        let id = key_id(&request)?;
        let material = self.keys.get(&id)?;
        let pending_import = material.origin == "EXTERNAL";
        match operation {
            "EnableKey" | "DisableKey" | "CreateGrant" if pending_import => {
                Some(Refused { code: "KMSInvalidStateException", message: format!("{id} is pending import.") })
            }
            "GetKeyRotationStatus" | "EnableKeyRotation" | "DisableKeyRotation" | "RotateKeyOnDemand" => {
                Some(Refused {
                    code: "UnsupportedOperationException",
                    message: format!("{id} origin is {} which is not valid for this operation.", material.origin),
                })
            }
            _ => None,
        }
    }

    /// Remembers the material of a key CreateKey made (moto forgets the key store).
    pub fn record(&mut self, operation: &str, request: &[u8], response: &Value) {
        if operation != "CreateKey" {
            return;
        }
        let Ok(request) = serde_json::from_slice::<Value>(request) else { return };
        let origin = request["Origin"].as_str().unwrap_or("AWS_KMS");
        let Some(id) = response["KeyMetadata"]["KeyId"].as_str() else { return };
        if origin == "AWS_KMS" {
            return;
        }
        let material = Material {
            origin: origin.to_owned(),
            custom_key_store_id: request["CustomKeyStoreId"].as_str().map(str::to_owned),
            xks_key_id: request["XksKeyId"].as_str().map(str::to_owned),
        };
        self.keys.insert(id.to_owned(), material);
    }

    /// CreateKey, DescribeKey and ReplicateKey with the key metadata KMS reports; `None` leaves
    /// the answer alone.
    pub fn answer(&self, operation: &str, response: &Value) -> Option<Value> {
        let field = match operation {
            "CreateKey" | "DescribeKey" => "KeyMetadata",
            "ReplicateKey" => "ReplicaKeyMetadata",
            _ => return None,
        };
        let mut answer = response.clone();
        let metadata = answer.get_mut(field)?;
        self.describe(metadata);
        family_role(metadata);
        Some(answer)
    }

    fn describe(&self, metadata: &mut Value) {
        let usage = metadata["KeyUsage"].as_str().unwrap_or("ENCRYPT_DECRYPT").to_owned();
        let spec = metadata["KeySpec"].as_str().unwrap_or("SYMMETRIC_DEFAULT").to_owned();
        if let Some(fields) = metadata.as_object_mut() {
            if usage != "ENCRYPT_DECRYPT" {
                fields.remove("EncryptionAlgorithms");
            }
            if usage == "GENERATE_VERIFY_MAC"
                && let Some(algorithm) = mac_algorithm(&spec)
            {
                fields.insert("MacAlgorithms".into(), json!([algorithm]));
            }
        }
        let Some(material) = metadata["KeyId"].as_str().and_then(|id| self.keys.get(id)) else { return };
        if material.origin == "EXTERNAL" {
            metadata["KeyState"] = json!("PendingImport");
            metadata["Enabled"] = json!(false);
            metadata["ExpirationModel"] = json!("KEY_MATERIAL_DOES_NOT_EXPIRE");
        }
        if let Some(store) = material.custom_key_store_id.as_ref().and_then(|id| self.stores.get(id)) {
            metadata["CustomKeyStoreId"] = json!(store.id);
            if store.kind == "AWS_CLOUDHSM" {
                metadata["CloudHsmClusterId"] =
                    json!(format!("cluster-{}", &store.id[store.id.len().saturating_sub(11)..]));
            }
        }
        if let Some(xks) = &material.xks_key_id {
            metadata["XksKeyConfiguration"] = json!({"Id": xks});
        }
    }
}
