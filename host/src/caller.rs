//! Who started the host: the browser tells us in argv, and only allowed callers are served.
//!
//! Chrome and Edge pass `chrome-extension://ID/` (and on Windows `--parent-window=N`); Firefox
//! passes the path of the host manifest and then the add-on ID.

/// The calling extension, as the browser named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A Chromium-family extension origin, normalised with a trailing slash.
    ChromeOrigin(String),
    /// A Firefox add-on ID.
    FirefoxAddon(String),
}

impl Caller {
    /// Reads the caller from the arguments after the program name; `None` when no browser
    /// argument is present.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Option<Caller> {
        let positional: Vec<&str> = args.iter().map(AsRef::as_ref).filter(|a| !a.starts_with("--")).collect();
        let first = *positional.first()?;
        if first.starts_with("chrome-extension://") {
            let origin = if first.ends_with('/') { first.to_owned() } else { format!("{first}/") };
            return Some(Caller::ChromeOrigin(origin));
        }
        if first.to_ascii_lowercase().ends_with(".json") {
            return positional.get(1).map(|id| Caller::FirefoxAddon((*id).to_owned()));
        }
        None
    }

    /// The string compared against `allowedOrigins`.
    pub fn identity(&self) -> &str {
        match self {
            Caller::ChromeOrigin(origin) => origin,
            Caller::FirefoxAddon(id) => id,
        }
    }

    /// Whether the configuration allows this caller (trailing slashes on origins don't matter).
    pub fn is_allowed(&self, allowed: &[String]) -> bool {
        let normalise = |s: &str| s.trim_end_matches('/').to_ascii_lowercase();
        let me = normalise(self.identity());
        allowed.iter().any(|entry| normalise(entry) == me)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_args_recognises_each_browser_shape() {
        let cases: &[(&[&str], Option<Caller>)] = &[
            (&["chrome-extension://abc/"], Some(Caller::ChromeOrigin("chrome-extension://abc/".into()))),
            (&["chrome-extension://abc"], Some(Caller::ChromeOrigin("chrome-extension://abc/".into()))),
            (
                &["chrome-extension://abc/", "--parent-window=0"],
                Some(Caller::ChromeOrigin("chrome-extension://abc/".into())),
            ),
            (
                &["--parent-window=42", "chrome-extension://abc/"],
                Some(Caller::ChromeOrigin("chrome-extension://abc/".into())),
            ),
            (
                &[
                    "/usr/lib/mozilla/native-messaging-hosts/uk.nhs.cis_renew.json",
                    crate::deploy::identity::FIREFOX_ID,
                ],
                Some(Caller::FirefoxAddon(crate::deploy::identity::FIREFOX_ID.into())),
            ),
            (
                &["C:\\Program Files\\cis-renew\\firefox.JSON", "x@y"],
                Some(Caller::FirefoxAddon("x@y".into())),
            ),
            (&["/path/manifest.json"], None),
            (&[], None),
            (&["status"], None),
        ];
        for (args, expected) in cases {
            assert_eq!(&Caller::from_args(args), expected, "{args:?}");
        }
    }

    #[test]
    fn is_allowed_compares_exact_identity() {
        let allowed =
            vec!["chrome-extension://abc/".to_string(), crate::deploy::identity::FIREFOX_ID.to_string()];
        assert!(Caller::ChromeOrigin("chrome-extension://abc/".into()).is_allowed(&allowed));
        assert!(Caller::FirefoxAddon(crate::deploy::identity::FIREFOX_ID.into()).is_allowed(&allowed));
        assert!(!Caller::ChromeOrigin("chrome-extension://abd/".into()).is_allowed(&allowed));
        assert!(!Caller::ChromeOrigin("chrome-extension://abcd/".into()).is_allowed(&allowed));
        assert!(!Caller::FirefoxAddon("evil@extension".into()).is_allowed(&allowed));
    }
}
