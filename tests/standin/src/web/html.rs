//! HTML building: escaping and the page layout shared by every page (NHS-style
//! header, skip link, signed-in bar, CSRF meta tag).

use std::fmt::Write;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::session::Session;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn query_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Content-Security-Policy for pages. Extension frames (the PIN dialog) are
/// allowed; scripts come only from this origin; inline styles are allowed
/// (extensions inject them).
const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     frame-src 'self' chrome-extension: moz-extension:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// One rendered page.
pub struct Page<'a> {
    /// `<title>` and the `<h1>` unless the body has its own.
    pub title: &'a str,
    /// `data-page` on `<body>`.
    pub page_id: &'a str,
    /// The signed-in session, if any (adds the header bar and CSRF meta).
    pub session: Option<&'a Session>,
    /// The page's main content, already HTML.
    pub body: String,
}

impl Page<'_> {
    /// Renders the page with status 200.
    pub fn render(self) -> Response {
        self.render_with(StatusCode::OK)
    }

    /// Renders the page with a status.
    pub fn render_with(self, status: StatusCode) -> Response {
        let mut meta = String::new();
        let mut account = String::new();
        if let Some(s) = self.session {
            let _ = write!(
                meta,
                r#"<meta name="csrf-token" content="{csrf}">
<meta name="est-base" content="/.well-known/est">
<meta name="sponsor" content="{user}">
"#,
                csrf = esc(&s.csrf),
                user = esc(&s.username)
            );
            let _ = write!(
                account,
                r#"<div class="account" id="account">
<span id="signed-in-as" data-sponsor="{user}">Signed in as <strong>{name}</strong></span>
<form id="signout-form" method="post" action="/signout">
<input type="hidden" name="csrf_token" value="{csrf}">
<button type="submit" id="signout-button" class="link-button">Sign out</button>
</form>
</div>"#,
                user = esc(&s.username),
                name = esc(&s.display_name),
                csrf = esc(&s.csrf)
            );
        }
        let home = if self.session.is_some() { "/home" } else { "/signin" };
        let html = format!(
            r##"<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta}<title>{title} - Care Identity Service (stand-in)</title>
<link rel="stylesheet" href="/static/cis.css">
<script src="/static/cis.js" defer></script>
</head>
<body data-page="{page_id}">
<a class="skip-link" href="#main-content">Skip to main content</a>
<header class="site-header" id="site-header" role="banner">
<div class="container header-row">
<a class="brand" href="{home}" aria-label="Care Identity Service home"><span class="logo" aria-hidden="true">NHS</span>
<span class="service-name">Care Identity Service <span class="standin">stand-in</span></span></a>
{account}
</div>
</header>
<main class="container" id="main-content" tabindex="-1">
{body}
</main>
<footer class="site-footer" id="site-footer"><div class="container">A stand-in for the CIS dashboard, for cis-renew's demo and tests. Not an NHS service.</div></footer>
</body>
</html>
"##,
            title = esc(self.title),
            page_id = esc(self.page_id),
            body = self.body,
        );
        let mut resp = (status, html).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        resp
    }
}

/// A small page that explains a refusal (401, 403, 404...).
pub fn message_page(
    status: StatusCode,
    title: &str,
    id: &str,
    text: &str,
    session: Option<&Session>,
) -> Response {
    Page {
        title,
        page_id: "message",
        session,
        body: format!(
            r#"<h1>{t}</h1>
<div class="error-summary" id="{id}" role="alert"><p>{text}</p></div>
<p><a href="/home">Back to the dashboard</a></p>"#,
            t = esc(title),
            id = esc(id),
            text = esc(text)
        ),
    }
    .render_with(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_escapes_markup_and_quotes() {
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn query_value_encodes_reserved_bytes() {
        assert_eq!(query_value("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }
}
