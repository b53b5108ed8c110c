//! The test CA: a software P-384 key and a self-signed certificate, stored as PEM files in a
//! directory, that issues smartcard-style certificates for keys generated on a token.
//!
//! Made at run time (never committed). Certificates: X.509 v3, ECDSA with SHA-384, random
//! positive serials, subject copied byte for byte from the request, and key usage by [`Role`]
//! so that a card's two certificates are told apart unambiguously.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use p384::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::der::{Decode, DecodePem, Encode, EncodePem};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use crate::error::{Error, Result};
use crate::util::{hex, random_bytes};

const KEY_FILE: &str = "ca.key.pem";
const CERT_FILE: &str = "ca.pem";
/// `id-kp-clientAuth` (1.3.6.1.5.5.7.3.2).
const CLIENT_AUTH: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// What a card certificate is for; decides its key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// keyUsage digitalSignature, extendedKeyUsage clientAuth.
    Authentication,
    /// keyUsage nonRepudiation (contentCommitment) only.
    Signing,
}

impl Role {
    /// Both roles, in the order a card holds them.
    pub const ALL: [Role; 2] = [Role::Authentication, Role::Signing];

    /// "Authentication" / "Signing": the start of key and certificate labels.
    pub fn title(self) -> &'static str {
        match self {
            Role::Authentication => "Authentication",
            Role::Signing => "Signing",
        }
    }

    /// The role a certificate's key usage names: nonRepudiation means signing, otherwise
    /// digitalSignature means authentication.
    pub fn from_key_usage(ku: KeyUsage) -> Option<Role> {
        if ku.non_repudiation() {
            Some(Role::Signing)
        } else if ku.digital_signature() {
            Some(Role::Authentication)
        } else {
            None
        }
    }
}

/// What the CA is asked to certify.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The subject Name as DER, copied into the certificate as is.
    pub subject_der: Vec<u8>,
    /// The subject's public key: a P-384 SEC1 point (97 bytes uncompressed, starting 0x04), or
    /// a SubjectPublicKeyInfo DER of any algorithm (starting 0x30: RSA, P-256, P-384).
    pub public_key_sec1: Vec<u8>,
    /// Decides key usage.
    pub role: Role,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Serial number (unsigned big-endian bytes); `None` = 16 random bytes, positive.
    pub serial: Option<Vec<u8>>,
}

/// The SubjectPublicKeyInfo for [`IssueRequest::public_key_sec1`].
fn requested_spki(key: &[u8]) -> Result<SubjectPublicKeyInfoOwned> {
    if key.first() == Some(&0x30) {
        return SubjectPublicKeyInfoOwned::from_der(key)
            .map_err(|e| Error::crypto("decoding the requested SubjectPublicKeyInfo", e));
    }
    let public = p384::PublicKey::from_sec1_bytes(key)
        .map_err(|e| Error::crypto("decoding the requested P-384 public key", e))?;
    SubjectPublicKeyInfoOwned::from_key(&public).map_err(|e| Error::crypto("encoding the public key", e))
}

/// A P-384 software CA kept as `ca.key.pem` (PKCS#8) and `ca.pem` in a directory.
pub struct TestCa {
    dir: PathBuf,
    key: SigningKey,
    cert: Certificate,
}

impl TestCa {
    /// Makes a new CA key and self-signed certificate (`CN=common_name`, valid from 5 years
    /// ago for 20 years, so back-dated card certificates still chain) and writes them to `dir`.
    pub fn create(dir: &Path, common_name: &str) -> Result<TestCa> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let key = random_signing_key()?;
        let name = parse_name(&format!("CN={}", escape_rdn(common_name)))?;
        let now = OffsetDateTime::now_utc();
        let validity = validity(now - time::Duration::days(5 * 365), now + time::Duration::days(20 * 365))?;
        let spki = SubjectPublicKeyInfoOwned::from_key(key.verifying_key())
            .map_err(|e| Error::crypto("encoding the CA public key", e))?;
        let profile = Profile { issuer: name.clone(), subject: name, kind: ProfileKind::Ca };
        let builder = CertificateBuilder::new(profile, random_serial()?, validity, spki)
            .map_err(|e| Error::crypto("building the CA certificate", e))?;
        let cert = builder
            .build::<_, DerSignature>(&key)
            .map_err(|e| Error::crypto("signing the CA certificate", e))?;

