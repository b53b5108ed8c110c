//! The rules of each card-management call, in order. A renewal's states:
//! `authenticated` (the service answered the card's witness and sent its challenge) ->
//! `issuing` (the card's response checked; CSRs being issued) -> `issued` -> `installed`;
//! a wrong response or a refused CSR makes it `failed`, a newer renewal of the same card makes
//! an `authenticated` one `superseded`, and so does installing an issued one (the newer
//! renewal was the session that wrote the certificates, or was abandoned). The challenge is single-use: the first
//! `certificates` call consumes it, whatever its outcome.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::keys;
use crate::app::App;
use crate::clock;
use crate::csr;
use crate::est::reenroll;
use crate::est::Refusal;
use crate::pkcs7;
use crate::role::Role;
use crate::store::{Card, NewAudit, PivCard, Renewal};
use crate::web::session::{random_token, Session};
use cis_renew_testbed::piv::MgmtAlg;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn bad(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, code, message)
}

fn string<'v>(body: &'v Value, name: &str) -> Result<&'v str, Refusal> {
    body.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| bad("bad_request", format!("The body needs a string {name:?}.")))
}

fn base64_field(body: &Value, name: &str) -> Result<Vec<u8>, Refusal> {
    B64.decode(string(body, name)?).map_err(|_| bad("bad_request", format!("{name:?} is not base64.")))
}

/// The PIV card with this card ID (CHUID GUID hex) and its management facts.
fn piv_card(app: &App, card_id: &str) -> Result<(Card, PivCard, [u8; 16]), Refusal> {
    let unknown = || {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "unknown_card",
            format!("No PIV card {card_id:?} is known to the service; its card ID is the CHUID GUID in hex."),
        )
    };
    let guid = keys::parse_card_id(card_id).ok_or_else(unknown)?;
    let serial = card_id.to_ascii_lowercase();
    let card = app.store.card_by_serial(&serial).map_err(Refusal::internal)?.ok_or_else(unknown)?;
    let piv = app.store.piv_card(card.id).map_err(Refusal::internal)?.ok_or_else(unknown)?;
    Ok((card, piv, guid))
}

fn mgmt_key(app: &App, guid: &[u8; 16], alg: MgmtAlg) -> Result<Vec<u8>, Refusal> {
    let master = app.store.card_master_secret().map_err(Refusal::internal)?;
    Ok(keys::derive(&master, guid, alg))
}

/// `POST /renewals`: decrypts the card's witness with its management key and answers with
/// a fresh challenge.
pub fn begin(app: &App, session: &Session, body: &Value, audit: &mut NewAudit) -> Result<Value, Refusal> {
    let card_id = string(body, "cardId")?;
    audit.card_serial = Some(card_id.to_ascii_lowercase());
    let algorithm: MgmtAlg = string(body, "algorithm")?
        .parse()
        .map_err(|_| bad("bad_request", "\"algorithm\" is one of 3des, aes128, aes192, aes256."))?;
    let witness = base64_field(body, "witness")?;
    let (card, piv, guid) = piv_card(app, card_id)?;
    if piv.mgmt_alg != algorithm.name() {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "wrong_algorithm",
            format!("Card {} has a {} management key, not {algorithm}.", card.serial, piv.mgmt_alg),
        ));
    }
    if witness.len() != algorithm.block_len() {
        return Err(bad(
            "bad_witness",
            format!(
                "A {algorithm} witness is one {}-byte block, not {} bytes.",
                algorithm.block_len(),
                witness.len()
            ),
        ));
    }
    let key = mgmt_key(app, &guid, algorithm)?;
    let decrypted = algorithm.decrypt_block(&key, &witness).map_err(Refusal::internal)?;
    let mut challenge = vec![0u8; algorithm.block_len()];
    getrandom::fill(&mut challenge).map_err(Refusal::internal)?;
    let id = random_token().map_err(Refusal::internal)?;
    app.store
        .begin_renewal(&id, card.id, session.sponsor_id, algorithm.name(), &challenge)
        .map_err(Refusal::internal)?;
    Ok(json!({ "renewal": id, "witness": B64.encode(decrypted), "challenge": B64.encode(challenge) }))
}

