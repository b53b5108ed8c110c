//! HTTPS for `serve --tls`: a server certificate for 127.0.0.1 and
//! `localhost`, made at each start with a fresh P-384 key and issued by the
//! stand-in's CA (so `caCert` from the ready line is the trust anchor), and a
//! listener that does TLS handshakes off the accept path.
//!
//! The key stays in memory; only the certificate is written, to
//! `<data>/tls-cert.pem`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use der::asn1::{Ia5String, ObjectIdentifier, OctetString};
use der::{Decode, Encode, EncodePem};
use p384::ecdsa::{DerSignature, SigningKey};
use p384::elliptic_curve::Generate;
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::Validity;
use x509_cert::Certificate;

use crate::ca::TestCa;

/// File the server certificate is written to, inside the data directory.
pub const CERT_FILE: &str = "tls-cert.pem";
const ID_KP_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("TLS {what}: {e}")
}

/// A server certificate profile: 127.0.0.1 and localhost, serverAuth.
struct ServerProfile {
    issuer: Name,
    subject: Name,
}

impl BuilderProfile for ServerProfile {
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
        let mut exts = Vec::new();
        let bc = BasicConstraints { ca: false, path_len_constraint: None };
        exts.push(bc.to_extension(subject, &exts)?);
        exts.push(KeyUsage(KeyUsages::DigitalSignature.into()).to_extension(subject, &exts)?);
        exts.push(ExtendedKeyUsage(vec![ID_KP_SERVER_AUTH]).to_extension(subject, &exts)?);
        let san = SubjectAltName(vec![
            GeneralName::IpAddress(OctetString::new(Ipv4Addr::LOCALHOST.octets().to_vec())?),
            GeneralName::DnsName(Ia5String::new("localhost")?),
        ]);
        exts.push(san.to_extension(subject, &exts)?);
        exts.push(SubjectKeyIdentifier::try_from(spk)?.to_extension(subject, &exts)?);
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(SubjectKeyIdentifier::try_from(issuer_spk)?.0),
            ..Default::default()
        };
        exts.push(aki.to_extension(subject, &exts)?);
        Ok(exts)
    }
}

fn random_serial() -> Result<SerialNumber, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| err("random")(&e))?;
    b[0] = (b[0] & 0x7f) | 0x01;
    SerialNumber::new(&b).map_err(|e| err("serial")(&e))
}

/// Makes the server certificate and the TLS acceptor; returns the acceptor
/// and the path of the certificate PEM.
pub fn acceptor(ca: &TestCa, data: &Path) -> Result<(TlsAcceptor, PathBuf), String> {
    let ca_key_pem = std::fs::read_to_string(ca.key_pem_path()).map_err(|e| err("CA key")(&e))?;
    let ca_key = SigningKey::from_pkcs8_pem(&ca_key_pem).map_err(|e| err("CA key")(&e))?;
    let ca_der = ca.cert_der();
    let ca_cert = Certificate::from_der(&ca_der).map_err(|e| err("CA certificate")(&e))?;

    let key = SigningKey::try_generate().map_err(|e| err("key")(&e))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).map_err(|e| err("key")(&e))?;
    let profile = ServerProfile {
        issuer: ca_cert.tbs_certificate().subject().clone(),
        subject: Name::from_str("CN=127.0.0.1,O=cis-renew stand-in").map_err(|e| err("name")(&e))?,
    };
    let validity = Validity::from_now(Duration::from_secs(365 * 86_400)).map_err(|e| err("validity")(&e))?;
    let cert = CertificateBuilder::new(profile, random_serial()?, validity, spki)
        .map_err(|e| err("certificate")(&e))?
        .build::<_, DerSignature>(&ca_key)
        .map_err(|e| err("certificate")(&e))?;
    let cert_der = cert.to_der().map_err(|e| err("certificate")(&e))?;
    let pem_path = data.join(CERT_FILE);
    let pem = cert.to_pem(LineEnding::LF).map_err(|e| err("certificate")(&e))?;
    std::fs::write(&pem_path, pem).map_err(|e| err("certificate file")(&e))?;

    let key_der = key.to_pkcs8_der().map_err(|e| err("key")(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("config")(&e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der), CertificateDer::from(ca_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.as_bytes().to_vec())),
        )
        .map_err(|e| err("config")(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), pem_path))
}

/// A listener that hands out connections whose TLS handshake has finished.
/// Handshakes run in their own tasks, so a slow client does not hold others up.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` (needs a Tokio runtime).
    pub fn start(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(c) => c,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let tx = tx.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        let _ = tx.send((tls, addr)).await;
                    }
                });
            }
        });
        Ok(TlsListener { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