        let key_pem =
            key.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::crypto("encoding the CA key", e))?;
        let key_path = dir.join(KEY_FILE);
        write_private(&key_path, key_pem.as_bytes())?;
        let cert_pem = cert
            .to_pem(x509_cert::der::pem::LineEnding::LF)
            .map_err(|e| Error::crypto("encoding the CA certificate", e))?;
        let cert_path = dir.join(CERT_FILE);
        std::fs::write(&cert_path, cert_pem)
            .map_err(|e| Error::io(format!("writing {}", cert_path.display()), e))?;
        Ok(TestCa { dir: dir.to_path_buf(), key, cert })
    }

    /// Loads a CA that [`TestCa::create`] wrote to `dir`.
    pub fn load(dir: &Path) -> Result<TestCa> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|e| Error::io(format!("reading {}", p.display()), e))
        };
        let key = SigningKey::from_pkcs8_pem(&read(KEY_FILE)?)
            .map_err(|e| Error::crypto(&format!("parsing {}/{KEY_FILE}", dir.display()), e))?;
        let cert = Certificate::from_pem(read(CERT_FILE)?)
            .map_err(|e| Error::crypto(&format!("parsing {}/{CERT_FILE}", dir.display()), e))?;
        let ours = SubjectPublicKeyInfoOwned::from_key(key.verifying_key())
            .map_err(|e| Error::crypto("encoding the CA public key", e))?;
        if ours != cert.tbs_certificate().subject_public_key_info().clone() {
            return Err(Error::Invalid(format!(
                "{}: the CA key does not match the CA certificate",
                dir.display()
            )));
        }
        Ok(TestCa { dir: dir.to_path_buf(), key, cert })
    }

    /// The directory the CA lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> Vec<u8> {
        // Encoding a certificate we decoded or built cannot fail.
        self.cert.to_der().unwrap_or_default()
    }

    /// Path of the CA certificate PEM (for `openssl verify -CAfile`, trust stores...).
    pub fn cert_pem_path(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }

    /// Path of the CA private key PEM (PKCS#8).
    pub fn key_pem_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// The CA's subject as DER (the issuer of what it issues).
    pub fn subject_der(&self) -> Vec<u8> {
        self.cert.tbs_certificate().subject().to_der().unwrap_or_default()
    }

    /// Issues a certificate; returns it as DER.
    pub fn issue(&self, req: &IssueRequest) -> Result<Vec<u8>> {
        if req.not_after <= req.not_before {
            return Err(Error::Invalid(format!(
                "notAfter {} is not after notBefore {}",
                req.not_after, req.not_before
            )));
        }
        let subject = Name::from_der(&req.subject_der)
            .map_err(|e| Error::crypto("decoding the requested subject", e))?;
        let spki = requested_spki(&req.public_key_sec1)?;
        let serial = match &req.serial {
            Some(bytes) => {
                SerialNumber::new(bytes).map_err(|e| Error::crypto("encoding the serial number", e))?
            }
            None => random_serial()?,
        };
        let profile = Profile {
            issuer: self.cert.tbs_certificate().subject().clone(),
            subject,
            kind: ProfileKind::Card(req.role),
        };
        let builder =
            CertificateBuilder::new(profile, serial, validity(req.not_before, req.not_after)?, spki)
                .map_err(|e| Error::crypto("building the certificate", e))?;
        let cert = builder
            .build::<_, DerSignature>(&self.key)
            .map_err(|e| Error::crypto("signing the certificate", e))?;
        cert.to_der().map_err(|e| Error::crypto("encoding the certificate", e))
    }

    /// The CA's public key (to verify what it signed).
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

/// Parses an RFC 4514 string (`CN=Jane Smith,O=NHS Test`) into a Name's DER.
pub fn subject_der(rfc4514: &str) -> Result<Vec<u8>> {
    parse_name(rfc4514)?.to_der().map_err(|e| Error::crypto("encoding the subject", e))
}

fn parse_name(rfc4514: &str) -> Result<Name> {
    Name::from_str(rfc4514).map_err(|e| Error::Invalid(format!("subject {rfc4514:?}: {e}")))
}

fn escape_rdn(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// 16 random bytes with the top bit clear and a non-zero first byte: positive, full length.
pub fn random_serial() -> Result<SerialNumber> {
    let mut bytes: [u8; 16] = random_bytes()?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).map_err(|e| Error::crypto("encoding a serial number", e))
}

