//! Tokens: a SoftHSM2 instance per test, provisioned like an NHS smartcard (an authentication
//! and a signing P-384 key pair generated on the token, each with a certificate from the
//! [`TestCa`]), and a full inspection of what a token holds.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, at `C_Initialize`, and a process can initialize a
//! PKCS#11 module only once, so a test process could not use two SoftHSM instances (or one
//! the host under test also uses) safely. [`provision`] and [`inspect`] therefore run
//! `cis-testbed` as a child with `SOFTHSM2_CONF` set for that child only; the work itself is
//! in [`child`], which only that binary calls.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ca::{CertInfo, Role, TestCa};
use crate::error::{Error, Result};
use crate::util::{b64, run, testbed_bin};

/// The SoftHSM2 PKCS#11 module on Debian.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// A user subject in the style of NHS smartcard certificates (RFC 4514: most specific first).
pub const DEFAULT_SUBJECT: &str = "CN=Jane Smith,serialNumber=555000111222,OU=People,O=NHS Test,C=GB";
/// The user PIN [`CardSpec::new`] sets.
pub const DEFAULT_USER_PIN: &str = "123456";
/// The security officer PIN [`CardSpec::new`] sets.
pub const DEFAULT_SO_PIN: &str = "12345678";
/// How long before notAfter a provisioned certificate's notBefore is (two years).
pub const CERT_LIFETIME_DAYS: i64 = 730;

/// A RAM file system, where fsync costs nothing.
const SHM: &str = "/dev/shm";

enum Dir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

/// A SoftHSM2 configuration with its own token directory.
pub struct SoftHsm {
    dir: Dir,
}

impl SoftHsm {
    /// A fresh SoftHSM in a temporary directory, removed on drop (kept when
    /// `CIS_TESTBED_KEEP` is set).
    ///
    /// The directory is on `/dev/shm` when possible: SoftHSM fsyncs every object it writes,
    /// which on a busy disk made provisioning take 0.3-1.3 s instead of ~20 ms.
    pub fn new() -> Result<SoftHsm> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("cis-softhsm-");
        let tmp = builder
            .tempdir_in(SHM)
            .or_else(|_| builder.tempdir())
            .map_err(|e| Error::io("creating a temp dir for SoftHSM", e))?;
        let dir = if std::env::var_os("CIS_TESTBED_KEEP").is_some() {
            Dir::Kept(tmp.keep())
        } else {
            Dir::Temp(tmp)
        };
        Self::init(dir)
    }

    /// A SoftHSM in `dir` (created if missing, kept after; an existing config is reused).
    pub fn at(dir: &Path) -> Result<SoftHsm> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let dir = dir.canonicalize().map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
        Self::init(Dir::Kept(dir))
    }

    fn init(dir: Dir) -> Result<SoftHsm> {
        let me = SoftHsm { dir };
        let tokens = me.dir().join("tokens");
        std::fs::create_dir_all(&tokens)
            .map_err(|e| Error::io(format!("creating {}", tokens.display()), e))?;
        let conf = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
             slots.removable = false\n",
            tokens.display()
        );
        std::fs::write(me.conf(), conf)
            .map_err(|e| Error::io(format!("writing {}", me.conf().display()), e))?;
        Ok(me)
    }

    /// The directory (holds `softhsm2.conf` and `tokens/`).
    pub fn dir(&self) -> &Path {
        match &self.dir {
            Dir::Temp(t) => t.path(),
            Dir::Kept(p) => p,
        }
    }

    /// The config file: the value for `SOFTHSM2_CONF`.
    pub fn conf(&self) -> PathBuf {
        self.dir().join("softhsm2.conf")
    }

    /// Sets `SOFTHSM2_CONF` on a command that will use this SoftHSM.
    pub fn configure<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("SOFTHSM2_CONF", self.conf())
    }
}

/// The algorithm of a provisioned key pair (`--alg`: `p384`, `p256`, `rsa2048`, `rsa3072`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PairAlgorithm {
    /// ECDSA P-384 (what the test bed always made before).
    #[default]
    P384,
    /// ECDSA P-256.
    P256,
    /// RSA-2048 (what most deployed smartcards hold).
    Rsa2048,
    /// RSA-3072.
    Rsa3072,
}

