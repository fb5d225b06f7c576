//! CloudWatch's Smithy RPC v2 CBOR protocol, translated to the JSON 1.0 protocol the local AWS
//! server parses (moto reads CloudWatch's JSON and query protocols, not CBOR). The Rust SDK
//! sends `POST /service/GraniteServiceVersion20100801/operation/<Operation>` with a CBOR body
//! and `smithy-protocol: rpc-v2-cbor`; the server gets `POST /` with
//! `X-Amz-Target: GraniteServiceVersion20100801.<Operation>` and the same document as JSON, and
//! its JSON answer goes back as CBOR. Timestamps are CBOR tag 1 with a float (what the SDK's
//! decoder requires): in CloudWatch's model every timestamp member's name ends in `Timestamp`.
//! https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html

use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value as Json};

/// The `(service, operation)` of an RPC v2 request path.
pub fn rpc_v2_operation(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/service/")?;
    let (service, operation) = rest.split_once("/operation/")?;
    Some((service, operation))
}

pub fn cbor_to_json(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.is_empty() {
        return Ok(b"{}".to_vec());
    }
    let value: Cbor = ciborium::from_reader(bytes).map_err(|e| e.to_string())?;
    serde_json::to_vec(&to_json(value)).map_err(|e| e.to_string())
}

pub fn json_to_cbor(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let value: Json = if bytes.is_empty() {
        Json::Object(Map::new())
    } else {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?
    };
    let mut out = Vec::new();
    ciborium::into_writer(&to_cbor(value, false), &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn to_json(value: Cbor) -> Json {
    match value {
        Cbor::Integer(i) => Json::Number(Number::from(i128::from(i) as i64)),
        Cbor::Float(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
        Cbor::Text(text) => Json::String(text),
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Null => Json::Null,
        Cbor::Tag(_, inner) => to_json(*inner),
        Cbor::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Cbor::Map(entries) => Json::Object(
            entries
                .into_iter()
                .filter_map(|(k, v)| match k {
                    Cbor::Text(key) => Some((key, to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        Cbor::Bytes(bytes) => Json::String(String::from_utf8_lossy(&bytes).into_owned()),
        _ => Json::Null,
    }
}

fn to_cbor(value: Json, timestamp: bool) -> Cbor {
    match value {
        Json::Number(n) if timestamp => Cbor::Tag(1, Box::new(Cbor::Float(n.as_f64().unwrap_or_default()))),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Cbor::Integer(i.into()),
            (None, Some(f)) => Cbor::Float(f),
            _ => Cbor::Null,
        },
        Json::String(text) => Cbor::Text(text),
        Json::Bool(b) => Cbor::Bool(b),
        Json::Null => Cbor::Null,
        Json::Array(items) => Cbor::Array(items.into_iter().map(|v| to_cbor(v, false)).collect()),
        Json::Object(map) => Cbor::Map(
            map.into_iter()
                // A null member is an absent one; the SDK's decoder takes no null for a list or map.
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let timestamp = k.ends_with("Timestamp");
                    (Cbor::Text(k), to_cbor(v, timestamp))
                })
                .collect(),
        ),
    }
}
