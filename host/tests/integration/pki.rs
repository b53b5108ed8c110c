//! Test certificate authorities of every key type the host verifies (RSA with PKCS#1 v1.5 or
//! PSS signatures, P-256, P-384), made with the `openssl` command at test time: it makes RSA
//! keys in milliseconds, signs with PSS, and sets any extension or validity a refusal needs.
//! Leaf certificates are issued for the host's own requests, so the key and subject are the
//! card's.

use std::path::{Path, PathBuf};
use std::process::Command;
use time::OffsetDateTime;

/// A CA key type, and for RSA the signature padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RSA 2048, PKCS#1 v1.5 signatures.
    Rsa,
    /// RSA 2048, RSASSA-PSS signatures.
    RsaPss,
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
}

impl Kind {
    fn keygen(self) -> Vec<&'static str> {
        match self {
            Kind::Rsa | Kind::RsaPss => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            Kind::P256 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Kind::P384 => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        }
    }

    /// Digest and signature options for signing with a key of this kind.
    fn sign_options(self) -> Vec<&'static str> {
        match self {
            Kind::Rsa => vec!["-sha256"],
            Kind::RsaPss => vec![
                "-sha384",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
                "-sigopt",
                "rsa_mgf1_md:sha384",
            ],
            Kind::P256 => vec!["-sha256"],
            Kind::P384 => vec!["-sha512"],
        }
    }
}

/// How a CA certificate should look.
#[derive(Debug, Clone, Copy)]
pub struct CaSpec {
    /// basicConstraints CA=true.
    pub ca: bool,
    /// keyUsage keyCertSign.
    pub key_cert_sign: bool,
    /// pathLenConstraint.
    pub path_len: Option<u8>,
    /// Validity, in days from now.
    pub from_days: i64,
    /// Validity end, in days from now.
    pub to_days: i64,
}

impl Default for CaSpec {
    fn default() -> Self {
        CaSpec { ca: true, key_cert_sign: true, path_len: None, from_days: -30, to_days: 3650 }
    }
}

