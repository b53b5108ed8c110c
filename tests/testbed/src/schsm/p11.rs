//! The card through OpenSC's PKCS#11 module, as a card management system and the host see it:
//! provisioning (C_InitToken, C_InitPIN, two key pairs generated on the card, certificates
//! written) and a full inspection. Runs in a `cis-testbed schsm` child process that has
//! `PCSCLITE_CSOCK_NAME` and `OPENSC_CONF` set (libpcsclite and OpenSC read them once).

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use p256::pkcs8::EncodePublicKey;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use x509_cert::der::asn1::OctetString;
use x509_cert::der::{Decode, Encode};

use super::keys::KeyAlg;
use super::OPENSC_MODULE;
use crate::ca::{cert_info, subject_der, IssueRequest, TestCa};
use crate::error::{Error, Result};
use crate::token::{CardSpec, PairCheck, ProvisionedCard, ProvisionedCert, TokenContents, TokenObject};
use crate::util::{hex, random_bytes};

/// What `schsm provision` asks of the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchsmSpec {
    /// Label, PINs, subject and certificates (the SO PIN is 16 hex digits on this card).
    pub card: CardSpec,
    /// Algorithm of both key pairs.
    pub alg: KeyAlg,
}

/// DER of the namedCurve OIDs, for CKA_EC_PARAMS.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// Loads and initializes OpenSC's module.
pub fn open_module() -> Result<Pkcs11> {
    let p11 = Pkcs11::new(OPENSC_MODULE).map_err(|e| Error::pkcs11(format!("loading {OPENSC_MODULE}"), e))?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| Error::pkcs11("C_Initialize", e))?;
    Ok(p11)
}

/// The slot of the reader named `reader` (OpenSC's slot description is the reader name),
/// with a token in it.
pub fn find_slot(p11: &Pkcs11, reader: &str) -> Result<Slot> {
    let mut seen = Vec::new();
    for slot in p11.get_slots_with_token().map_err(|e| Error::pkcs11("C_GetSlotList", e))? {
        let info = p11.get_slot_info(slot).map_err(|e| Error::pkcs11("C_GetSlotInfo", e))?;
        let description = info.slot_description().trim_end().to_string();
        if description.starts_with(reader) {
            return Ok(slot);
        }
        seen.push(description);
    }
    Err(Error::Invalid(format!("no token in a slot for reader {reader:?} (slots with tokens: {seen:?})")))
}

fn pin(p: &str) -> AuthPin {
    AuthPin::new(p.into())
}

