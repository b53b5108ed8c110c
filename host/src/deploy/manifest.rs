//! The native-messaging host manifests: the one place that says what a manifest contains.
//!
//! Chrome, Chromium and Edge read `allowed_origins` (`chrome-extension://ID/`); Firefox reads
//! `allowed_extensions` (add-on IDs). The committed files under `manifests/`, the .deb, the MSI
//! and `cis-renew-host install` all come from [`HostManifest::for_browser`], so they cannot drift.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The native host name the extension connects to (docs/ids.md).
pub const HOST_NAME: &str = "uk.nhs.cis_renew";
/// The manifest's human description (Chrome shows it nowhere, but IT reads it).
pub const DESCRIPTION: &str = "cis-renew: renews the certificates on an NHS smartcard";
/// The Chromium extension ID (manifests/identity.json).
pub const EXTENSION_ID: &str = super::identity::CHROMIUM_ID;
/// The Edge extension ID (the same as [`EXTENSION_ID`] unless Edge Add-ons gave its own).
pub const EDGE_ID: &str = super::identity::EDGE_ID;
/// The Firefox add-on ID.
pub const FIREFOX_ADDON_ID: &str = super::identity::FIREFOX_ID;

/// A browser that can start the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Browser {
    /// Google Chrome.
    Chrome,
    /// Chromium (Debian's `chromium` package, and builds that use their own config dirs).
    Chromium,
    /// Microsoft Edge.
    Edge,
    /// Mozilla Firefox (and Firefox ESR).
    Firefox,
}

impl Browser {
    /// Every supported browser, in the order tables list them.
    pub const ALL: [Browser; 4] = [Browser::Chrome, Browser::Chromium, Browser::Edge, Browser::Firefox];

    /// The lower-case name used on the command line and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
            Browser::Firefox => "firefox",
        }
    }

    /// Parses a command-line browser name.
    pub fn parse(name: &str) -> Option<Browser> {
        Browser::ALL.into_iter().find(|b| b.as_str() == name.to_ascii_lowercase())
    }

    /// Whether the browser reads `allowed_extensions` (Firefox) rather than `allowed_origins`.
    pub fn is_firefox(self) -> bool {
        self == Browser::Firefox
    }
}

