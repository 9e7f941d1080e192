//! Certificate credentials: a JWT client assertion signed with the certificate's private key
//! (PS256, header `x5t#S256` = base64url SHA-256 of the certificate's DER), as the Microsoft
//! identity platform expects.
//!
//! The file is told by its content, not its name:
//! - PEM: the certificate and its RSA private key: PKCS#8 (`PRIVATE KEY`), PKCS#1
//!   (`RSA PRIVATE KEY`) or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, with the password);
//! - PKCS#12 (`.pfx`/`.p12`, what the Entra portal and Windows' certificate export write): read
//!   by the p12-keystore crate, modern (PBES2, AES-256, HMAC-SHA-256: OpenSSL 3 and current
//!   Windows) and legacy (3DES and RC2 with SHA-1) alike; a file without a password has the
//!   empty password, as Windows and azure-identity treat it.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::PrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// Why a certificate could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate {path}: {reason}")]
pub struct CertError {
    pub path: String,
    pub reason: String,
}

/// A loaded certificate credential.
pub struct Certificate {
    /// base64url SHA-256 of the certificate DER.
    pub thumbprint_s256: String,
    key: PrivateKey,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("thumbprint_s256", &self.thumbprint_s256)
            .field("key", &"(redacted)")
            .finish()
    }
}

impl Certificate {
    /// Reads the certificate file at `path`: PEM or PKCS#12, told by its content.
    pub fn load(path: &Path, password: Option<&Secret>) -> Result<Self, CertError> {
        let err = |reason: String| CertError {
            path: path.display().to_string(),
            reason,
        };
        // A certificate file is small: a FIFO, a device or a huge file is refused, not read.
        let bytes = crate::file::read_bounded(path, 1 << 20).map_err(|e| err(e.to_string()))?;
        let (cert_der, key) = match format_of(&bytes) {
            Format::Pem => from_pem(&bytes, password).map_err(err)?,
            Format::Pkcs12 => from_pkcs12(&bytes, password).map_err(err)?,
            Format::Other(what) => {
                return Err(err(format!(
                    "neither PEM nor PKCS#12 ({what}); give a .pem with the certificate and key, or a .pfx/.p12"
                )));
            }
        };
        Ok(Certificate {
            thumbprint_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&cert_der)),
            key,
        })
    }

    /// A signed assertion for `client_id` at `token_url`, valid for 10 minutes.
    pub fn assertion(&self, client_id: &str, token_url: &str) -> Result<Secret, CertError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header =
            serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.thumbprint_s256});
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": unique_id(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        let b64 = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let signing_input = format!("{}.{}", b64(&header), b64(&claims));
        let signature = self
            .key
            .pss_sign::<Sha256>(signing_input.as_bytes())
            .map_err(|e| CertError {
                path: String::new(),
                reason: format!("signing failed ({e})"),
            })?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// What a certificate file holds.
enum Format {
    Pem,
    Pkcs12,
    /// Neither: what it looks like, for the message.
    Other(String),
}

/// Tells PEM (text with `-----BEGIN`) from PKCS#12 (DER: a SEQUENCE whose first element is
/// the version 3) by content.
fn format_of(bytes: &[u8]) -> Format {
    let text_start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &bytes[i..]);
    if text_start.starts_with(b"-----BEGIN") {
        return Format::Pem;
    }
    // PFX ::= SEQUENCE { version INTEGER (v3), … }: 30 len… 02 01 03.
    if bytes.first() == Some(&0x30) {
        let len_bytes = match bytes.get(1) {
            Some(b) if *b < 0x80 => 0,
            Some(b) => usize::from(b & 0x7f),
            None => 0,
        };
        if bytes.get(2 + len_bytes..5 + len_bytes) == Some(&[0x02, 0x01, 0x03][..]) {
            return Format::Pkcs12;
        }
        return Format::Other("DER, but not a PKCS#12 file: a bare certificate or key?".into());
    }
    if bytes.is_empty() {
        return Format::Other("the file is empty".into());
    }
    let shown: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    Format::Other(format!("it starts with the bytes {}", shown.join(" ")))
}

/// The certificate (DER) and key of a PEM file.
fn from_pem(bytes: &[u8], password: Option<&Secret>) -> Result<(Vec<u8>, PrivateKey), String> {
    let blocks = pem::parse_many(bytes).map_err(|e| format!("not PEM ({e})"))?;
    let cert = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .ok_or("no CERTIFICATE block")?;
    let key_block = blocks
        .iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .ok_or("no PRIVATE KEY block (the PEM needs the certificate and its key)")?;
    let key = match key_block.tag() {
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(key_block.contents())
            .map_err(|e| format!("bad PKCS#8 key ({e})"))?,
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(key_block.contents())
            .map_err(|e| format!("bad PKCS#1 key ({e})"))?,
        "ENCRYPTED PRIVATE KEY" => {
            let password = password
                .ok_or("the key is encrypted and AZURE_CLIENT_CERTIFICATE_PASSWORD is not set")?;
            PrivateKey::from_pkcs8_encrypted_der(key_block.contents(), password.expose())
                .map_err(|_| "can't decrypt the key: wrong password or unsupported encryption")?
        }
        other => return Err(format!("unsupported key type {other} (RSA keys only)")),
    };
    Ok((cert.contents().to_vec(), key))
}

/// The certificate (DER) and key of a PKCS#12 file.
fn from_pkcs12(bytes: &[u8], password: Option<&Secret>) -> Result<(Vec<u8>, PrivateKey), String> {
    use p12_keystore::error::Error as P12;
    use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
    let given = password.map_or("", |p| p.expose());
    let store = KeyStore::from_pkcs12(bytes, given, Pkcs12ImportPolicy::Strict).map_err(|e| {
        match e {
            P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) if password.is_none() => {
                "a PKCS#12 file protected by a password: set AZURE_CLIENT_CERTIFICATE_PASSWORD"
                    .to_string()
            }
            P12::MacError(_) | P12::UnpadError => {
                "a PKCS#12 file, but AZURE_CLIENT_CERTIFICATE_PASSWORD is not its password".into()
            }
            P12::UnsupportedEncryptionScheme | P12::UnsupportedMacAlgorithm => format!(
                "a PKCS#12 file protected in a way ssprctl can't read ({e}); export it again with AES-256 (or TripleDES) and SHA-256 (or SHA-1)"
            ),
            other => format!("a PKCS#12 file that can't be read ({other})"),
        }
    })?;
    let (_, chain) = store.private_key_chain().ok_or(
        "a PKCS#12 file without a private key and its certificate (export it with the private key)",
    )?;
    let cert = chain
        .certs()
        .first()
        .ok_or("a PKCS#12 file whose private key has no certificate")?;
    let key = PrivateKey::from_pkcs8_der(chain.key().as_der())
        .map_err(|e| format!("a PKCS#12 file whose key is not an RSA key ssprctl can use ({e})"))?;
    Ok((cert.as_der().to_vec(), key))
}

/// A random GUID (version 4), for `jti`: Microsoft's examples show one.
fn unique_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bits: u128 = 0;
    for i in 0..2u128 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        bits |= u128::from(h.finish()) << (64 * i);
    }
    // Version 4, variant 10xx.
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
