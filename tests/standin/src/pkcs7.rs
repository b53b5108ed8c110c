//! PKCS#7 / CMS "certs-only" messages (RFC 7030 section 4.1.3): a SignedData
//! with no content and no signers that only carries certificates.

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};
use x509_cert::Certificate;

const ID_DATA: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

/// Wraps DER certificates into a certs-only PKCS#7 ContentInfo, DER.
pub fn certs_only(certs: &[&[u8]]) -> der::Result<Vec<u8>> {
    let mut set = SetOfVec::new();
    for der in certs {
        set.insert(CertificateChoices::Certificate(Certificate::from_der(der)?))?;
    }
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo { econtent_type: ID_DATA, econtent: None },
        certificates: Some(CertificateSet(set)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    ContentInfo { content_type: ID_SIGNED_DATA, content: Any::encode_from(&signed)? }.to_der()
}

/// The certificates of a certs-only PKCS#7, DER each (for tests and tools).
pub fn certificates(pkcs7: &[u8]) -> der::Result<Vec<Vec<u8>>> {
    let info = ContentInfo::from_der(pkcs7)?;
    let signed: SignedData = info.content.decode_as()?;
    let mut out = Vec::new();
    for choice in signed.certificates.iter().flat_map(|s| s.0.iter()) {
        if let CertificateChoices::Certificate(c) = choice {
            out.push(c.to_der()?);
        }
    }
    Ok(out)
}