/// Initializes the token in `reader`'s slot and makes the key pairs and certificates.
pub fn provision(reader: &str, ca: &TestCa, spec: &SchsmSpec) -> Result<ProvisionedCard> {
    let card = &spec.card;
    check_so_pin(&card.so_pin)?;
    let p11 = open_module()?;
    let slot = find_slot(&p11, reader)?;
    p11.init_token(slot, &pin(&card.so_pin), &card.token_label)
        .map_err(|e| Error::pkcs11("C_InitToken", e))?;
    {
        let so = p11.open_rw_session(slot).map_err(|e| Error::pkcs11("C_OpenSession", e))?;
        so.login(UserType::So, Some(&pin(&card.so_pin))).map_err(|e| Error::pkcs11("C_Login(SO)", e))?;
        so.init_pin(&pin(&card.user_pin)).map_err(|e| Error::pkcs11("C_InitPIN", e))?;
        let _ = so.logout();
    }
    let token = p11.get_token_info(slot).map_err(|e| Error::pkcs11("C_GetTokenInfo", e))?;
    let serial = token.serial_number().trim_end().to_string();
    let session = p11.open_rw_session(slot).map_err(|e| Error::pkcs11("C_OpenSession", e))?;
    session.login(UserType::User, Some(&pin(&card.user_pin))).map_err(|e| Error::pkcs11("C_Login", e))?;
    let subject = subject_der(&card.subject)?;
    let issuer = ca.subject_der();
    let mut certs = Vec::new();
    for cs in &card.certs {
        let id: [u8; 16] = random_bytes()?;
        let key_label = format!("{} key", cs.role.title());
        let cert_label = format!("{} certificate", cs.role.title());
        let public = generate(&session, spec.alg, &id, &key_label)?;
        let spki = public_key_spki(&session, public)?;
        // The CA takes a DER SubjectPublicKeyInfo in place of a P-384 point.
        let cert_der = ca.issue(&IssueRequest {
            subject_der: subject.clone(),
            public_key_sec1: spki,
            role: cs.role,
            not_before: cs.not_before,
            not_after: cs.not_after,
            serial: None,
        })?;
        let cert = x509_cert::Certificate::from_der(&cert_der)
            .map_err(|e| Error::crypto("decoding the issued certificate", e))?;
        let serial_der = cert
            .tbs_certificate()
            .serial_number()
            .to_der()
            .map_err(|e| Error::crypto("encoding the serial number", e))?;
        session
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Value(cert_der.clone()),
                Attribute::Id(id.to_vec()),
                Attribute::Subject(subject.clone()),
                Attribute::Issuer(issuer.clone()),
                Attribute::SerialNumber(serial_der),
                Attribute::Label(cert_label.clone().into_bytes()),
            ])
            .map_err(|e| Error::pkcs11("C_CreateObject(certificate)", e))?;
        certs.push(ProvisionedCert {
            role: cs.role,
            id: hex(&id),
            key_label,
            cert_label,
            info: cert_info(&cert_der)?,
            cert_der,
        });
    }
    let _ = session.logout();
    Ok(ProvisionedCard { token_label: card.token_label.clone(), token_serial: serial, certs })
}

/// The SmartCard-HSM's SO PIN is 16 hex digits (8 bytes).
pub fn check_so_pin(so_pin: &str) -> Result<()> {
    if so_pin.len() == 16 && so_pin.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "the SmartCard-HSM SO PIN must be 16 hexadecimal digits (got {} characters)",
            so_pin.len()
        )))
    }
}

/// Generates a key pair on the card; returns the public key's handle.
pub fn generate(session: &Session, alg: KeyAlg, id: &[u8], label: &str) -> Result<ObjectHandle> {
    let mut public = vec![
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let mechanism = match alg {
        KeyAlg::P256 | KeyAlg::P384 => {
            let params = if alg == KeyAlg::P256 { P256_PARAMS.to_vec() } else { P384_PARAMS.to_vec() };
            public.push(Attribute::EcParams(params));
            Mechanism::EccKeyPairGen
        }
        KeyAlg::Rsa2048 => {
            public.push(Attribute::ModulusBits(2048.into()));
            public.push(Attribute::PublicExponent(vec![1, 0, 1]));
            Mechanism::RsaPkcsKeyPairGen
        }
    };
    let (pubkey, _) = session
        .generate_key_pair(&mechanism, &public, &private)
        .map_err(|e| Error::pkcs11("C_GenerateKeyPair", e))?;
    Ok(pubkey)
}

/// A public key object as DER SubjectPublicKeyInfo.
pub fn public_key_spki(session: &Session, handle: ObjectHandle) -> Result<Vec<u8>> {
    let attrs = session
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::EcPoint,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
            ],
        )
        .map_err(|e| Error::pkcs11("C_GetAttributeValue(public key)", e))?;
    let mut key_type = None;
    let (mut point, mut n, mut e) = (None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::EcPoint(p) => point = Some(p),
            Attribute::Modulus(m) => n = Some(m),
            Attribute::PublicExponent(x) => e = Some(x),
            _ => {}
        }
    }
    let der = match (key_type, point, n, e) {
        (Some(KeyType::EC), Some(p), _, _) => {
            let sec1 = unwrap_ec_point(&p)?;
            match sec1.len() {
                65 => p256::PublicKey::from_sec1_bytes(&sec1)
                    .map_err(|e| Error::crypto("the card's P-256 point", e))?
                    .to_public_key_der(),
                97 => p384::PublicKey::from_sec1_bytes(&sec1)
                    .map_err(|e| Error::crypto("the card's P-384 point", e))?
                    .to_public_key_der(),
                n => {
                    return Err(Error::Invalid(format!(
                        "an EC point of {n} bytes is neither P-256 nor P-384"
                    )))
                }
            }
        }
        (Some(KeyType::RSA), _, Some(n), Some(e)) => {
            let key = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(&n),
                rsa::BoxedUint::from_be_slice_vartime(&e),
            )
            .map_err(|e| Error::crypto("the card's RSA key", e))?;
            key.to_public_key_der()
        }
        _ => {
            return Err(Error::Invalid("the public key object has neither an EC point nor a modulus".into()))
        }
    };
    der.map(|d| d.as_bytes().to_vec()).map_err(|e| Error::crypto("encoding the public key", e))
}

