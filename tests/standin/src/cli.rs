//! Command-line parsing into a [`Command`]; `--help` text.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::app::Policy;
use crate::provision::{PivProvisionOptions, ProvisionOptions, SchsmProvisionOptions};
use crate::server::ServeOptions;

/// Help text.
pub const USAGE: &str = "\
cis-standin: stand-in CIS dashboard with an EST certificate authority

USAGE:
  cis-standin [serve] [--data DIR] [--port N] [--window-days N] [--validity-days N]
                      [--admin-token TOKEN] [--tls] [--service-menu KIND]
                      [--csr-key-algorithm p384|p256|rsa2048|rsa3072]
  cis-standin provision --data DIR --softhsm-conf FILE --label LABEL --user USER
                      [--pin PIN] [--so-pin PIN] [--auth-days N] [--sign-days N]
  cis-standin provision --data DIR --piv-card DIR --user USER [--pin PIN]
                      [--mgmt-alg 3des|aes128|aes192|aes256] [--alg p384|p256|rsa2048]
                      [--auth-days N] [--sign-days N]
  cis-standin provision --data DIR --schsm-card FILE --user USER [--pin PIN]
                      [--alg p384|p256|rsa2048] [--auth-days N] [--sign-days N]
  cis-standin register-card --data DIR --user USER [--serial S] [--label LABEL]
                      [--auth-days N] [--sign-days N]
  cis-standin --help

serve          Serve the dashboard on 127.0.0.1 and print one JSON ready line on stdout.
               --data defaults to ./standin-data; --port 0 (default) picks a free port.
               Renewal window 90 days and validity 730 days by default.
               --service-menu draws Manage Smartcard's Select Service as menu (default),
               overlay (created on open), select (native select + Go) or icon (icon button).
               --csr-key-algorithm is the key algorithm EST csrattrs asks for (default p384).
provision      Make a SoftHSM token for a seeded user (through the test bed's
               `cis-testbed provision`) with two P-384 key pairs and certificates from
               this stand-in's CA, register it, and print the card as JSON.
               With --piv-card: make a PIV test card in a new directory instead (through
               `cis-testbed piv provision`; management key derived from this stand-in's
               master secret, AES-256 by default), register it as a PIV card (card ID =
               CHUID GUID hex), and print it as JSON.
               With --schsm-card: make a virtual SmartCard-HSM card file instead (through
               `cis-testbed schsm provision`, i.e. OpenSC), register it under the token
               serial OpenSC reports, and print it as JSON.
register-card  Register a card without a token (certificates for throwaway keys).

USER is a handle (alice, bob, carol) or a 12-digit UUID. Days may be negative (expired).
";

/// What to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Print the help text.
    Help,
    /// Run the server.
    Serve(ServeOptions),
    /// Make and register a SoftHSM card.
    Provision(ProvisionOptions),
    /// Make and register a PIV test card.
    ProvisionPiv(PivProvisionOptions),
    /// Make and register a virtual SmartCard-HSM card file.
    ProvisionSchsm(SchsmProvisionOptions),
    /// Register a card without a token.
    RegisterCard(RegisterOptions),
}

/// Options of `register-card`.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// Data directory.
    pub data: PathBuf,
    /// User handle or UUID.
    pub user: String,
    /// Token serial (random if absent).
    pub serial: Option<String>,
    /// Token label.
    pub label: Option<String>,
    /// Days until the authentication certificate expires.
    pub auth_days: i64,
    /// Days until the signing certificate expires.
    pub sign_days: i64,
}

fn num<T: std::str::FromStr>(p: &mut lexopt::Parser, name: &str) -> Result<T, String> {
    let v = p.value().map_err(|e| e.to_string())?;
    v.string().map_err(|_| format!("{name}: not UTF-8"))?.parse().map_err(|_| format!("{name}: not a number"))
}

fn text(p: &mut lexopt::Parser) -> Result<String, String> {
    p.value().map_err(|e| e.to_string())?.string().map_err(|_| "value is not UTF-8".to_owned())
}