/// One certificate (and key pair) to put on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertSpec {
    /// Authentication or signing.
    pub role: Role,
    /// The key pair's algorithm.
    #[serde(default)]
    pub algorithm: PairAlgorithm,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

impl CertSpec {
    /// A certificate whose notAfter is `days` from now (negative: already expired) and whose
    /// notBefore is [`CERT_LIFETIME_DAYS`] earlier, but never later than a minute ago.
    /// E.g. 45 = due for renewal, 400 = not due, -1 = expired.
    pub fn expiring_in_days(role: Role, days: i64) -> CertSpec {
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or(OffsetDateTime::now_utc());
        let not_after = now + time::Duration::days(days);
        let not_before =
            (not_after - time::Duration::days(CERT_LIFETIME_DAYS)).min(now - time::Duration::minutes(1));
        CertSpec { role, algorithm: PairAlgorithm::P384, not_before, not_after }
    }

    /// The same certificate with a key pair of `algorithm`.
    pub fn with_algorithm(mut self, algorithm: PairAlgorithm) -> CertSpec {
        self.algorithm = algorithm;
        self
    }
}

/// What to put on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardSpec {
    /// The token label (how tests and the host's config find the token).
    pub token_label: String,
    /// User PIN ("passcode").
    pub user_pin: String,
    /// Security officer PIN.
    pub so_pin: String,
    /// The certificates' subject, RFC 4514 (e.g. [`DEFAULT_SUBJECT`]).
    pub subject: String,
    /// One entry per key pair and certificate.
    pub certs: Vec<CertSpec>,
    /// Also store the test CA's own certificate on the card (its own CKA_ID, no key), as
    /// many deployed cards do.
    #[serde(default)]
    pub ca_certificate: bool,
}

impl CardSpec {
    /// The usual card: default PINs and subject, an authentication certificate expiring in
    /// `auth_days` and a signing certificate expiring in `sign_days`.
    pub fn new(token_label: &str, auth_days: i64, sign_days: i64) -> CardSpec {
        CardSpec {
            token_label: token_label.to_string(),
            user_pin: DEFAULT_USER_PIN.to_string(),
            so_pin: DEFAULT_SO_PIN.to_string(),
            subject: DEFAULT_SUBJECT.to_string(),
            certs: vec![
                CertSpec::expiring_in_days(Role::Authentication, auth_days),
                CertSpec::expiring_in_days(Role::Signing, sign_days),
            ],
            ca_certificate: false,
        }
    }

    /// The same card with every key pair of `algorithm`.
    pub fn with_algorithm(mut self, algorithm: PairAlgorithm) -> CardSpec {
        self.certs = self.certs.into_iter().map(|c| c.with_algorithm(algorithm)).collect();
        self
    }

    /// The same card with the CA certificate on it too.
    pub fn with_ca_certificate(mut self) -> CardSpec {
        self.ca_certificate = true;
        self
    }
}

/// One provisioned key pair and certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedCert {
    /// Its role.
    pub role: Role,
    /// CKA_ID shared by the private key, public key and certificate, hex.
    pub id: String,
    /// Label of the private and public key.
    pub key_label: String,
    /// Label of the certificate object.
    pub cert_label: String,
    /// The certificate, DER (base64 in JSON).
    #[serde(with = "b64")]
    pub cert_der: Vec<u8>,
    /// The certificate's facts.
    pub info: CertInfo,
}

/// A provisioned token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedCard {
    /// Token label.
    pub token_label: String,
    /// Token serial number (SoftHSM makes it up).
    pub token_serial: String,
    /// The certificates in [`CardSpec::certs`] order.
    pub certs: Vec<ProvisionedCert>,
}