/// A CA: key, certificate, and its own `openssl ca` database.
pub struct Ca {
    pub name: String,
    pub kind: Kind,
    pub dir: PathBuf,
    pub key: PathBuf,
    pub cert: PathBuf,
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `openssl ca` dates: YYYYMMDDHHMMSSZ.
fn date(days: i64) -> String {
    let at = OffsetDateTime::now_utc() + time::Duration::days(days);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn ca_extensions(spec: &CaSpec) -> String {
    let mut bc = format!("basicConstraints = critical, CA:{}", if spec.ca { "TRUE" } else { "FALSE" });
    if let (true, Some(n)) = (spec.ca, spec.path_len) {
        bc.push_str(&format!(", pathlen:{n}"));
    }
    let ku = if spec.key_cert_sign { "keyCertSign, cRLSign" } else { "cRLSign, digitalSignature" };
    format!("[ext]\n{bc}\nkeyUsage = critical, {ku}\nsubjectKeyIdentifier = hash\n")
}

impl Ca {
    /// A self-signed root.
    pub fn root(parent: &Path, name: &str, kind: Kind, spec: CaSpec) -> Ca {
        let ca = Ca::prepare(parent, name, kind);
        openssl(&["genpkey", "-out", s(&ca.key)].into_iter().chain(kind.keygen()).collect::<Vec<_>>());
        ca.self_sign(spec);
        ca
    }

    fn prepare(parent: &Path, name: &str, kind: Kind) -> Ca {
        let dir = parent.join(name.replace(' ', "_"));
        std::fs::create_dir_all(dir.join("new")).expect("ca dir");
        std::fs::write(dir.join("index.txt"), "").expect("index");
        std::fs::write(dir.join("serial"), "1000\n").expect("serial");
        let config = format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\nnew_certs_dir = {0}/new\nserial = {0}/serial\n\
             policy = p\nunique_subject = no\nemail_in_dn = no\ndefault_md = sha256\n[p]\ncommonName = supplied\n",
            dir.display()
        );
        std::fs::write(dir.join("ca.cnf"), config).expect("config");
        Ca { name: name.into(), kind, key: dir.join("key.pem"), cert: dir.join("cert.pem"), dir }
    }

    /// (Re)writes this CA's own certificate as self-signed with `spec` (same key and name:
    /// a changed anchor file for the same CA).
    pub fn self_sign(&self, spec: CaSpec) {
        let csr = self.dir.join("self.csr");
        let subject = format!("/CN={}", self.name);
        openssl(&["req", "-new", "-key", s(&self.key), "-subj", &subject, "-out", s(&csr)]);
        self.sign_ca(&csr, &self.cert, spec, true);
    }

    /// An intermediate CA of `kind` under this one.
    pub fn intermediate(&self, name: &str, kind: Kind, spec: CaSpec) -> Ca {
        let ca = Ca::prepare(&self.dir, name, kind);
        openssl(&["genpkey", "-out", s(&ca.key)].into_iter().chain(kind.keygen()).collect::<Vec<_>>());
        let csr = ca.dir.join("req.csr");
        let subject = format!("/CN={name}");
        openssl(&["req", "-new", "-key", s(&ca.key), "-subj", &subject, "-out", s(&csr)]);
        self.sign_ca(&csr, &ca.cert, spec, false);
        ca
    }

    fn sign_ca(&self, csr: &Path, out: &Path, spec: CaSpec, self_signed: bool) {
        let ext = self.dir.join("ext.cnf");
        std::fs::write(&ext, ca_extensions(&spec)).expect("ext");
        let (start, end) = (date(spec.from_days), date(spec.to_days));
        let cnf = self.dir.join("ca.cnf");
        let mut args = vec!["ca", "-batch", "-notext", "-config", s(&cnf), "-keyfile", s(&self.key)];
        if self_signed {
            args.push("-selfsign");
        } else {
            args.extend(["-cert", s(&self.cert)]);
        }
        args.extend(["-in", s(csr), "-out", s(out), "-startdate", &start, "-enddate", &end]);
        args.extend(["-extfile", s(&ext), "-extensions", "ext"]);
        let md: Vec<&str> = self.kind.sign_options().into_iter().map(|o| o.trim_start_matches('-')).collect();
        // `openssl ca` takes the digest as -md NAME and PSS as -sigopt.
        args.extend(["-md", md[0]]);
        let sigopts: Vec<&str> = self.kind.sign_options().into_iter().skip(1).collect();
        args.extend(sigopts.iter().copied());
        openssl(&args);
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> Vec<u8> {
        openssl(&["x509", "-in", s(&self.cert), "-outform", "DER"])
    }

    /// Issues a card certificate for the request `csr_der` (subject and key as requested).
    pub fn issue(&self, csr_der: &[u8], leaf: &Leaf) -> Vec<u8> {
        let dir = tempfile::tempdir_in(&self.dir).expect("leaf dir");
        let csr = dir.path().join("req.der");
        std::fs::write(&csr, csr_der).expect("csr");
        let ext = dir.path().join("ext.cnf");
        std::fs::write(&ext, leaf.extensions()).expect("ext");
        let days = leaf.days.to_string();
        let mut args = vec![
            "x509",
            "-req",
            "-inform",
            "DER",
            "-in",
            s(&csr),
            "-CA",
            s(&self.cert),
            "-CAkey",
            s(&self.key),
            "-CAcreateserial",
            "-days",
            &days,
            "-extfile",
            s(&ext),
            "-extensions",
            "ext",
            "-outform",
            "DER",
        ];
        args.extend(self.kind.sign_options());
        openssl(&args)
    }
}

/// How a card certificate should look.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// "authentication" or "signing": decides key usage and, for authentication, clientAuth.
    pub role: String,
    /// Days from now until it expires.
    pub days: u32,
    /// basicConstraints CA=true (a CA certificate for the card's key).
    pub ca: bool,
    /// Extended key usage to use instead of the role's.
    pub eku: Option<&'static str>,
}

impl Leaf {
    pub fn new(role: &str) -> Leaf {
        Leaf { role: role.into(), days: 700, ca: false, eku: None }
    }

    fn extensions(&self) -> String {
        let mut text = String::from("[ext]\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n");
        if self.role == "signing" {
            text.push_str("keyUsage = critical, nonRepudiation\n");
        } else {
            text.push_str("keyUsage = critical, digitalSignature\n");
        }
        match (self.eku, self.role.as_str()) {
            (Some(eku), _) => text.push_str(&format!("extendedKeyUsage = {eku}\n")),
            (None, "signing") => {}
            (None, _) => text.push_str("extendedKeyUsage = clientAuth\n"),
        }
        if self.ca {
            text.push_str("basicConstraints = critical, CA:TRUE\n");
        }
        text
    }
}
