//! What an access token says about itself: the claims in a JWT's payload, read without
//! verifying the signature (the token is only ever checked by the service it is for). Used for
//! a passthrough token's expiry and, in messages, for who the caller is. Opaque tokens have no
//! claims: every field is then `None`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The claims ssprctl reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Claims {
    /// Expiry, seconds since 1970.
    pub exp: Option<u64>,
    /// Tenant id.
    pub tid: Option<String>,
    /// The signed-in user's object id (delegated tokens; an app's service principal otherwise).
    pub oid: Option<String>,
    /// The signed-in user's name (delegated tokens only).
    pub upn: Option<String>,
    /// Delegated permissions, space-separated.
    pub scp: Option<String>,
    /// Application permissions.
    pub roles: Option<Vec<String>>,
    /// The application (client) id: `appid` (v1 tokens) or `azp` (v2).
    pub appid: Option<String>,
    pub azp: Option<String>,
    /// The application's name (v1 tokens).
    pub app_displayname: Option<String>,
    /// The signed-in user's name in v2 tokens.
    pub preferred_username: Option<String>,
}

impl Claims {
    /// The claims of `token`, or `None` for an opaque token.
    pub fn of(token: &str) -> Option<Claims> {
        let mut parts = token.split('.');
        let (_header, payload) = (parts.next()?, parts.next()?);
        parts.next()?;
        if payload.len() > 64 * 1024 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// When the token expires.
    pub fn expires_at(&self) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::from_secs(self.exp?))
    }

    /// The application (client) id.
    pub fn client_id(&self) -> Option<&str> {
        self.appid.as_deref().or(self.azp.as_deref())
    }

    /// The signed-in user, for a delegated token.
    pub fn user(&self) -> Option<&str> {
        self.upn.as_deref().or(self.preferred_username.as_deref())
    }

    /// True for a token that acts for a signed-in user.
    pub fn delegated(&self) -> bool {
        self.scp.is_some()
    }
}

/// A time as an HTTP date (`Wed, 25 Nov 2026 10:00:00 GMT`), for messages.
pub fn show_time(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_jwt_payload_and_ignores_opaque_tokens() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000,"tid":"t","scp":"User.Read"}"#);
        let c = Claims::of(&format!("eyJhbGciOiJub25lIn0.{payload}.sig")).unwrap();
        assert_eq!(c.exp, Some(1_700_000_000));
        assert!(c.delegated());
        assert_eq!(
            show_time(c.expires_at().unwrap()),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert!(Claims::of("opaque-token").is_none());
        assert!(Claims::of("a.!!!.c").is_none());
        // A huge exp can't overflow the clock.
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":18446744073709551615}"#);
        let c = Claims::of(&format!("h.{payload}.s")).unwrap();
        assert!(c.expires_at().is_none());
    }
}