/// Parses arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut sub: Option<String> = None;
    let mut data = None;
    let mut port = 0u16;
    let mut policy = Policy::default();
    let mut admin_token = None;
    let mut tls = false;
    let mut softhsm_conf = None;
    let mut label = None;
    let mut pin = None;
    let mut so_pin = None;
    let mut user = None;
    let mut serial = None;
    let mut auth_days = 45i64;
    let mut sign_days = 45i64;
    let mut piv_card = None;
    let mut schsm_card = None;
    let mut mgmt_alg = cis_renew_testbed::piv::MgmtAlg::Aes256;
    let mut alg = "p384".to_owned();
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Long("data") => data = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("port") => port = num(&mut p, "--port")?,
            Long("window-days") => policy.window_days = num(&mut p, "--window-days")?,
            Long("validity-days") => policy.validity_days = num(&mut p, "--validity-days")?,
            Long("csr-key-algorithm") => policy.csr_key_algorithm = text(&mut p)?.parse()?,
            Long("service-menu") => policy.service_menu = text(&mut p)?.parse()?,
            Long("admin-token") => admin_token = Some(text(&mut p)?),
            Long("tls") => tls = true,
            Long("softhsm-conf") => softhsm_conf = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("label") => label = Some(text(&mut p)?),
            Long("pin") => pin = Some(text(&mut p)?),
            Long("so-pin") => so_pin = Some(text(&mut p)?),
            Long("user") => user = Some(text(&mut p)?),
            Long("serial") => serial = Some(text(&mut p)?),
            Long("auth-days") => auth_days = num(&mut p, "--auth-days")?,
            Long("sign-days") => sign_days = num(&mut p, "--sign-days")?,
            Long("piv-card") => piv_card = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("schsm-card") => schsm_card = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("mgmt-alg") => mgmt_alg = text(&mut p)?.parse().map_err(|e| format!("--mgmt-alg: {e}"))?,
            Long("alg") => {
                alg = text(&mut p)?;
                if !["p384", "p256", "rsa2048"].contains(&alg.as_str()) {
                    return Err(format!("--alg {alg:?}: use p384, p256 or rsa2048"));
                }
            }
            Value(v) if sub.is_none() => {
                sub = Some(v.string().map_err(|_| "command is not UTF-8".to_owned())?)
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    if policy.window_days < 0 || policy.validity_days <= 0 {
        return Err("--window-days must be >= 0 and --validity-days > 0".into());
    }
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required"));
    match sub.as_deref().unwrap_or("serve") {
        "serve" => Ok(Command::Serve(ServeOptions {
            data: data.unwrap_or_else(|| PathBuf::from("standin-data")),
            port,
            policy,
            admin_token,
            tls,
        })),
        "provision" if piv_card.is_some() && schsm_card.is_some() => {
            Err("--piv-card and --schsm-card: choose one".into())
        }
        "provision" if schsm_card.is_some() => Ok(Command::ProvisionSchsm(SchsmProvisionOptions {
            data: data.ok_or("--data is required")?,
            card: schsm_card.unwrap_or_default(),
            user: need(user, "--user")?,
            pin: pin.unwrap_or_else(|| cis_renew_testbed::token::DEFAULT_USER_PIN.to_owned()),
            alg,
            auth_days,
            sign_days,
        })),
        "provision" if piv_card.is_some() => Ok(Command::ProvisionPiv(PivProvisionOptions {
            data: data.ok_or("--data is required")?,
            card: piv_card.unwrap_or_default(),
            user: need(user, "--user")?,
            pin: pin.unwrap_or_else(|| cis_renew_testbed::piv::DEFAULT_PIN.to_owned()),
            mgmt_alg,
            alg,
            auth_days,
            sign_days,
        })),
        "provision" => Ok(Command::Provision(ProvisionOptions {
            data: data.ok_or("--data is required")?,
            softhsm_conf: softhsm_conf.ok_or("--softhsm-conf is required")?,
            label: need(label, "--label")?,
            pin: pin.unwrap_or_else(|| cis_renew_testbed::token::DEFAULT_USER_PIN.to_owned()),
            so_pin: so_pin.unwrap_or_else(|| cis_renew_testbed::token::DEFAULT_SO_PIN.to_owned()),
            user: need(user, "--user")?,
            auth_days,
            sign_days,
        })),
        "register-card" => Ok(Command::RegisterCard(RegisterOptions {
            data: data.ok_or("--data is required")?,
            user: need(user, "--user")?,
            serial,
            label,
            auth_days,
            sign_days,
        })),
        other => Err(format!("unknown command {other:?}; see --help")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn parse_defaults_to_serve_on_a_free_port() {
        match parse(args("--data /tmp/x")) {
            Ok(Command::Serve(o)) => {
                assert_eq!(o.port, 0);
                assert_eq!(o.policy.window_days, 90);
                assert_eq!(o.policy.validity_days, 730);
                assert!(!o.tls);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_provision_requires_label_and_user() {
        let e = parse(args("provision --data d --softhsm-conf c --user alice"));
        assert!(matches!(e, Err(m) if m.contains("--label")));
        match parse(args("provision --data d --softhsm-conf c --label L --user alice --auth-days -1")) {
            Ok(Command::Provision(o)) => assert_eq!((o.auth_days, o.sign_days), (-1, 45)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_provision_schsm_card() {
        match parse(args("provision --data d --schsm-card c.json --user bob --alg rsa2048")) {
            Ok(Command::ProvisionSchsm(o)) => {
                assert_eq!(o.card, PathBuf::from("c.json"));
                assert_eq!((o.user.as_str(), o.alg.as_str(), o.pin.as_str()), ("bob", "rsa2048", "123456"));
            }
            other => panic!("{other:?}"),
        }
        let e = parse(args("provision --data d --schsm-card c --piv-card p --user bob"));
        assert!(matches!(e, Err(m) if m.contains("choose one")));
    }

    #[test]
    fn parse_service_menu_kinds() {
        use crate::web::pages::service_menu::ServiceMenu;
        match parse(args("serve --service-menu overlay")) {
            Ok(Command::Serve(o)) => assert_eq!(o.policy.service_menu, ServiceMenu::Overlay),
            other => panic!("{other:?}"),
        }
        let e = parse(args("serve --service-menu dropdown"));
        assert!(matches!(e, Err(m) if m.contains("menu, overlay, select, icon")));
    }

    #[test]
    fn parse_refuses_unknown_options_and_commands() {
        assert!(parse(args("--bogus")).is_err());
        assert!(parse(args("launch")).is_err());
        assert!(parse(args("--port notanumber")).is_err());
    }
}