impl fmt::Display for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Store IDs, when the extension is also published to a store (a store assigns its own ID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreIds {
    /// The Chrome Web Store ID (Chrome, Chromium and Edge can all install from that store).
    pub chrome_web_store: Option<String>,
    /// The Edge Add-ons ID (only Edge installs from that store).
    pub edge_addons: Option<String>,
    /// More Chromium IDs for Chrome, Chromium and Edge (`--extension-ids`, the MSI's
    /// `EXTENSIONIDS`): a company's own build, or a pilot beside the released extension.
    pub extra: Vec<String>,
}

impl StoreIds {
    /// Checks that each ID has the shape Chromium gives IDs: 32 letters from `a` to `p`.
    pub fn validate(&self) -> Result<(), String> {
        for (flag, id) in
            [("--chrome-web-store-id", &self.chrome_web_store), ("--edge-addons-id", &self.edge_addons)]
        {
            if let Some(id) = id {
                if !is_extension_id(id) {
                    return Err(format!("{flag} '{id}' is not an extension ID (32 letters a-p)"));
                }
            }
        }
        if let Some(id) = self.extra.iter().find(|id| !is_extension_id(id)) {
            return Err(format!("--extension-ids: '{id}' is not an extension ID (32 letters a-p)"));
        }
        Ok(())
    }

    /// No store ID and no extra ID.
    pub fn is_empty(&self) -> bool {
        self.chrome_web_store.is_none() && self.edge_addons.is_none() && self.extra.is_empty()
    }

    /// Every ID, for the host's `allowedOrigins`.
    pub fn all(&self) -> Vec<&str> {
        let stores = [&self.chrome_web_store, &self.edge_addons].into_iter().flatten();
        stores.chain(&self.extra).map(String::as_str).collect()
    }
}

/// A list of extension IDs as IT writes it (`EXTENSIONIDS`, `--extension-ids`): separated by
/// commas, semicolons or spaces; empty entries dropped.
pub fn split_ids(list: &str) -> Vec<String> {
    list.split([',', ';', ' ', '\t']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Whether `id` looks like a Chromium extension ID.
pub fn is_extension_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

/// The `chrome-extension://ID/` origin of an extension ID.
pub fn origin(id: &str) -> String {
    format!("chrome-extension://{id}/")
}

/// A host manifest, serialised with its members in the order the browsers' docs show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostManifest {
    /// Must equal the file name's stem on Linux and macOS, and [`HOST_NAME`] everywhere.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The host executable: absolute on Linux and macOS; on Windows it may be relative to the
    /// manifest's folder, which lets the MSI install anywhere.
    pub path: String,
    /// Always `stdio`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Chromium-family callers.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allowed_origins: Option<Vec<String>>,
    /// Firefox callers.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allowed_extensions: Option<Vec<String>>,
}

impl HostManifest {
    /// The manifest `browser` needs for the host at `path`.
    pub fn for_browser(browser: Browser, path: &str, ids: &StoreIds) -> HostManifest {
        let (allowed_origins, allowed_extensions) = if browser.is_firefox() {
            (None, Some(vec![FIREFOX_ADDON_ID.to_string()]))
        } else {
            (Some(allowed_origins(browser, ids)), None)
        };
        HostManifest {
            name: HOST_NAME.to_string(),
            description: DESCRIPTION.to_string(),
            path: path.to_string(),
            kind: "stdio".to_string(),
            allowed_origins,
            allowed_extensions,
        }
    }

    /// The file's text: pretty JSON with a final newline, byte-for-byte stable.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a manifest file's text (unknown members are ignored, as browsers ignore them).
    pub fn parse(text: &str) -> Result<HostManifest, String> {
        serde_json::from_str(text).map_err(|e| format!("not a valid host manifest ({e})"))
    }
}

/// The Chromium-family origins for `browser`: our IDs (docs/ids.md), then the store IDs that
/// browser can install from.
pub fn allowed_origins(browser: Browser, ids: &StoreIds) -> Vec<String> {
    // Edge runs its own ID (Edge Add-ons) and ours (the same CRX, or the Chrome Web Store's).
    let mut origins = if browser == Browser::Edge { vec![origin(EDGE_ID)] } else { vec![] };
    if !origins.contains(&origin(EXTENSION_ID)) {
        origins.push(origin(EXTENSION_ID));
    }
    let store_ids: Vec<&Option<String>> = match browser {
        Browser::Chrome | Browser::Chromium => vec![&ids.chrome_web_store],
        // Edge installs from both stores.
        Browser::Edge => vec![&ids.edge_addons, &ids.chrome_web_store],
        Browser::Firefox => vec![],
    };
    let extra = if browser.is_firefox() { &[][..] } else { &ids.extra[..] };
    for id in store_ids.into_iter().flatten().chain(extra) {
        let o = origin(id);
        if !origins.contains(&o) {
            origins.push(o);
        }
    }
    origins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_browser_chromium_family_allows_our_origin_only_by_default() {
        for browser in [Browser::Chrome, Browser::Chromium, Browser::Edge] {
            let m = HostManifest::for_browser(browser, "/usr/bin/x", &StoreIds::default());
            assert_eq!(m.name, HOST_NAME);
            assert_eq!(m.kind, "stdio");
            assert_eq!(m.allowed_origins, Some(vec![format!("chrome-extension://{EXTENSION_ID}/")]));
            assert_eq!(m.allowed_extensions, None);
        }
    }

    #[test]
    fn for_browser_firefox_uses_allowed_extensions() {
        let m = HostManifest::for_browser(Browser::Firefox, "/usr/bin/x", &StoreIds::default());
        let text = m.to_text();
        assert!(text.contains("\"allowed_extensions\""), "{text}");
        assert!(!text.contains("allowed_origins"), "{text}");
        assert_eq!(m.allowed_extensions, Some(vec![FIREFOX_ADDON_ID.to_string()]));
    }

    #[test]
    fn allowed_origins_store_ids_go_to_the_browsers_that_use_each_store() {
        let ids = StoreIds {
            chrome_web_store: Some("a".repeat(32)),
            edge_addons: Some("b".repeat(32)),
            extra: vec!["c".repeat(32)],
        };
        let chrome = allowed_origins(Browser::Chrome, &ids);
        let edge = allowed_origins(Browser::Edge, &ids);
        let (a, b, c) = (origin(&"a".repeat(32)), origin(&"b".repeat(32)), origin(&"c".repeat(32)));
        assert_eq!(chrome, vec![origin(EXTENSION_ID), a.clone(), c.clone()]);
        assert_eq!(edge, vec![origin(EXTENSION_ID), b, a, c]);
        assert_eq!(allowed_origins(Browser::Chromium, &ids), chrome);
        let firefox = HostManifest::for_browser(Browser::Firefox, "/x", &ids);
        assert_eq!(firefox.allowed_extensions, Some(vec![FIREFOX_ADDON_ID.to_string()]));
    }

    #[test]
    fn to_text_orders_members_and_round_trips() {
        let m = HostManifest::for_browser(Browser::Chrome, "C:\\x y\\h.exe", &StoreIds::default());
        let text = m.to_text();
        let order: Vec<usize> =
            ["\"name\"", "\"description\"", "\"path\"", "\"type\"", "\"allowed_origins\""]
                .iter()
                .map(|k| text.find(k).expect(k))
                .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.ends_with("}\n"));
        assert_eq!(HostManifest::parse(&text).expect("parses"), m);
    }

    #[test]
    fn validate_rejects_ids_that_are_not_extension_ids() {
        for bad in ["", "abc", &"z".repeat(32), &"A".repeat(32), &"a".repeat(33)] {
            let ids = StoreIds { chrome_web_store: Some(bad.to_string()), ..StoreIds::default() };
            assert!(ids.validate().is_err(), "{bad:?}");
            let ids = StoreIds { extra: vec![EXTENSION_ID.into(), bad.to_string()], ..StoreIds::default() };
            assert!(ids.validate().expect_err(bad).contains("--extension-ids"), "{bad:?}");
        }
        let ok = StoreIds {
            chrome_web_store: Some(EXTENSION_ID.into()),
            edge_addons: Some("p".repeat(32)),
            extra: split_ids(&format!(" {}; {},", "a".repeat(32), "b".repeat(32))),
        };
        assert!(ok.validate().is_ok());
        assert_eq!(ok.extra, ["a".repeat(32), "b".repeat(32)]);
        assert_eq!(ok.all().len(), 4);
    }

    #[test]
    fn browser_parse_accepts_each_name_and_nothing_else() {
        for b in Browser::ALL {
            assert_eq!(Browser::parse(b.as_str()), Some(b));
        }
        assert_eq!(Browser::parse("CHROME"), Some(Browser::Chrome));
        assert_eq!(Browser::parse("safari"), None);
    }
}
