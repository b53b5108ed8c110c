//! The card side: does the PKCS#11 module load, is the smart card service reachable, which
//! readers are there, and does the backend that will drive the managed card know it. A module
//! that loads but shows no token for the card in the managed reader is a FAIL: the extension
//! would show "no card" to a user holding one.

use super::super::locations::Os;
use super::{Check, ReaderLine};
use crate::config::{CardBackend, Config};
use crate::readers::{ReaderRule, Readers};
use crate::token::TokenModule;

/// Loads the configured PKCS#11 module as the host would (after the same ownership check).
pub fn check_module(config: &Config) -> (Check, Option<TokenModule>) {
    let name = "pkcs11 module";
    let path = &config.pkcs11_module;
    if let Some(fix) = super::config::permission_fix(path) {
        let problem = crate::fileperm::check_admin_only(path).err().unwrap_or_default();
        let detail = format!("{} {problem}, so the host will not load it", path.display());
        return (Check::fail(name, &detail, &fix), None);
    }
    match TokenModule::load(path) {
        Ok(module) => {
            let tokens = module.pkcs11().get_slots_with_token().map(|s| s.len()).unwrap_or(0);
            let library = library_name(&module);
            let detail = format!("{} loads ({library}); {tokens} token(s) present", path.display());
            (Check::ok(name, detail), Some(module))
        }
        Err(error) => {
            let fix = format!(
                "install the card's middleware, or set \"pkcs11Module\" in {} to its PKCS#11 library (OpenSC: {})",
                super::config::config_path().display(),
                crate::config::default_pkcs11_module().display()
            );
            (
                Check::fail(name, &format!("{} ({})", error.message.trim_end_matches('.'), error.code), &fix),
                None,
            )
        }
    }
}

/// Which middleware it is (e.g. "OpenSC Project, OpenSC smartcard framework 0.23").
fn library_name(module: &TokenModule) -> String {
    module
        .pkcs11()
        .get_library_info()
        .map(|i| {
            let v = i.library_version();
            format!(
                "{}, {} {}.{}",
                i.manufacturer_id().trim(),
                i.library_description().trim(),
                v.major(),
                v.minor()
            )
        })
        .unwrap_or_default()
}

/// The readers, and the managed one by the configured rule.
pub fn check_readers(os: Os, config: &Config, checks: &mut Vec<Check>) -> (Vec<ReaderLine>, Option<String>) {
    let readers = match Readers::connect().and_then(|r| r.list()) {
        Ok(readers) => readers,
        Err(error) => {
            let fix = match os {
                Os::Windows => {
                    "start the Smart Card service (sc config SCardSvr start= auto && sc start SCardSvr)"
                }
                Os::MacOs => "reconnect the card reader (macOS starts its smart card service on demand)",
                Os::Linux => "sudo systemctl enable --now pcscd.socket",
            };
            checks.push(Check::fail(
                "smart card service",
                &format!("{} ({})", error.message.trim_end_matches('.'), error.code),
                fix,
            ));
            return (Vec::new(), None);
        }
    };
    checks.push(Check::ok("smart card service", format!("reachable; {} reader(s)", readers.len())));
    let names: Vec<&str> = readers.iter().map(|r| r.name.as_str()).collect();
    let rule = ReaderRule::from_config(config.managed_reader.as_deref());
    let managed = rule.pick(&names);
    let lines: Vec<ReaderLine> = readers
        .iter()
        .enumerate()
        .map(|(i, r)| ReaderLine {
            name: r.name.clone(),
            card_present: r.card_present,
            managed: Some(i) == managed,
        })
        .collect();
    for line in &lines {
        let detail = format!(
            "{}: {}{}",
            line.name,
            if line.card_present { "card present" } else { "empty" },
            if line.managed { " (managed reader: the user's card)" } else { "" }
        );
        checks.push(Check::ok("reader", detail));
    }
    let rule_text = match &rule {
        ReaderRule::Second => "the second reader".to_string(),
        ReaderRule::Pattern(p) => format!("the first reader matching '{p}'"),
    };
    match managed {
        Some(i) => checks.push(Check::ok("managed reader", format!("{} ({rule_text})", names[i]))),
        None if readers.is_empty() => {
            checks.push(Check::warn("managed reader", "no card readers are connected"))
        }
        None => checks.push(Check::warn("managed reader", format!("none: no reader is {rule_text}"))),
    }
    (lines, managed.map(|i| names[i].to_string()))
}

