//! Grant tokens. CreateGrant returns a token with which the grantee can use the grant at once,
//! before the grant is visible everywhere in KMS; ListGrants never shows it again. So the token
//! is kept from the CreateGrant that made the grant (in this process, then in the KmsGrant's
//! status), for as long as that grant lives.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::api::KmsGrantStatus;
use crate::engine::cache::lock;

#[derive(Debug, Default)]
pub struct GrantTokens {
    by_grant: Mutex<HashMap<String, String>>,
}

impl GrantTokens {
    pub fn remember(&self, grant_id: &str, token: String) {
        lock(&self.by_grant).insert(grant_id.to_owned(), token);
    }

    /// The grant is retired: its token opens nothing any more.
    pub fn forget(&self, grant_id: &str) {
        lock(&self.by_grant).remove(grant_id);
    }

    /// The token of the live grant `grant_id`: from this process's CreateGrant, else as
    /// `recorded` (the object's status) has it for the same grant.
    pub fn token_of(&self, grant_id: Option<&str>, recorded: Option<&KmsGrantStatus>) -> Option<String> {
        let grant_id = grant_id?;
        if let Some(token) = lock(&self.by_grant).get(grant_id) {
            return Some(token.clone());
        }
        recorded.filter(|s| s.grant_id.as_deref() == Some(grant_id)).and_then(|s| s.grant_token.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_belongs_to_its_grant_only() {
        let tokens = GrantTokens::default();
        let recorded =
            KmsGrantStatus { grant_id: Some("g1".into()), grant_token: Some("t1".into()), ..KmsGrantStatus::default() };
        assert_eq!(tokens.token_of(Some("g1"), Some(&recorded)).as_deref(), Some("t1"), "from status");
        assert_eq!(tokens.token_of(Some("g2"), Some(&recorded)), None, "another grant's token is not this one's");
        tokens.remember("g2", "t2".into());
        assert_eq!(tokens.token_of(Some("g2"), Some(&recorded)).as_deref(), Some("t2"));
        tokens.forget("g2");
        assert_eq!(tokens.token_of(Some("g2"), None), None);
        assert_eq!(tokens.token_of(None, Some(&recorded)), None, "no live grant, no token");
    }
}
