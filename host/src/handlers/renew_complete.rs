//! `renewComplete` `{"renewalId", "pkcs7": <base64 | [base64...]>}` or
//! `{"renewalId", "certificates": [<base64 DER>...]}`: checks the certificates against the
//! renewal, installs them, retires the old pairs and returns the new `status`.
//!
//! Progress events: `verify`, `install` n of m, `retireOld`, `done`. A certificate that fails
//! the check leaves the renewal open (nothing on the card changed), so the browser may retry;
//! any later failure ends the renewal.

use super::status;
use crate::certs::pkcs7::{certificates_from_pkcs7, decode_base64, MAX_CERTIFICATES};
use crate::certs::renewed::TrustPolicy;
use crate::protocol::message::truncate;
use crate::protocol::{ErrorCode, HostError};
use crate::renewal::install::Interrupted;
use crate::renewal::steps::{reach, ProgressSink, Step};
use crate::renewal::Requested;
use crate::services::Services;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Most PKCS#7 answers in one request (one per EST call, one call per role).
const MAX_ANSWERS: usize = 8;
/// Longest renewal id accepted.
const MAX_ID_LENGTH: usize = 64;

/// A validated `renewComplete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteParams {
    /// The renewal to complete.
    pub renewal_id: String,
    /// The certificates, DER, in the order given.
    pub certificates: Vec<Vec<u8>>,
}

/// Checks the parameters and decodes the certificates.
pub fn parse(params: &Map<String, Value>) -> Result<CompleteParams, HostError> {
    super::params::only(params, &["renewalId", "pkcs7", "certificates"])?;
    let renewal_id = renewal_id(params)?;
    let certificates = match (params.get("pkcs7"), params.get("certificates")) {
        (Some(pkcs7), None) => {
            let answers = strings(pkcs7, "pkcs7", MAX_ANSWERS, true)?;
            let mut certificates = Vec::new();
            for answer in answers {
                certificates.extend(certificates_from_pkcs7(&decode_base64(answer, "PKCS#7 answer")?)?);
            }
            certificates
        }
        (None, Some(list)) => strings(list, "certificates", MAX_CERTIFICATES, false)?
            .into_iter()
            .map(|text| decode_base64(text, "certificate"))
            .collect::<Result<_, _>>()?,
        (Some(_), Some(_)) => {
            return Err(HostError::bad_request("Give either 'pkcs7' or 'certificates', not both."))
        }
        (None, None) => {
            return Err(HostError::bad_request("Give the certificates as 'pkcs7' or 'certificates'."))
        }
    };
    if certificates.len() > 2 * MAX_CERTIFICATES {
        return Err(HostError::new(ErrorCode::CertificateInvalid, "Too many certificates were returned."));
    }
    Ok(CompleteParams { renewal_id, certificates })
}

/// The `renewalId` parameter, shared with `renewCancel`.
pub fn renewal_id(params: &Map<String, Value>) -> Result<String, HostError> {
    match params.get("renewalId") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_ID_LENGTH => Ok(id.clone()),
        Some(Value::String(id)) => {
            Err(HostError::new(ErrorCode::UnknownRenewal, format!("No renewal '{}' is open.", truncate(id))))
        }
        Some(_) => Err(HostError::bad_request("The parameter 'renewalId' must be a string.")),
        None => Err(HostError::bad_request("The parameter 'renewalId' is missing.")),
    }
}

fn strings<'v>(
    value: &'v Value,
    name: &str,
    max: usize,
    single_allowed: bool,
) -> Result<Vec<&'v str>, HostError> {
    let items: Vec<&Value> = match value {
        Value::String(_) if single_allowed => vec![value],
        Value::Array(items) if !items.is_empty() && items.len() <= max => items.iter().collect(),
        Value::Array(items) if items.is_empty() => {
            return Err(HostError::bad_request(format!("The parameter '{name}' is empty.")))
        }
        Value::Array(_) => {
            return Err(HostError::new(
                ErrorCode::CertificateInvalid,
                format!("The parameter '{name}' has more than {max} entries."),
            ))
        }
        _ => return Err(HostError::bad_request(format!("The parameter '{name}' has the wrong type."))),
    };
    items
        .into_iter()
        .map(|item| {
            item.as_str().ok_or_else(|| HostError::bad_request(format!("'{name}' entries must be strings.")))
        })
        .collect()
}

/// Takes the open renewal if `id` names it; otherwise leaves it in place.
pub fn take_renewal(open: &mut Option<Requested>, id: &str) -> Result<Requested, HostError> {
    match open.take() {
        Some(renewal) if renewal.id().as_str() == id => Ok(renewal),
        other => {
            *open = other;
            Err(HostError::new(ErrorCode::UnknownRenewal, format!("No renewal '{}' is open.", truncate(id))))
        }
    }
}

