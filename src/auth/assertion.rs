//! Certificate credentials: a JWT client assertion signed with the certificate's private key
//! (PS256, header `x5t#S256` = base64url SHA-256 of the certificate's DER), as the Microsoft
//! identity platform expects.
//!
//! The PEM file holds the certificate and its RSA private key: PKCS#8 (`PRIVATE KEY`), PKCS#1
//! (`RSA PRIVATE KEY`) or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, with the password).

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
    /// Reads the PEM file at `path`.
    pub fn load(path: &Path, password: Option<&Secret>) -> Result<Self, CertError> {
        let err = |reason: String| CertError {
            path: path.display().to_string(),
            reason,
        };
        // A certificate file is small: a FIFO, a device or a huge file is refused, not read.
        let text = crate::file::read_bounded(path, 1 << 20).map_err(|e| err(e.to_string()))?;
        let blocks = pem::parse_many(&text).map_err(|e| err(format!("not PEM ({e})")))?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| err("no CERTIFICATE block".into()))?;
        let key_block = blocks
            .iter()
            .find(|b| b.tag().ends_with("PRIVATE KEY"))
            .ok_or_else(|| {
                err("no PRIVATE KEY block (the PEM needs the certificate and its key)".into())
            })?;
        let key = match key_block.tag() {
            "PRIVATE KEY" => PrivateKey::from_pkcs8_der(key_block.contents())
                .map_err(|e| err(format!("bad PKCS#8 key ({e})")))?,
            "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(key_block.contents())
                .map_err(|e| err(format!("bad PKCS#1 key ({e})")))?,
            "ENCRYPTED PRIVATE KEY" => {
                let password = password.ok_or_else(|| {
                    err(
                        "the key is encrypted and AZURE_CLIENT_CERTIFICATE_PASSWORD is not set"
                            .into(),
                    )
                })?;
                PrivateKey::from_pkcs8_encrypted_der(key_block.contents(), password.expose())
                    .map_err(|_| {
                        err(
                            "can't decrypt the key: wrong password or unsupported encryption"
                                .into(),
                        )
                    })?
            }
            other => return Err(err(format!("unsupported key type {other} (RSA keys only)"))),
        };
        Ok(Certificate {
            thumbprint_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(cert.contents())),
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

/// 128 random bits as hex, for `jti`.
fn unique_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}