fn renewal_of(app: &App, id: &str) -> Result<Renewal, Refusal> {
    app.store.renewal(id).map_err(Refusal::internal)?.ok_or_else(|| {
        Refusal::new(StatusCode::NOT_FOUND, "unknown_renewal", format!("There is no renewal {id:?}."))
    })
}

fn used(r: &Renewal) -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "renewal_used",
        format!(
            "Renewal {} is {} and its challenge is spent; begin a new renewal (POST /card-admin/v1/renewals).",
            r.id, r.state
        ),
    )
}

/// One CSR of the body, checked against the card before anything is issued.
struct Request {
    role: Role,
    der: Vec<u8>,
}

/// `POST /renewals/{id}/certificates`: checks the card's answer to the challenge, then
/// issues each CSR by EST's rules; records the CSRs and certificates.
pub fn certificates(
    app: &App,
    session: &Session,
    id: &str,
    body: &Value,
    audit: &mut NewAudit,
) -> Result<Value, Refusal> {
    let renewal = renewal_of(app, id)?;
    let card = app
        .store
        .card_by_id(renewal.card_id)
        .map_err(Refusal::internal)?
        .ok_or_else(|| Refusal::internal("the renewal's card is missing"))?;
    audit.card_serial = Some(card.serial.clone());
    if renewal.sponsor_id != session.sponsor_id {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "other_sponsor",
            "This renewal was begun in another sponsor's session.",
        ));
    }
    if renewal.state != "authenticated" {
        return Err(used(&renewal));
    }
    let response = base64_field(body, "response")?;
    let requests = parse_requests(app, &card, body)?;

    // Claim the challenge: of two racing calls, one moves the renewal on; the other sees it used.
    if !app.store.move_renewal(id, "authenticated", "issuing", None).map_err(Refusal::internal)? {
        return Err(used(&renewal_of(app, id)?));
    }
    let algorithm: MgmtAlg = renewal.algorithm.parse().map_err(Refusal::internal)?;
    let guid = keys::parse_card_id(&card.serial)
        .ok_or_else(|| Refusal::internal("a PIV card's serial is not a GUID"))?;
    let key = mgmt_key(app, &guid, algorithm)?;
    let expected = algorithm.encrypt_block(&key, &renewal.challenge).map_err(Refusal::internal)?;
    if !bool::from(response.ct_eq(&expected)) {
        fail(app, id);
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "card_auth_failed",
            format!(
                "Card {}'s answer to the challenge is wrong: it does not hold this card's management key.",
                card.serial
            ),
        ));
    }

    // EST's rules pick the card by subject; the selected card settles a person with several.
    let mut on_card = session.clone();
    on_card.selected_card = Some(card.serial.clone());
    let mut issued = Vec::new();
    for r in &requests {
        let mut entry = NewAudit {
            sponsor: audit.sponsor.clone(),
            card_serial: Some(card.serial.clone()),
            ..NewAudit::default()
        };
        match reenroll::reenroll(app, &on_card, &r.der, Some(r.role), clock::now(), &mut entry) {
            Ok(cert) => {
                entry.status = 200;
                entry.code = if cert.repeated { "repeated" } else { "issued" }.to_owned();
                entry.reason = format!("Issued through the card-management API (renewal {id}).");
                entry.issued_serial = Some(cert.serial.clone());
                if let Err(e) = app.store.audit(&entry) {
                    eprintln!("cis-standin: audit write failed: {e}");
                }
                app.store
                    .record_renewal_request(id, r.role.as_str(), &r.der, Some((&cert.serial, &cert.der)))
                    .map_err(Refusal::internal)?;
                issued.push(cert.der);
            }
            Err(refusal) => {
                let _ = app.store.record_renewal_request(id, r.role.as_str(), &r.der, None);
                audit.role = entry.role;
                audit.subject = entry.subject;
                fail(app, id);
                return Err(refusal);
            }
        }
    }
    let refs: Vec<&[u8]> = issued.iter().map(Vec::as_slice).collect();
    let p7 = pkcs7::certs_only(&refs).map_err(Refusal::internal)?;
    app.store.move_renewal(id, "issuing", "issued", Some(&p7)).map_err(Refusal::internal)?;
    Ok(json!({ "certificates": B64.encode(p7) }))
}