fn random_signing_key() -> Result<SigningKey> {
    // Rejection sampling: a random 48-byte string is a valid scalar with overwhelming odds.
    loop {
        let bytes: [u8; 48] = random_bytes()?;
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
}

fn validity(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<Validity> {
    let t = |at: OffsetDateTime| {
        Time::try_from(SystemTime::from(at)).map_err(|e| Error::crypto(&format!("encoding the time {at}"), e))
    };
    Ok(Validity::new(t(not_before)?, t(not_after)?))
}

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    f.write_all(data).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

enum ProfileKind {
    Ca,
    Card(Role),
}

/// Our own profile: the stock ones (CA/B Forum, DevID) add TLS-specific rules.
struct Profile {
    issuer: Name,
    subject: Name,
    kind: ProfileKind,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let subject = tbs.subject();
        let mut exts: Vec<Extension> = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        match self.kind {
            ProfileKind::Ca => {
                exts.push(
                    BasicConstraints { ca: true, path_len_constraint: Some(0) }
                        .to_extension(subject, &exts)?,
                );
                exts.push(
                    KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).to_extension(subject, &exts)?,
                );
                exts.push(ski.to_extension(subject, &exts)?);
            }
            ProfileKind::Card(role) => {
                let ku = match role {
                    Role::Authentication => KeyUsage(KeyUsages::DigitalSignature.into()),
                    Role::Signing => KeyUsage(KeyUsages::NonRepudiation.into()),
                };
                exts.push(ku.to_extension(subject, &exts)?);
                if role == Role::Authentication {
                    exts.push(ExtendedKeyUsage(vec![CLIENT_AUTH]).to_extension(subject, &exts)?);
                }
                exts.push(ski.to_extension(subject, &exts)?);
                let aki = AuthorityKeyIdentifier::try_from(issuer_spk)?;
                exts.push(aki.to_extension(subject, &exts)?);
            }
        }
        Ok(exts)
    }
}

/// A certificate's facts that tests and tools look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertInfo {
    /// Subject, RFC 4514.
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// keyUsage bits by RFC 5280 name (`digitalSignature`, `nonRepudiation`, ...).
    pub key_usage: Vec<String>,
    /// extendedKeyUsage OIDs, dotted.
    pub extended_key_usage: Vec<String>,
    /// The role the key usage names, if any.
    pub role: Option<Role>,
    /// The subject public key as a SEC1 point, hex.
    pub public_key: String,
}

/// Parses a DER certificate into [`CertInfo`].
pub fn cert_info(der: &[u8]) -> Result<CertInfo> {
    let cert = Certificate::from_der(der).map_err(|e| Error::crypto("decoding a certificate", e))?;
    let tbs = cert.tbs_certificate();
    let at = |t: &Time| OffsetDateTime::from(t.to_system_time());
    let mut key_usage = Vec::new();
    let mut extended_key_usage = Vec::new();
    let mut role = None;
    for ext in tbs.extensions().map(|e| e.as_slice()).unwrap_or_default() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == x509_cert::der::oid::db::rfc5280::ID_CE_KEY_USAGE {
            let ku = KeyUsage::from_der(value).map_err(|e| Error::crypto("decoding keyUsage", e))?;
            role = Role::from_key_usage(ku);
            key_usage = ku.0.into_iter().map(key_usage_name).map(String::from).collect();
        } else if ext.extn_id == x509_cert::der::oid::db::rfc5280::ID_CE_EXT_KEY_USAGE {
            let eku = ExtendedKeyUsage::from_der(value)
                .map_err(|e| Error::crypto("decoding extendedKeyUsage", e))?;
            extended_key_usage = eku.0.iter().map(|o| o.to_string()).collect();
        }
    }
    Ok(CertInfo {
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        serial: hex(tbs.serial_number().as_bytes()),
        not_before: at(&tbs.validity().not_before),
        not_after: at(&tbs.validity().not_after),
        key_usage,
        extended_key_usage,
        role,
        public_key: hex(tbs.subject_public_key_info().subject_public_key.raw_bytes()),
    })
}

/// The certificate's public key, for verifying what its private key signed.
pub fn cert_verifying_key(der: &[u8]) -> Result<VerifyingKey> {
    let cert = Certificate::from_der(der).map_err(|e| Error::crypto("decoding a certificate", e))?;
    let point = cert.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes();
    VerifyingKey::from_sec1_bytes(point).map_err(|e| Error::crypto("certificate public key", e))
}

fn key_usage_name(ku: KeyUsages) -> &'static str {
    match ku {
        KeyUsages::DigitalSignature => "digitalSignature",
        KeyUsages::NonRepudiation => "nonRepudiation",
        KeyUsages::KeyEncipherment => "keyEncipherment",
        KeyUsages::DataEncipherment => "dataEncipherment",
        KeyUsages::KeyAgreement => "keyAgreement",
        KeyUsages::KeyCertSign => "keyCertSign",
        KeyUsages::CRLSign => "cRLSign",
        KeyUsages::EncipherOnly => "encipherOnly",
        KeyUsages::DecipherOnly => "decipherOnly",
    }
}