/// One object on a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenObject {
    /// `privateKey`, `publicKey`, `certificate`, `data`, `secretKey` or `other`.
    pub class: String,
    /// CKA_ID, hex.
    pub id: String,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_PRIVATE.
    pub private: Option<bool>,
    /// Keys: CKA_KEY_TYPE is EC.
    pub ec: Option<bool>,
    /// Private keys: CKA_SENSITIVE.
    pub sensitive: Option<bool>,
    /// Private keys: CKA_EXTRACTABLE.
    pub extractable: Option<bool>,
    /// Private keys: CKA_ALWAYS_SENSITIVE.
    pub always_sensitive: Option<bool>,
    /// Private keys: CKA_NEVER_EXTRACTABLE.
    pub never_extractable: Option<bool>,
    /// Private keys: CKA_SIGN.
    pub sign: Option<bool>,
    /// Certificates: CKA_VALUE (base64 in JSON).
    #[serde(with = "b64::opt", default)]
    pub cert_der: Option<Vec<u8>>,
    /// Certificates: parsed.
    pub cert: Option<CertInfo>,
}

/// For a certificate whose CKA_ID has a private key: does that key sign, and does the
/// certificate's public key verify the signature?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairCheck {
    /// The shared CKA_ID, hex.
    pub id: String,
    /// The certificate's role.
    pub role: Option<Role>,
    /// The certificate's label.
    pub cert_label: String,
    /// The private key's label.
    pub key_label: String,
    /// The key signed (CKM_ECDSA over SHA-384) and the certificate's key verified it.
    pub signs_and_verifies: bool,
    /// Why not, when not.
    pub error: Option<String>,
}

/// Everything on a token, seen after a user login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenContents {
    /// Token label.
    pub token_label: String,
    /// Token serial number.
    pub token_serial: String,
    /// Every object.
    pub objects: Vec<TokenObject>,
    /// One check per certificate that has a private key with the same CKA_ID.
    pub pairs: Vec<PairCheck>,
}

impl TokenContents {
    /// The certificate objects.
    pub fn certificates(&self) -> impl Iterator<Item = &TokenObject> {
        self.objects.iter().filter(|o| o.class == "certificate")
    }

    /// The private key objects.
    pub fn private_keys(&self) -> impl Iterator<Item = &TokenObject> {
        self.objects.iter().filter(|o| o.class == "privateKey")
    }

    /// The certificate with this role, if exactly one has it.
    pub fn certificate(&self, role: Role) -> Option<&TokenObject> {
        let mut it = self.certificates().filter(|o| o.cert.as_ref().and_then(|c| c.role) == Some(role));
        let first = it.next()?;
        it.next().is_none().then_some(first)
    }

    /// Every certificate has a private key, and each pair signs and verifies.
    pub fn all_pairs_verify(&self) -> bool {
        self.pairs.len() == self.certificates().count() && self.pairs.iter().all(|p| p.signs_and_verifies)
    }
}

/// Provisions a new token on `hsm` as `spec` says, with certificates from `ca`.
/// Runs `cis-testbed provision` as a child (see the module docs).
pub fn provision(hsm: &SoftHsm, ca: &TestCa, spec: &CardSpec) -> Result<ProvisionedCard> {
    let mut cmd = Command::new(testbed_bin()?);
    cmd.args(["provision", "--spec-stdin", "--softhsm-conf"]).arg(hsm.conf()).arg("--ca").arg(ca.dir());
    let input = serde_json::to_vec(spec).map_err(|e| Error::Invalid(format!("card spec: {e}")))?;
    let out = run(&mut cmd, Some(&input))?;
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Invalid(format!("unexpected `cis-testbed provision` output: {e}")))
}

/// Lists everything on the token labelled `token_label` after logging in with `user_pin`, and
/// checks each certificate's key pair. Runs `cis-testbed inspect` as a child.
pub fn inspect(hsm_conf: &Path, token_label: &str, user_pin: &str) -> Result<TokenContents> {
    let mut cmd = Command::new(testbed_bin()?);
    cmd.args(["inspect", "--softhsm-conf"]).arg(hsm_conf).args(["--label", token_label, "--pin", user_pin]);
    let out = run(&mut cmd, None)?;
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Invalid(format!("unexpected `cis-testbed inspect` output: {e}")))
}

/// The PKCS#11 work, done inside the `cis-testbed` process. Callers must have set
/// `SOFTHSM2_CONF` (before any thread started) to the `conf` they pass.
#[doc(hidden)]
pub mod child {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
    use cryptoki::session::{Session, UserType};
    use cryptoki::slot::Slot;
    use cryptoki::types::AuthPin;
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    use sha2::{Digest, Sha256, Sha384};
    use x509_cert::der::asn1::OctetString;
    use x509_cert::der::{Decode, Encode};