/// CKA_EC_POINT is a DER OCTET STRING around the SEC1 point; some modules give it raw.
fn unwrap_ec_point(bytes: &[u8]) -> Result<Vec<u8>> {
    if matches!(bytes.len(), 65 | 97) && bytes[0] == 0x04 {
        return Ok(bytes.to_vec());
    }
    OctetString::from_der(bytes)
        .map(|o| o.as_bytes().to_vec())
        .map_err(|e| Error::crypto("unwrapping CKA_EC_POINT", e))
}

/// Lists everything on the token in `reader`'s slot after a user login with `user_pin`, and
/// checks that each certificate's private key signs what its public key verifies.
pub fn inspect(reader: &str, user_pin: &str) -> Result<TokenContents> {
    let p11 = open_module()?;
    let slot = find_slot(&p11, reader)?;
    let token = p11.get_token_info(slot).map_err(|e| Error::pkcs11("C_GetTokenInfo", e))?;
    let session = p11.open_ro_session(slot).map_err(|e| Error::pkcs11("C_OpenSession", e))?;
    session.login(UserType::User, Some(&pin(user_pin))).map_err(|e| Error::pkcs11("C_Login", e))?;
    let mut objects = Vec::new();
    let mut keys = Vec::new();
    let mut certs = Vec::new();
    for handle in session.find_objects(&[]).map_err(|e| Error::pkcs11("C_FindObjects", e))? {
        let obj = read_object(&session, handle)?;
        match obj.class.as_str() {
            "privateKey" => keys.push((obj.id.clone(), obj.label.clone(), handle)),
            "certificate" => certs.push(obj.clone()),
            _ => {}
        }
        objects.push(obj);
    }
    let mut pairs = Vec::new();
    for cert in &certs {
        let Some((_, key_label, key)) = keys.iter().find(|(id, _, _)| *id == cert.id) else { continue };
        let der = cert.cert_der.clone().unwrap_or_default();
        let result = check_pair(&session, *key, &der);
        pairs.push(PairCheck {
            id: cert.id.clone(),
            role: cert.cert.as_ref().and_then(|c| c.role),
            cert_label: cert.label.clone(),
            key_label: key_label.clone(),
            signs_and_verifies: result.is_ok(),
            error: result.err().map(|e| e.to_string()),
        });
    }
    let _ = session.logout();
    Ok(TokenContents {
        token_label: token.label().trim_end().to_string(),
        token_serial: token.serial_number().trim_end().to_string(),
        objects,
        pairs,
    })
}

