//! EST `csrattrs` (RFC 7030 §4.5): the key algorithm this CA wants new keys in.
//!
//! The answer is a DER `CsrAttrs` (`SEQUENCE OF AttrOrOID`) with one
//! `Attribute`: for EC, `id-ecPublicKey` with the named curve's OID as its
//! value (the RFC 7030 §4.5.2 example); for RSA, `rsaEncryption` with the
//! modulus size as an INTEGER value (as RFC 9908 writes key sizes).

use std::str::FromStr;

use der::asn1::{Any, ObjectIdentifier, SetOfVec};
use der::Encode;
use x509_cert::attr::Attribute;

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The key algorithm named in `csrattrs` (`--csr-key-algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgorithm {
    /// EC P-384 (the default).
    #[default]
    P384,
    /// EC P-256.
    P256,
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
}

impl FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "p384" => Ok(KeyAlgorithm::P384),
            "p256" => Ok(KeyAlgorithm::P256),
            "rsa2048" => Ok(KeyAlgorithm::Rsa2048),
            "rsa3072" => Ok(KeyAlgorithm::Rsa3072),
            _ => Err(format!("--csr-key-algorithm {s:?}: use p384, p256, rsa2048 or rsa3072")),
        }
    }
}

/// The DER `CsrAttrs` naming `alg`.
pub fn csr_attrs_der(alg: KeyAlgorithm) -> Result<Vec<u8>, der::Error> {
    let (oid, value) = match alg {
        KeyAlgorithm::P384 => (ID_EC_PUBLIC_KEY, Any::encode_from(&SECP384R1)?),
        KeyAlgorithm::P256 => (ID_EC_PUBLIC_KEY, Any::encode_from(&SECP256R1)?),
        KeyAlgorithm::Rsa2048 => (RSA_ENCRYPTION, Any::encode_from(&2048u32)?),
        KeyAlgorithm::Rsa3072 => (RSA_ENCRYPTION, Any::encode_from(&3072u32)?),
    };
    let mut values = SetOfVec::new();
    values.insert(value)?;
    let attribute = Attribute { oid, values };
    // CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID; an Attribute is one CHOICE arm.
    let attrs: Vec<Any> = vec![Any::encode_from(&attribute)?];
    attrs.to_der()
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn each_algorithm_decodes_back_to_its_oid_and_value() {
        for (alg, oid, value) in [
            (KeyAlgorithm::P384, ID_EC_PUBLIC_KEY, Any::encode_from(&SECP384R1)),
            (KeyAlgorithm::P256, ID_EC_PUBLIC_KEY, Any::encode_from(&SECP256R1)),
            (KeyAlgorithm::Rsa2048, RSA_ENCRYPTION, Any::encode_from(&2048u32)),
            (KeyAlgorithm::Rsa3072, RSA_ENCRYPTION, Any::encode_from(&3072u32)),
        ] {
            let der = csr_attrs_der(alg).expect("encode");
            let seq = Vec::<Any>::from_der(&der).expect("SEQUENCE OF");
            assert_eq!(seq.len(), 1);
            let attr: Attribute = seq[0].decode_as().expect("Attribute");
            assert_eq!(attr.oid, oid, "{alg:?}");
            let got: Vec<&Any> = attr.values.iter().collect();
            assert_eq!(got, vec![&value.expect("value")], "{alg:?}");
        }
    }

    #[test]
    fn p384_matches_the_rfc_7030_example_bytes() {
        // SEQUENCE { SEQUENCE { id-ecPublicKey, SET { secp384r1 } } }, as in RFC 7030 §4.5.2.
        let der = csr_attrs_der(KeyAlgorithm::P384).expect("encode");
        assert_eq!(
            der,
            [
                0x30, 0x14, 0x30, 0x12, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x31, 0x07,
                0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22
            ]
        );
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let e = "p521".parse::<KeyAlgorithm>().expect_err("p521");
        assert!(e.contains("p384, p256, rsa2048 or rsa3072"), "{e}");
        assert_eq!("rsa3072".parse::<KeyAlgorithm>(), Ok(KeyAlgorithm::Rsa3072));
    }
}