fn fail(app: &App, id: &str) {
    if let Err(e) = app.store.move_renewal(id, "issuing", "failed", None) {
        eprintln!("cis-standin: marking renewal {id} failed: {e}");
    }
}

/// The body's `requests`: one or two, distinct roles, each a CSR for this card.
fn parse_requests(app: &App, card: &Card, body: &Value) -> Result<Vec<Request>, Refusal> {
    let list = body
        .get("requests")
        .and_then(Value::as_array)
        .filter(|l| (1..=2).contains(&l.len()))
        .ok_or_else(|| bad("bad_request", "\"requests\" is a list of one or two {\"role\", \"csr\"}."))?;
    let mut out: Vec<Request> = Vec::new();
    for item in list {
        let role: Role = string(item, "role")?
            .parse()
            .map_err(|_| bad("bad_request", "A request's \"role\" is authentication or signing."))?;
        if out.iter().any(|r| r.role == role) {
            return Err(bad("bad_request", format!("Two requests for the {role} certificate.")));
        }
        let der = base64_field(item, "csr")?;
        let checked = csr::check(&der)?;
        let current =
            app.store.current_certs_by_subject(&checked.subject_der, role).map_err(Refusal::internal)?;
        if !current.iter().any(|c| c.card_id == card.id) {
            return Err(Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_card",
                format!(
                    "Card {} has no current {role} certificate with subject \"{}\"; the CSR must renew this card's certificate.",
                    card.serial, checked.subject
                ),
            ));
        }
        out.push(Request { role, der });
    }
    Ok(out)
}

/// `GET /cards/{cardId}/renewal`: the newest unfinished renewal of the card.
pub fn of_card(app: &App, card_id: &str, audit: &mut NewAudit) -> Result<Value, Refusal> {
    audit.card_serial = Some(card_id.to_ascii_lowercase());
    let (card, _, _) = piv_card(app, card_id)?;
    let renewal = app.store.unfinished_renewal(card.id).map_err(Refusal::internal)?.ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "no_renewal",
            format!("Card {} has no unfinished renewal.", card.serial),
        )
    })?;
    let mut v = json!({ "renewal": renewal.id, "state": renewal.state });
    if let Some(p7) = &renewal.certificates {
        v["certificates"] = Value::from(B64.encode(p7));
    }
    Ok(v)
}

/// `POST /renewals/{id}/installed`: closes an issued renewal (idempotent once installed).
pub fn installed(app: &App, session: &Session, id: &str, audit: &mut NewAudit) -> Result<(), Refusal> {
    let renewal = renewal_of(app, id)?;
    let card = app.store.card_by_id(renewal.card_id).map_err(Refusal::internal)?;
    audit.card_serial = card.as_ref().map(|c| c.serial.clone());
    match renewal.state.as_str() {
        "installed" => return Ok(()),
        "issued" => {}
        other => {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                "renewal_not_issued",
                format!("Renewal {id} is {other}: only an issued renewal can be installed."),
            ))
        }
    }
    if !app.store.move_renewal(id, "issued", "installed", None).map_err(Refusal::internal)? {
        return Ok(());
    }
    app.store.supersede_authenticated(renewal.card_id).map_err(Refusal::internal)?;
    let serials: Vec<String> = app
        .store
        .renewal_requests(id)
        .map_err(Refusal::internal)?
        .into_iter()
        .filter_map(|r| r.cert_serial)
        .collect();
    let entry = NewAudit {
        sponsor: Some(session.username.clone()),
        card_serial: audit.card_serial.clone(),
        status: 204,
        code: "installed".into(),
        reason: format!("The card reported renewal {id} installed."),
        issued_serial: Some(serials.join(",")),
        ..NewAudit::default()
    };
    app.store.audit(&entry).map_err(Refusal::internal)
}
