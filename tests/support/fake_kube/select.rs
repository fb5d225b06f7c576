//! Label selectors on LIST and WATCH, as the API server applies them: `key=value`,
//! `key==value`, `key!=value`, `key` and `!key`, joined by commas (all must hold). Set-based
//! selectors (`in`, `notin`) are refused rather than ignored, so a test cannot pass by
//! listing more than a real server would return.

use serde_json::Value;

/// `%XX` sequences decoded, as the query string carries the selector.
fn decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed selector: `(key, Some(value), equal)` or `(key, None, present)`.
pub struct Selector(Vec<(String, Option<String>, bool)>);

impl Selector {
    /// `None` for a selector this fake does not understand.
    pub fn parse(raw: &str) -> Option<Selector> {
        let text = decoded(raw);
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if term.contains(" in ") || term.contains(" notin ") || term.contains('(') {
                return None;
            }
            let parsed = if let Some((k, v)) = term.split_once("!=") {
                (k.to_owned(), Some(v.to_owned()), false)
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (k.to_owned(), Some(v.to_owned()), true)
            } else if let Some(k) = term.strip_prefix('!') {
                (k.to_owned(), None, false)
            } else {
                (term.to_owned(), None, true)
            };
            terms.push(parsed);
        }
        Some(Selector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.0.iter().all(|(key, value, wanted)| {
            let have = labels.get(key).and_then(Value::as_str);
            match value {
                Some(value) => (have == Some(value.as_str())) == *wanted,
                None => have.is_some() == *wanted,
            }
        })
    }
}

/// A listing narrowed to what `selector` selects; a single object is left as it is.
pub fn filter(mut listed: Value, selector: Option<String>) -> Result<Value, super::store::ApiError> {
    let Some(raw) = selector.filter(|s| !s.is_empty()) else {
        return Ok(listed);
    };
    let selector = Selector::parse(&raw)
        .ok_or_else(|| super::store::ApiError::new(400, "BadRequest", "set-based label selectors are not modelled"))?;
    if let Some(items) = listed.get_mut("items").and_then(Value::as_array_mut) {
        items.retain(|item| selector.matches(item));
    }
    Ok(listed)
}