fn read_object(session: &Session, handle: ObjectHandle) -> Result<TokenObject> {
    let attrs = session
        .get_attributes(
            handle,
            &[
                AttributeType::Class,
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::Private,
                AttributeType::KeyType,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
                AttributeType::Sign,
                AttributeType::Value,
            ],
        )
        .map_err(|e| Error::pkcs11("C_GetAttributeValue", e))?;
    let mut obj = TokenObject {
        class: "other".into(),
        id: String::new(),
        label: String::new(),
        private: None,
        ec: None,
        sensitive: None,
        extractable: None,
        always_sensitive: None,
        never_extractable: None,
        sign: None,
        cert_der: None,
        cert: None,
    };
    let mut value = None;
    for a in attrs {
        match a {
            Attribute::Class(c) => {
                obj.class = match c {
                    ObjectClass::PRIVATE_KEY => "privateKey",
                    ObjectClass::PUBLIC_KEY => "publicKey",
                    ObjectClass::CERTIFICATE => "certificate",
                    ObjectClass::DATA => "data",
                    ObjectClass::SECRET_KEY => "secretKey",
                    _ => "other",
                }
                .into()
            }
            Attribute::Id(id) => obj.id = hex(&id),
            Attribute::Label(l) => obj.label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Private(b) => obj.private = Some(b),
            Attribute::KeyType(t) => obj.ec = Some(t == KeyType::EC),
            Attribute::Sensitive(b) => obj.sensitive = Some(b),
            Attribute::Extractable(b) => obj.extractable = Some(b),
            Attribute::AlwaysSensitive(b) => obj.always_sensitive = Some(b),
            Attribute::NeverExtractable(b) => obj.never_extractable = Some(b),
            Attribute::Sign(b) => obj.sign = Some(b),
            Attribute::Value(v) => value = Some(v),
            _ => {}
        }
    }
    if obj.class == "certificate" {
        if let Some(der) = value {
            obj.cert = cert_info(&der).ok();
            obj.cert_der = Some(der);
        }
    }
    Ok(obj)
}

/// Signs a test message with the card's key (ECDSA over SHA-384, or PKCS#1 v1.5 with
/// SHA-256) and verifies it with the certificate's public key.
pub fn check_pair(session: &Session, key: ObjectHandle, cert_der: &[u8]) -> Result<()> {
    use signature::hazmat::PrehashVerifier;
    let cert =
        x509_cert::Certificate::from_der(cert_der).map_err(|e| Error::crypto("decoding a certificate", e))?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let spki_der = spki.to_der().map_err(|e| Error::crypto("encoding the certificate's key", e))?;
    let message = b"cis-testbed pair check";
    let point = spki.subject_public_key.raw_bytes();
    let bad = |what: &str| {
        Error::Crypto(format!("the card's signature does not verify with the certificate ({what})"))
    };
    if spki.algorithm.oid == x509_cert::der::oid::db::rfc5912::ID_EC_PUBLIC_KEY {
        let hash = sha2::Sha384::digest(message);
        let raw =
            session.sign(&Mechanism::Ecdsa, key, &hash).map_err(|e| Error::pkcs11("C_Sign(CKM_ECDSA)", e))?;
        match point.len() {
            65 => {
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|e| Error::crypto("P-256 key", e))?;
                let sig =
                    p256::ecdsa::Signature::from_slice(&raw).map_err(|e| Error::crypto("signature", e))?;
                vk.verify_prehash(&hash[..32], &sig).map_err(|_| bad("P-256"))
            }
            _ => {
                let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map_err(|e| Error::crypto("P-384 key", e))?;
                let sig =
                    p384::ecdsa::Signature::from_slice(&raw).map_err(|e| Error::crypto("signature", e))?;
                vk.verify_prehash(&hash, &sig).map_err(|_| bad("P-384"))
            }
        }
    } else {
        use rsa::pkcs8::DecodePublicKey;
        let hash = sha2::Sha256::digest(message);
        let raw = session
            .sign(&Mechanism::Sha256RsaPkcs, key, message)
            .map_err(|e| Error::pkcs11("C_Sign(CKM_SHA256_RSA_PKCS)", e))?;
        let vk = rsa::PublicKey::from_public_key_der(&spki_der).map_err(|e| Error::crypto("RSA key", e))?;
        vk.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hash, &raw).map_err(|_| bad("RSA"))
    }
}
