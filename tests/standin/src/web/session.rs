//! Signed-in sessions (in memory), their cookie and CSRF token, and the
//! pre-sign-in token that protects the sign-in form.
//!
//! The session cookie is `cis_session`: HttpOnly, SameSite=Strict, Path=/,
//! Secure under TLS. Each session has a CSRF token that pages expose in
//! `<meta name="csrf-token">`; state-changing requests send it back in the
//! `X-CSRF-Token` header or a `csrf_token` form field.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::clock;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "cis_session";
/// Name of the cookie that pairs with the sign-in form's hidden token.
pub const SIGNIN_COOKIE: &str = "cis_signin";
/// Header that carries the CSRF token on `fetch` requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long without a request.
const IDLE_SECONDS: i64 = 8 * 3600;

/// One signed-in sponsor.
#[derive(Debug, Clone)]
pub struct Session {
    /// Cookie value.
    pub id: String,
    /// Sponsor row id.
    pub sponsor_id: i64,
    /// Sponsor username.
    pub username: String,
    /// Sponsor display name.
    pub display_name: String,
    /// CSRF token for this session.
    pub csrf: String,
    /// The card the sponsor selected on Manage Smartcard.
    pub selected_card: Option<String>,
    last_seen: i64,
}

impl Session {
    /// Whether `token` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| t.as_bytes().ct_eq(self.csrf.as_bytes()).into())
    }
}

/// All sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for a sponsor.
    pub fn create(
        &self,
        sponsor_id: i64,
        username: &str,
        display_name: &str,
    ) -> Result<Session, getrandom::Error> {
        let s = Session {
            id: random_token()?,
            sponsor_id,
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            csrf: random_token()?,
            selected_card: None,
            last_seen: clock::now(),
        };
        let mut map = self.lock();
        let now = clock::now();
        map.retain(|_, v| now - v.last_seen < IDLE_SECONDS);
        map.insert(s.id.clone(), s.clone());
        Ok(s)
    }

    /// The live session named by the request's cookie, refreshed.
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let mut map = self.lock();
        let now = clock::now();
        let s = map.get_mut(id)?;
        if now - s.last_seen >= IDLE_SECONDS {
            map.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Sets or clears the selected card.
    pub fn select_card(&self, id: &str, card: Option<String>) {
        if let Some(s) = self.lock().get_mut(id) {
            s.selected_card = card;
        }
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with the house attributes; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Whether two tokens are equal (constant time), both present and non-empty.
pub fn tokens_match(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) if !a.is_empty() => a.as_bytes().ct_eq(b.as_bytes()).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_finds_named_value_among_several() {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, HeaderValue::from_static("a=1; cis_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn csrf_matches_only_the_session_token() {
        let sessions = Sessions::default();
        let s = sessions.create(1, "u", "U").expect("session");
        assert!(s.csrf_matches(Some(&s.csrf)));
        assert!(!s.csrf_matches(Some("wrong")));
        assert!(!s.csrf_matches(None));
        assert!(!tokens_match(Some(""), Some("")));
    }
}