/// The card in the managed reader, through the backend the host will use for it: PIV when
/// `cardBackend` allows and the card answers SELECT PIV, else the PKCS#11 module's token
/// (found as `status` finds it: the slot map, else the slot named after the reader).
pub fn check_managed_card(config: &Config, module: Option<&TokenModule>, reader: &str) -> Check {
    let name = "managed card";
    let config_file = super::config::config_path();
    let piv = if config.card_backend == CardBackend::Pkcs11 {
        None
    } else {
        Some(crate::piv::inventory::read(reader))
    };
    match (&piv, config.card_backend) {
        (Some(Ok(Some(card))), _) => {
            return Check::ok(
                name,
                format!(
                    "{reader}: PIV card {} ({} certificate(s)), driven over PC/SC (cardBackend {})",
                    card.card_id(),
                    card.certificates.len(),
                    backend_name(config.card_backend)
                ),
            )
        }
        (Some(Ok(None)), CardBackend::Piv) => {
            return Check::fail(
                name,
                &format!("the card in {reader} has no PIV application, and cardBackend is \"piv\""),
                &format!(
                    "set \"cardBackend\" to \"auto\" in {} with a \"pkcs11Module\" that knows this card",
                    config_file.display()
                ),
            )
        }
        (Some(Err(e)), CardBackend::Piv) => {
            return Check::fail(
                name,
                &format!("the card in {reader} did not answer as a PIV card ({e})"),
                "take the card out and put it in again; if it persists, set \"cardBackend\" to \"auto\"",
            )
        }
        _ => {}
    }
    let Some(module) = module else {
        // The module check above failed and says how to fix it; nothing more to learn here.
        return Check::warn(
            name,
            format!("a card is in {reader}; not checked, the PKCS#11 module did not load"),
        );
    };
    let binding = config.slot_map.get(reader);
    match module.slot_for_reader(reader, binding) {
        Ok(Some(slot)) => match module.pkcs11().get_token_info(slot) {
            Ok(token) => Check::ok(
                name,
                format!(
                    "slot {} ({reader}): token '{}', {} {}",
                    slot.id(),
                    token.label().trim(),
                    token.manufacturer_id().trim(),
                    token.model().trim()
                ),
            ),
            Err(error) => Check::fail(
                name,
                &format!("slot {}: C_GetTokenInfo failed ({error})", slot.id()),
                "take the card out and put it in again; if it persists, the middleware does not support this card",
            ),
        },
        Ok(None) => {
            let module_path = config.pkcs11_module.display();
            let problem = format!(
                "a card is in {reader}, but {module_path} ({}) shows no token for it: the middleware does not know this \
                 card, so the extension would say there is no card",
                library_name(module)
            );
            let answers_piv = config.card_backend == CardBackend::Pkcs11
                && matches!(crate::piv::inventory::read(reader), Ok(Some(_)));
            let fix = if answers_piv {
                format!("it is a PIV card: set \"cardBackend\" to \"auto\" (or \"piv\") in {}", config_file.display())
            } else if binding.is_some() {
                format!(
                    "correct \"slotMap\" for \"{reader}\" in {} (no token has that label or serial), or remove it",
                    config_file.display()
                )
            } else {
                format!(
                    "set \"pkcs11Module\" in {} to the middleware for this card (OpenSC's {} for a SmartCard-HSM or \
                     PIV card), install the card's driver, or map the reader to its token in \"slotMap\"",
                    config_file.display(),
                    crate::config::default_pkcs11_module().display()
                )
            };
            Check::fail(name, &problem, &fix)
        }
        Err(error) => Check::fail(
            name,
            &format!("{} ({})", error.message.trim_end_matches('.'), error.code),
            "take the card out and put it in again; if it persists, check the middleware's own log",
        ),
    }
}

fn backend_name(backend: CardBackend) -> &'static str {
    match backend {
        CardBackend::Auto => "auto",
        CardBackend::Pkcs11 => "pkcs11",
        CardBackend::Piv => "piv",
    }
}