    use super::*;
    use crate::ca::{cert_info, subject_der, IssueRequest};
    use crate::util::{hex, random_bytes};

    /// DER of the namedCurve OID secp384r1, for CKA_EC_PARAMS.
    const P384_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    /// DER of the namedCurve OID prime256v1 (P-256).
    const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

    fn check_env(conf: &Path) -> Result<()> {
        let set = std::env::var_os("SOFTHSM2_CONF").map(PathBuf::from);
        if set.as_deref() != Some(conf) {
            return Err(Error::Invalid(format!(
                "SOFTHSM2_CONF must be {} in this process (it is {set:?})",
                conf.display()
            )));
        }
        Ok(())
    }

    fn open_module() -> Result<Pkcs11> {
        let p11 =
            Pkcs11::new(SOFTHSM_MODULE).map_err(|e| Error::pkcs11(format!("loading {SOFTHSM_MODULE}"), e))?;
        p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| Error::pkcs11("C_Initialize", e))?;
        Ok(p11)
    }

    fn find_token(p11: &Pkcs11, label: &str) -> Result<(Slot, String)> {
        let mut found = Vec::new();
        for slot in p11.get_slots_with_token().map_err(|e| Error::pkcs11("C_GetSlotList", e))? {
            let info = p11.get_token_info(slot).map_err(|e| Error::pkcs11("C_GetTokenInfo", e))?;
            if info.label().trim_end() == label {
                found.push((slot, info.serial_number().trim_end().to_string()));
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::Invalid(format!("no token labelled {label:?}"))),
            n => Err(Error::Invalid(format!("{n} tokens labelled {label:?}"))),
        }
    }

    fn login(session: &Session, pin: &str) -> Result<()> {
        session
            .login(UserType::User, Some(&AuthPin::new(pin.into())))
            .map_err(|e| Error::pkcs11("C_Login", e))
    }

    /// CKA_EC_POINT is a DER OCTET STRING around the SEC1 point; some cards give it raw.
    fn unwrap_ec_point(bytes: &[u8]) -> Result<Vec<u8>> {
        if (bytes.len() == 97 || bytes.len() == 65) && bytes[0] == 0x04 {
            return Ok(bytes.to_vec());
        }
        OctetString::from_der(bytes)
            .map(|o| o.as_bytes().to_vec())
            .map_err(|e| Error::crypto("unwrapping CKA_EC_POINT", e))
    }

    /// Initializes the token with `softhsm2-util`, then makes each key pair and certificate.
    pub fn provision(conf: &Path, ca: &TestCa, spec: &CardSpec) -> Result<ProvisionedCard> {
        check_env(conf)?;
        let subject = subject_der(&spec.subject)?;
        let mut init = Command::new("softhsm2-util");
        init.env("SOFTHSM2_CONF", conf)
            .args(["--init-token", "--free", "--label", &spec.token_label])
            .args(["--so-pin", &spec.so_pin, "--pin", &spec.user_pin]);
        run(&mut init, None)?;

        let p11 = open_module()?;
        let (slot, serial) = find_token(&p11, &spec.token_label)?;
        let session = p11.open_rw_session(slot).map_err(|e| Error::pkcs11("C_OpenSession", e))?;
        login(&session, &spec.user_pin)?;
        let issuer = ca.subject_der();
        let mut certs = Vec::new();
        for cs in &spec.certs {
            let id: [u8; 16] = random_bytes()?;
            let key_label = format!("{} key", cs.role.title());
            let cert_label = format!("{} certificate", cs.role.title());
            let mut public_template = vec![
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::Id(id.to_vec()),
                Attribute::Label(key_label.clone().into_bytes()),
            ];
            let mechanism = match cs.algorithm {
                PairAlgorithm::P384 | PairAlgorithm::P256 => {
                    let params =
                        if cs.algorithm == PairAlgorithm::P384 { &P384_PARAMS[..] } else { &P256_PARAMS[..] };
                    public_template.push(Attribute::EcParams(params.to_vec()));
                    Mechanism::EccKeyPairGen
                }
                PairAlgorithm::Rsa2048 | PairAlgorithm::Rsa3072 => {
                    let bits: usize = if cs.algorithm == PairAlgorithm::Rsa2048 { 2048 } else { 3072 };
                    let bits = cryptoki::types::Ulong::try_from(bits)
                        .map_err(|e| Error::pkcs11("CKA_MODULUS_BITS", e))?;
                    public_template.push(Attribute::ModulusBits(bits));
                    public_template.push(Attribute::PublicExponent(vec![1, 0, 1]));
                    Mechanism::RsaPkcsKeyPairGen
                }
            };
            let private_template = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Id(id.to_vec()),
                Attribute::Label(key_label.clone().into_bytes()),
            ];
            let (public, _private) = session
                .generate_key_pair(&mechanism, &public_template, &private_template)
                .map_err(|e| Error::pkcs11("C_GenerateKeyPair", e))?;
            let point = public_key_spki(&session, public, cs.algorithm)?;
            let cert_der = ca.issue(&IssueRequest {
                subject_der: subject.clone(),
                public_key_sec1: point,
                role: cs.role,
                not_before: cs.not_before,
                not_after: cs.not_after,
                serial: None,
            })?;
            let cert = x509_cert::Certificate::from_der(&cert_der)
                .map_err(|e| Error::crypto("decoding the issued certificate", e))?;
            // CKA_SERIAL_NUMBER is the DER INTEGER, tag and length included.
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
        if spec.ca_certificate {
            let ca_der = ca.cert_der();
            let ca_cert = x509_cert::Certificate::from_der(&ca_der)
                .map_err(|e| Error::crypto("decoding the CA certificate", e))?;
            let serial_der = ca_cert
                .tbs_certificate()
                .serial_number()
                .to_der()
                .map_err(|e| Error::crypto("encoding the serial number", e))?;
            let id: [u8; 16] = random_bytes()?;
            session
                .create_object(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::CertificateType(CertificateType::X_509),
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Value(ca_der),
                    Attribute::Id(id.to_vec()),
                    Attribute::Subject(issuer.clone()),
                    Attribute::Issuer(issuer.clone()),
                    Attribute::SerialNumber(serial_der),
                    Attribute::Label(b"CA certificate".to_vec()),
                ])
                .map_err(|e| Error::pkcs11("C_CreateObject(CA certificate)", e))?;
        }
        let _ = session.logout();
        Ok(ProvisionedCard { token_label: spec.token_label.clone(), token_serial: serial, certs })
    }

    /// The new public key as a SubjectPublicKeyInfo DER (what the test CA certifies).
    fn public_key_spki(session: &Session, public: ObjectHandle, algorithm: PairAlgorithm) -> Result<Vec<u8>> {
        use p384::pkcs8::EncodePublicKey;
        let attributes = session
            .get_attributes(
                public,
                &[AttributeType::EcPoint, AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(|e| Error::pkcs11("C_GetAttributeValue(public key)", e))?;
        let find = |wanted: AttributeType| {
            attributes.iter().find_map(|a| match (a, wanted) {
                (Attribute::EcPoint(v), AttributeType::EcPoint)
                | (Attribute::Modulus(v), AttributeType::Modulus)
                | (Attribute::PublicExponent(v), AttributeType::PublicExponent) => Some(v.clone()),
                _ => None,
            })
        };
        let missing = || Error::Invalid("the new public key lacks its attributes".into());
        let document = match algorithm {
            PairAlgorithm::P384 => {
                let point = unwrap_ec_point(&find(AttributeType::EcPoint).ok_or_else(missing)?)?;
                p384::PublicKey::from_sec1_bytes(&point)
                    .map_err(|e| Error::crypto("the new P-384 public key", e))?
                    .to_public_key_der()
            }
            PairAlgorithm::P256 => {
                let point = unwrap_ec_point(&find(AttributeType::EcPoint).ok_or_else(missing)?)?;
                p256::PublicKey::from_sec1_bytes(&point)
                    .map_err(|e| Error::crypto("the new P-256 public key", e))?
                    .to_public_key_der()
            }
            PairAlgorithm::Rsa2048 | PairAlgorithm::Rsa3072 => {
                let n =
                    rsa::BoxedUint::from_be_slice_vartime(&find(AttributeType::Modulus).ok_or_else(missing)?);
                let e = rsa::BoxedUint::from_be_slice_vartime(
                    &find(AttributeType::PublicExponent).ok_or_else(missing)?,
                );
                rsa::PublicKey::new(n, e)
                    .map_err(|e| Error::crypto("the new RSA public key", e))?
                    .to_public_key_der()
            }
        }
        .map_err(|e| Error::crypto("encoding the new public key", e))?;
        Ok(document.as_bytes().to_vec())
    }

    fn bool_of(attrs: &[Attribute], t: AttributeType) -> Option<bool> {
        attrs.iter().find_map(|a| match (a, t) {
            (Attribute::Private(b), AttributeType::Private)
            | (Attribute::Sensitive(b), AttributeType::Sensitive)
            | (Attribute::Extractable(b), AttributeType::Extractable)
            | (Attribute::AlwaysSensitive(b), AttributeType::AlwaysSensitive)
            | (Attribute::NeverExtractable(b), AttributeType::NeverExtractable)
            | (Attribute::Sign(b), AttributeType::Sign) => Some(*b),
            _ => None,
        })
    }

    fn read_object(session: &Session, handle: ObjectHandle) -> Result<TokenObject> {
        let attrs = session
            .get_attributes(
                handle,
                &[AttributeType::Class, AttributeType::Id, AttributeType::Label, AttributeType::Private],
            )
            .map_err(|e| Error::pkcs11("C_GetAttributeValue", e))?;
        let mut obj = TokenObject {
            class: "other".into(),
            id: String::new(),
            label: String::new(),
            private: bool_of(&attrs, AttributeType::Private),
            ec: None,
            sensitive: None,
            extractable: None,
            always_sensitive: None,
            never_extractable: None,
            sign: None,
            cert_der: None,
            cert: None,
        };
        let mut class = None;
        for a in &attrs {
            match a {
                Attribute::Class(c) => class = Some(*c),
                Attribute::Id(id) => obj.id = hex(id),
                Attribute::Label(l) => obj.label = String::from_utf8_lossy(l).into_owned(),
                _ => {}
            }
        }
        obj.class = match class {
            Some(ObjectClass::PRIVATE_KEY) => "privateKey",
            Some(ObjectClass::PUBLIC_KEY) => "publicKey",
            Some(ObjectClass::CERTIFICATE) => "certificate",
            Some(ObjectClass::DATA) => "data",
            Some(ObjectClass::SECRET_KEY) => "secretKey",
            _ => "other",
        }
        .into();
        match class {
            Some(ObjectClass::PRIVATE_KEY) => {
                let types = [
                    AttributeType::KeyType,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::AlwaysSensitive,
                    AttributeType::NeverExtractable,
                    AttributeType::Sign,
                ];
                let attrs = session
                    .get_attributes(handle, &types)
                    .map_err(|e| Error::pkcs11("C_GetAttributeValue(private key)", e))?;
                obj.ec = key_is_ec(&attrs);
                obj.sensitive = bool_of(&attrs, AttributeType::Sensitive);
                obj.extractable = bool_of(&attrs, AttributeType::Extractable);
                obj.always_sensitive = bool_of(&attrs, AttributeType::AlwaysSensitive);
                obj.never_extractable = bool_of(&attrs, AttributeType::NeverExtractable);
                obj.sign = bool_of(&attrs, AttributeType::Sign);
            }
            Some(ObjectClass::PUBLIC_KEY) => {
                let attrs = session
                    .get_attributes(handle, &[AttributeType::KeyType])
                    .map_err(|e| Error::pkcs11("C_GetAttributeValue(public key)", e))?;
                obj.ec = key_is_ec(&attrs);
            }
            Some(ObjectClass::CERTIFICATE) => {
                let attrs = session
                    .get_attributes(handle, &[AttributeType::Value])
                    .map_err(|e| Error::pkcs11("C_GetAttributeValue(certificate)", e))?;
                if let Some(Attribute::Value(der)) = attrs.into_iter().next() {
                    // A certificate we cannot parse is still listed, without `cert`.
                    obj.cert = cert_info(&der).ok();
                    obj.cert_der = Some(der);
                }
            }
            _ => {}
        }
        Ok(obj)
    }

    fn key_is_ec(attrs: &[Attribute]) -> Option<bool> {
        attrs.iter().find_map(|a| match a {
            Attribute::KeyType(k) => Some(*k == KeyType::EC),
            _ => None,
        })
    }

    /// Signs a random challenge with the key, as its algorithm does (ECDSA over SHA-384 or
    /// SHA-256 with CKM_ECDSA, SoftHSM having no hashing ECDSA; RSA with CKM_SHA256_RSA_PKCS),
    /// and verifies with the certificate's public key.
    fn check_pair(session: &Session, key: ObjectHandle, cert_der: &[u8]) -> Result<()> {
        use p384::ecdsa::signature::Verifier;
        use p384::pkcs8::DecodePublicKey;
        let challenge: [u8; 32] = random_bytes()?;
        let cert = x509_cert::Certificate::from_der(cert_der)
            .map_err(|e| Error::crypto("decoding a certificate", e))?;
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| Error::crypto("encoding the certificate's key", e))?;
        let sign = |mechanism: &Mechanism, data: &[u8]| {
            session.sign(mechanism, key, data).map_err(|e| Error::pkcs11("C_Sign", e))
        };
        let bad = |e: p384::ecdsa::signature::Error| {
            Error::crypto("the certificate's key does not verify the card's signature", e)
        };
        if let Ok(public) = p384::PublicKey::from_public_key_der(&spki) {
            let digest = Sha384::digest(challenge);
            let raw = sign(&Mechanism::Ecdsa, &digest)?;
            let sig = p384::ecdsa::Signature::from_slice(&raw)
                .map_err(|e| Error::crypto("the card's signature", e))?;
            return p384::ecdsa::VerifyingKey::from(public).verify_prehash(&digest, &sig).map_err(bad);
        }
        if let Ok(public) = p256::PublicKey::from_public_key_der(&spki) {
            let digest = Sha256::digest(challenge);
            let raw = sign(&Mechanism::Ecdsa, &digest)?;
            let sig = p256::ecdsa::Signature::from_slice(&raw)
                .map_err(|e| Error::crypto("the card's signature", e))?;
            return p256::ecdsa::VerifyingKey::from(public).verify_prehash(&digest, &sig).map_err(bad);
        }
        let public = rsa::PublicKey::from_public_key_der(&spki)
            .map_err(|e| Error::crypto("certificate public key", e))?;
        let raw = sign(&Mechanism::Sha256RsaPkcs, &challenge)?;
        let sig = rsa::pkcs1v15::Signature::try_from(raw.as_slice())
            .map_err(|e| Error::crypto("the card's signature", e))?;
        rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public).verify(&challenge, &sig).map_err(bad)
    }

    /// Lists every object on the token and checks each certificate's key pair.
    pub fn inspect(conf: &Path, label: &str, pin: &str) -> Result<TokenContents> {
        check_env(conf)?;
        let p11 = open_module()?;
        let (slot, serial) = find_token(&p11, label)?;
        let session = p11.open_ro_session(slot).map_err(|e| Error::pkcs11("C_OpenSession", e))?;
        login(&session, pin)?;
        let handles = session.find_objects(&[]).map_err(|e| Error::pkcs11("C_FindObjects", e))?;
        let mut objects = Vec::new();
        let mut keys = Vec::new();
        for h in handles {
            let obj = read_object(&session, h)?;
            if obj.class == "privateKey" {
                keys.push((obj.id.clone(), obj.label.clone(), h));
            }
            objects.push(obj);
        }
        let mut pairs = Vec::new();
        for cert in objects.iter().filter(|o| o.class == "certificate") {
            let Some(der) = &cert.cert_der else { continue };
            let mut matching = keys.iter().filter(|(id, _, _)| *id == cert.id);
            let Some((_, key_label, key)) = matching.next() else {
                continue;
            };
            let result = if matching.next().is_some() {
                Err(Error::Invalid(format!("several private keys with CKA_ID {}", cert.id)))
            } else {
                check_pair(&session, *key, der)
            };
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
        Ok(TokenContents { token_label: label.to_string(), token_serial: serial, objects, pairs })
    }
}
