//! What an access token says about itself: the claims in a JWT's payload, read without
//! verifying the signature (the token is only ever checked by the service it is for). Used for
//! a passthrough token's expiry and, in messages, for who the caller is. Opaque tokens have no
//! claims: every field is then `None`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The claims ssprctl reads. Each is read on its own: a claim of an unexpected type is left
/// out and named in [`Claims::unreadable`], the others still count (a token is not "opaque"
/// because one claim is odd).
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// Expiry, seconds since 1970 (a NumericDate: a fraction is dropped, a date before 1970 is
    /// negative).
    pub exp: Option<i64>,
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
    /// Claims that are present but can't be read, in words (`exp 1e20 is beyond any date`).
    pub unreadable: Vec<String>,
}

impl Claims {
    /// The claims of `token`, or `None` for an opaque token (not three parts, or a payload
    /// that is not a base64url JSON object).
    pub fn of(token: &str) -> Option<Claims> {
        let mut parts = token.split('.');
        let (_header, payload) = (parts.next()?, parts.next()?);
        parts.next()?;
        if payload.len() > 64 * 1024 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        let map: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
        let mut c = Claims::default();
        let text = |name: &str, c: &mut Claims| match map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                c.unreadable
                    .push(format!("{name} is {} (not text)", kind(other)));
                None
            }
        };
        c.tid = text("tid", &mut c);
        c.oid = text("oid", &mut c);
        c.upn = text("upn", &mut c);
        c.scp = text("scp", &mut c);
        c.appid = text("appid", &mut c);
        c.azp = text("azp", &mut c);
        c.app_displayname = text("app_displayname", &mut c);
        c.preferred_username = text("preferred_username", &mut c);
        c.roles = match map.get("roles") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect(),
            ),
            Some(other) => {
                c.unreadable
                    .push(format!("roles is {} (not a list)", kind(other)));
                None
            }
        };
        c.exp = match map.get("exp") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => numeric_date(n).or_else(|| {
                c.unreadable
                    .push(format!("exp {n} is beyond any date this clock can hold"));
                None
            }),
            Some(other) => {
                c.unreadable
                    .push(format!("exp is {} (not a number)", kind(other)));
                None
            }
        };
        Some(c)
    }

    /// When the token expires.
    pub fn expires_at(&self) -> Option<SystemTime> {
        let exp = self.exp?;
        let secs = Duration::from_secs(exp.unsigned_abs());
        if exp >= 0 {
            UNIX_EPOCH.checked_add(secs)
        } else {
            UNIX_EPOCH.checked_sub(secs)
        }
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

/// A JSON number as whole seconds since 1970 (RFC 7519's NumericDate may have a fraction:
/// it is dropped), when it fits the clock.
fn numeric_date(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?.floor();
    // i64 seconds reach far beyond SystemTime's range either way; this only guards the cast.
    (f.is_finite() && f.abs() < 9.0e15).then_some(f as i64)
}

/// A JSON value's kind, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A time as an HTTP date (`Wed, 25 Nov 2026 10:00:00 GMT`), for messages. HTTP dates run
/// from 1970 to 9999 (httpdate panics outside): a time a token claims beyond them is said in
/// words.
pub fn show_time(t: SystemTime) -> String {
    const YEAR_10000: Duration = Duration::from_secs(253_402_300_800);
    match t.duration_since(UNIX_EPOCH) {
        Err(before) => format!(
            "{} s before Thu, 01 Jan 1970 00:00:00 GMT",
            before.duration().as_secs()
        ),
        Ok(d) if d >= YEAR_10000 => "a date after the year 9999".into(),
        Ok(_) => httpdate::fmt_http_date(t),
    }
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
        assert_eq!(
            c.unreadable,
            ["exp 18446744073709551615 is beyond any date this clock can hold"]
        );
    }

    fn claims(json: &str) -> Claims {
        Claims::of(&format!("h.{}.s", URL_SAFE_NO_PAD.encode(json))).unwrap()
    }

    #[test]
    fn odd_claims_are_read_one_by_one() {
        // A fractional NumericDate (allowed by RFC 7519): the whole seconds.
        let c = claims(r#"{"exp":1700000000.75,"roles":["User.Read.All"],"appid":"a"}"#);
        assert_eq!(c.exp, Some(1_700_000_000));
        assert_eq!(c.roles.as_deref(), Some(&["User.Read.All".to_string()][..]));
        assert!(c.unreadable.is_empty());
        // Before 1970: long expired, still a date.
        let c = claims(r#"{"exp":-5,"scp":"User.Read"}"#);
        assert_eq!(
            c.expires_at(),
            UNIX_EPOCH.checked_sub(Duration::from_secs(5))
        );
        assert!(c.delegated());
        // Beyond 2^64, as a float: named, and the rest still read.
        let c = claims(r#"{"exp":1e20,"tid":"t","roles":["User.Read.All"]}"#);
        assert_eq!(c.exp, None);
        assert_eq!(c.tid.as_deref(), Some("t"));
        assert_eq!(
            c.unreadable,
            ["exp 1e+20 is beyond any date this clock can hold"]
        );
        // Wrong types: named, never a reason to call the token opaque.
        let c = claims(r#"{"exp":"soon","tid":7,"roles":"User.Read.All"}"#);
        assert_eq!(
            c.unreadable,
            [
                "tid is a number (not text)",
                "roles is text (not a list)",
                "exp is text (not a number)"
            ]
        );
        assert!(
            Claims::of("h.WzFd.s").is_none(),
            "an array payload is no claims"
        );
    }
}