/// Completes the open renewal.
pub fn complete(
    services: &Services,
    open: &mut Option<Requested>,
    params: CompleteParams,
    progress: ProgressSink<'_>,
) -> Result<Value, HostError> {
    let renewal = take_renewal(open, &params.renewal_id)?;
    reach(progress, Step::Verify, None);
    // Read at each use: checked at start-up too, but IT may replace the files meanwhile.
    let config = &services.config;
    let trust = match TrustPolicy::load(&config.trust_anchors, config.allow_issuer_change) {
        Ok(trust) => trust,
        Err(error) => {
            *open = Some(renewal);
            return Err(error);
        }
    };
    let proof = match renewal.verify(&params.certificates, &trust, OffsetDateTime::now_utc()) {
        Ok(proof) => proof,
        Err(error) => {
            // Nothing changed on the card: the browser may try again with the right answer.
            *open = Some(renewal);
            return Err(error);
        }
    };
    let outcome = renewal.install(proof, progress).and_then(|installed| installed.retire_old(progress));
    match outcome {
        Ok(_) | Err(Interrupted::FinishedByRecovery(_)) => {}
        Err(Interrupted::StillOpen(renewal, error)) => {
            // The certificates issued stay on the card, pending: retrying with the same
            // answer finishes the renewal.
            *open = Some(*renewal);
            return Err(error.with("renewalOpen", true));
        }
        Err(Interrupted::Failed(error)) => return Err(error),
    }
    Ok(installed_result(status::status(services)))
}

/// The result of a renewal that installed: the new status, or, when reading it fails, the
/// error inside a result that still says the certificates are installed.
pub fn installed_result(status: Result<status::StatusReport, HostError>) -> Value {
    let mut result = match status.and_then(|report| {
        serde_json::to_value(report).map_err(|e| HostError::new(ErrorCode::InternalError, e.to_string()))
    }) {
        Ok(value) => value,
        Err(error) => {
            log::warn!("renewal installed, but reading the status afterwards failed ({})", error.code);
            let mut result = Map::new();
            result.insert("statusError".into(), error.to_json());
            Value::Object(result)
        }
    };
    if let Value::Object(fields) = &mut result {
        fields.insert("installed".into(), Value::Bool(true));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn installed_result_says_installed_even_when_the_status_fails() {
        let failed = installed_result(Err(HostError::new(ErrorCode::PcscUnavailable, "gone")));
        assert_eq!(failed["installed"], true);
        assert_eq!(failed["statusError"]["code"], "PCSC_UNAVAILABLE");
        let report = status::StatusReport {
            readers: Vec::new(),
            managed_reader: None,
            reason: Some("NO_READERS"),
            card: None,
        };
        let ok = installed_result(Ok(report));
        assert_eq!(ok["installed"], true);
        assert_eq!(ok["reason"], "NO_READERS");
        assert!(ok.get("statusError").is_none());
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        let cases = [
            (json!({"pkcs7": "AA=="}), "BAD_REQUEST"),
            (json!({"renewalId": 5, "certificates": ["AA=="]}), "BAD_REQUEST"),
            (json!({"renewalId": "r"}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "pkcs7": "AA==", "certificates": ["AA=="]}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "certificates": "AA=="}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "certificates": []}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "certificates": [1]}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "certificates": ["AA=="], "x": 1}), "BAD_REQUEST"),
            (json!({"renewalId": "r", "certificates": ["%%%"]}), "CERTIFICATE_INVALID"),
            (json!({"renewalId": "r", "pkcs7": "aGVsbG8="}), "CERTIFICATE_INVALID"),
            (json!({"renewalId": "r", "pkcs7": ["aGVsbG8="]}), "CERTIFICATE_INVALID"),
            (
                json!({"renewalId": "r", "certificates": vec!["AA=="; MAX_CERTIFICATES + 1]}),
                "CERTIFICATE_INVALID",
            ),
            (json!({"renewalId": "x".repeat(65), "certificates": ["AA=="]}), "UNKNOWN_RENEWAL"),
        ];
        for (value, code) in cases {
            let error = parse(&params(value.clone())).expect_err("bad");
            assert_eq!(error.code.as_str(), code, "{value}");
        }
    }

    #[test]
    fn parse_decodes_certificate_list_in_order() {
        let parsed =
            parse(&params(json!({"renewalId": "r1", "certificates": ["AQI=", "AwQ="]}))).expect("ok");
        assert_eq!(
            parsed,
            CompleteParams { renewal_id: "r1".into(), certificates: vec![vec![1, 2], vec![3, 4]] }
        );
    }

    #[test]
    fn take_renewal_without_open_renewal_is_unknown() {
        let mut open = None;
        assert_eq!(take_renewal(&mut open, "abc").err().map(|e| e.code), Some(ErrorCode::UnknownRenewal));
    }
}
