//! Connections to a domain controller: TLS (LDAPS, or StartTLS on `ldap://`; a plain-text bind
//! is never sent), a simple bind, and the mapping of LDAP result codes to what a user can act
//! on. The password is a [`Secret`] and never appears in a message.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};

use super::{Bind, LdapSettings};
use crate::directory::{DirectoryError, ServiceError, ServiceKind};

/// How long connecting (TCP + TLS) and one operation may take.
pub const OP_TIMEOUT: Duration = Duration::from_secs(30);

/// The trust store for LDAPS: the system's roots plus the `--ldap-ca` file's certificates.
/// Largest `--ldap-ca` file read (1 MiB: hundreds of certificates).
const MAX_CA_FILE: u64 = 1 << 20;

pub fn tls_config(s: &LdapSettings) -> Result<Option<Arc<rustls::ClientConfig>>, DirectoryError> {
    if s.insecure_skip_verify {
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &s.ca {
        let bad = |why: String| DirectoryError::Storage {
            message: format!("--ldap-ca {}: {why}", path.display()),
            hint:
                "give a PEM file with the domain's CA certificate(s) (-----BEGIN CERTIFICATE-----)"
                    .into(),
        };
        let text = crate::file::read_bounded(path, MAX_CA_FILE).map_err(|e| bad(e.to_string()))?;
        let blocks = pem::parse_many(&text).map_err(|e| bad(format!("not PEM ({e})")))?;
        let mut added = 0;
        for b in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
            roots
                .add(b.contents().to_vec().into())
                .map_err(|e| bad(format!("a certificate can't be used ({e})")))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no CERTIFICATE block in it".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Storage {
            message: format!("TLS can't be set up: {e}"),
            hint: "report this".into(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(config)))
}

/// A TCP connection to the DC of `s`, with TCP_NODELAY, as a std stream for ldap3.
async fn open_socket(s: &LdapSettings) -> std::io::Result<std::net::TcpStream> {
    let port: u16 = s
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(if s.starttls || s.url.starts_with("ldap://") {
            389
        } else {
            636
        });
    let stream = tokio::net::TcpStream::connect((s.host.as_str(), port)).await?;
    stream.set_nodelay(true)?;
    stream.into_std()
}

/// Opens a connection (TLS, or Kerberos-sealed for a Kerberos bind over ldap://) and binds.
pub async fn connect(
    s: &LdapSettings,
    tls: &Option<Arc<rustls::ClientConfig>>,
    bind: &Bind,
) -> Result<Ldap, DirectoryError> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(OP_TIMEOUT)
        .set_starttls(s.starttls)
        .set_no_tls_verify(s.insecure_skip_verify);
    if let Some(config) = tls {
        settings = settings.set_config(config.clone());
    }
    let what = format!("connecting to {}", s.url);
    // ldap3 opens its socket without TCP_NODELAY, and a request written in pieces then waits
    // for the server's delayed ACK (Nagle): ~40 ms on every fresh bind and search. The socket
    // is opened here, with the flag, and handed over.
    let stream = tokio::time::timeout(OP_TIMEOUT, open_socket(s))
        .await
        .map_err(|_| unavailable(&what, "timed out"))?
        .map_err(|e| unavailable(&what, &e.to_string()))?;
    settings = settings.set_std_stream(ldap3::StdStream::Tcp(stream));
    let (conn, mut ldap) =
        tokio::time::timeout(OP_TIMEOUT, LdapConnAsync::with_settings(settings, &s.url))
            .await
            .map_err(|_| unavailable(&what, "timed out"))?
            .map_err(|e| connect_error(s, e))?;
    ldap3::drive!(conn);
    let (bound, who) = match bind {
        Bind::Simple { dn, password } => (
            tokio::time::timeout(OP_TIMEOUT, async {
                ldap.simple_bind(dn, password.expose())
                    .await
                    .map_err(|e| connect_error(s, e))
            })
            .await,
            dn.as_str(),
        ),
        Bind::Kerberos => (
            tokio::time::timeout(OP_TIMEOUT, kerberos_bind(&mut ldap, s)).await,
            "the Kerberos ticket's principal",
        ),
    };
    let bound = bound.map_err(|_| unavailable(&format!("binding to {}", s.url), "timed out"))??;
    if bound.rc != 0 {
        return Err(result_error(
            &format!("binding to {} as {who}", s.url),
            bound.rc,
            &bound.text,
            None,
        ));
    }
    Ok(ldap)
}

/// A GSSAPI bind with the default credential (the ticket cache), for the SPN `ldap/HOST`.
#[cfg(feature = "kerberos")]
async fn kerberos_bind(
    ldap: &mut Ldap,
    s: &LdapSettings,
) -> Result<ldap3::LdapResult, DirectoryError> {
    ldap.sasl_gssapi_bind(&s.host).await.map_err(|e| match e {
        LdapError::GssapiOperationError(why) => kerberos_error(s, &why),
        e => connect_error(s, e),
    })
}

#[cfg(not(feature = "kerberos"))]
async fn kerberos_bind(
    _: &mut Ldap,
    s: &LdapSettings,
) -> Result<ldap3::LdapResult, DirectoryError> {
    Err(kerberos_error(
        s,
        "this ssprctl was built without Kerberos support",
    ))
}

/// A Kerberos bind that failed on the client side (no ticket, no service ticket for the DC).
fn kerberos_error(s: &LdapSettings, why: &str) -> DirectoryError {
    let built_without = why.contains("built without Kerberos");
    DirectoryError::Service(ServiceError {
        kind: if built_without {
            ServiceKind::Usage
        } else {
            ServiceKind::Auth
        },
        status: None,
        code: None,
        message: format!(
            "Kerberos bind to {} failed: {}",
            s.url,
            crate::text::sanitize(why)
        ),
        request_id: None,
        hint: Some(if built_without {
            "build ssprctl with `cargo build --release --features kerberos` (needs libkrb5-dev, libclang-dev \
             and pkg-config), or bind with SSPRCTL_LDAP_BIND_DN and a password (--ldap-auth simple)"
                .into()
        } else {
            format!(
                "get a ticket with `kinit user@REALM` (klist shows it; KRB5CCNAME names the cache), and give the \
                 DC by the host name of its SPN ldap/{} (not an IP address)",
                s.host
            )
        }),
    })
}

/// The `-v` line of a new bind: as whom, and what protects the connection.
pub async fn bound_note(s: &LdapSettings, bind: &Bind, ldap: &mut Ldap) -> String {
    let tls = if s.starttls {
        "TLS (StartTLS)"
    } else {
        "TLS (LDAPS)"
    };
    match bind {
        Bind::Simple { dn, .. } => format!("bound to {} as {dn}", s.url),
        Bind::Kerberos => {
            // Who-am-I (RFC 4532) names the account the ticket mapped to; Windows DCs answer
            // it, Samba does not.
            let who = match ldap.extended(ldap3::exop::WhoAmI).await {
                Ok(r) if r.1.rc == 0 => {
                    r.0.val
                        .map(|v| crate::text::sanitize(&String::from_utf8_lossy(&v)))
                        .filter(|v| !v.is_empty())
                }
                _ => None,
            };
            let who = who.unwrap_or_else(|| {
                "the ticket's principal (the DC does not answer Who-am-I)".into()
            });
            let protection = if s.url.starts_with("ldaps://") || s.starttls {
                format!("{tls}; Kerberos authenticates (with channel binding)")
            } else {
                "Kerberos sealing (GSSAPI confidentiality and integrity), no TLS".to_string()
            };
            format!(
                "bound to {} with Kerberos (GSSAPI) as {}; protection: {protection}",
                s.url,
                if who.is_empty() {
                    "(unknown)"
                } else {
                    who.as_str()
                }
            )
        }
    }
}

/// A failure to connect or to set up TLS.
fn connect_error(s: &LdapSettings, e: LdapError) -> DirectoryError {
    match e {
        LdapError::LdapResult { result } => result_error(
            &format!("connecting to {}", s.url),
            result.rc,
            &result.text,
            None,
        ),
        LdapError::Io { source } if source.kind() != std::io::ErrorKind::InvalidData => {
            unavailable(&format!("connecting to {}", s.url), &source.to_string())
        }
        other => {
            let text = other.to_string();
            let starttls = s.starttls && text.to_ascii_lowercase().contains("starttls");
            DirectoryError::Service(ServiceError {
                kind: ServiceKind::Failed,
                status: None,
                code: None,
                message: format!(
                    "TLS with {} failed: {}",
                    s.url,
                    crate::text::sanitize(&text)
                ),
                request_id: None,
                hint: Some(if starttls {
                    "the server offers no StartTLS: use ldaps:// (port 636); ssprctl never sends a bind in plain text".into()
                } else {
                    "check the host name matches the DC's certificate, and give the domain's CA with --ldap-ca PATH \
                     (--ldap-insecure-skip-verify is for labs only)"
                        .into()
                }),
            })
        }
    }
}

/// The server could not be reached or did not answer (exit 5).
pub fn unavailable(what: &str, why: &str) -> DirectoryError {
    DirectoryError::Service(ServiceError {
        kind: ServiceKind::Unavailable,
        status: None,
        code: None,
        message: format!("{what}: {}", crate::text::sanitize(why)),
        request_id: None,
        hint: Some("check that the domain controller is up and reachable; try again later".into()),
    })
}

/// The short name of an LDAP result code.
pub fn rc_name(rc: u32) -> &'static str {
    match rc {
        1 => "operationsError",
        8 => "strongAuthRequired",
        10 => "referral",
        16 => "noSuchAttribute",
        19 => "constraintViolation",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "other",
    }
}

/// True for result codes worth retrying after a pause (busy, unavailable).
pub fn retryable(e: &DirectoryError) -> bool {
    matches!(e, DirectoryError::Service(s) if s.kind == ServiceKind::Unavailable)
}

/// Maps a non-success LDAP result of `what` to an error a user can act on. `attributes` names
/// what a modify was writing (for insufficient access).
pub fn result_error(what: &str, rc: u32, text: &str, attributes: Option<&str>) -> DirectoryError {
    let text = crate::text::sanitize(text.trim().trim_end_matches('\0'));
    let detail = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    let (kind, hint) = match rc {
        49 => (
            ServiceKind::Auth,
            "check SSPRCTL_LDAP_BIND_DN (a DN, DOMAIN\\user or user@domain) and the password; \
             the AD sub-code in the message says why (52e: bad password, 775: locked, 532: expired)"
                .to_string(),
        ),
        50 => (
            ServiceKind::Auth,
            format!(
                "the bind account needs write permission on {} of these users: grant it with \
                 Active Directory Users and Computers' Delegation of Control wizard (Write mobile, \
                 Write telephoneNumber) on their OU",
                attributes.unwrap_or("the attributes")
            ),
        ),
        8 => (
            ServiceKind::Auth,
            "the server requires transport encryption: use ldaps:// or ldap:// with StartTLS"
                .into(),
        ),
        10 => (
            ServiceKind::Failed,
            "the object lives in another domain; referrals are not followed: point --directory at \
             a DC of that domain"
                .into(),
        ),
        19 | 21 => (
            ServiceKind::Failed,
            "AD refused the value (mobile and telephoneNumber hold at most 64 characters)".into(),
        ),
        51..=53 => (
            ServiceKind::Unavailable,
            "the domain controller is busy or unavailable: try again later".into(),
        ),
        _ => (
            ServiceKind::Failed,
            "the message above is the domain controller's".into(),
        ),
    };
    DirectoryError::Service(ServiceError {
        kind,
        status: None,
        code: Some(format!("{} ({rc})", rc_name(rc))),
        message: format!("{what} failed: LDAP {rc} {}{detail}", rc_name(rc)),
        request_id: None,
        hint: Some(hint),
    })
}

/// Maps an error of an operation on an open connection.
pub fn op_error(what: &str, e: LdapError) -> DirectoryError {
    match e {
        LdapError::LdapResult { result } => result_error(what, result.rc, &result.text, None),
        other => unavailable(what, &other.to_string()),
    }
}

/// `objectGUID` bytes as the usual GUID string (the first three fields little-endian).
pub fn guid_string(b: &[u8]) -> Option<String> {
    let b: &[u8; 16] = b.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// A GUID string as an escaped `objectGUID` filter value (`\xx` per byte).
/// An `objectSid` in its string form, `S-1-5-21-…`: revision, the 48-bit big-endian
/// authority, then the little-endian 32-bit sub-authorities (MS-DTYP 2.4.2).
pub fn sid_string(b: &[u8]) -> Option<String> {
    let (&revision, rest) = b.split_first()?;
    let (&count, rest) = rest.split_first()?;
    if rest.len() != 6 + 4 * usize::from(count) {
        return None;
    }
    let authority = rest[..6]
        .iter()
        .fold(0u64, |acc, byte| acc << 8 | u64::from(*byte));
    let mut s = format!("S-{revision}-{authority}");
    for sub in rest[6..].chunks_exact(4) {
        let v = u32::from_le_bytes(sub.try_into().ok()?);
        s.push_str(&format!("-{v}"));
    }
    Some(s)
}

/// The binary form of a SID string (the inverse of [`sid_string`]), escaped for a filter.
pub fn sid_filter(sid: &str) -> Option<String> {
    let mut parts = sid.strip_prefix("S-")?.split('-');
    let revision: u8 = parts.next()?.parse().ok()?;
    let authority: u64 = parts.next()?.parse().ok()?;
    let subs: Vec<u32> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if authority >= 1 << 48 || subs.is_empty() || subs.len() > 15 {
        return None;
    }
    let mut bytes = vec![revision, u8::try_from(subs.len()).ok()?];
    bytes.extend_from_slice(&authority.to_be_bytes()[2..]);
    for s in subs {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    Some(escape_bytes(&bytes))
}

/// Bytes as an LDAP filter value (`\xx` each).
pub fn escape_bytes(b: &[u8]) -> String {
    b.iter().map(|b| format!("\\{b:02x}")).collect()
}

pub fn guid_filter(guid: &str) -> Option<String> {
    let hex: String = guid.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    bytes[0..4].reverse();
    bytes[4..6].reverse();
    bytes[6..8].reverse();
    Some(escape_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sids_read_and_write_in_their_string_form() {
        // BUILTIN\Administrators, as MS-DTYP 2.4.2.2 spells it in binary.
        let b = [1u8, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 2, 0, 0];
        assert_eq!(sid_string(&b).as_deref(), Some("S-1-5-32-544"));
        assert_eq!(
            sid_filter("S-1-5-32-544").unwrap(),
            b.iter().map(|x| format!("\\{x:02x}")).collect::<String>()
        );
        let domain = "S-1-5-21-3623811015-3361044348-30300820-1013";
        let bytes: Vec<u8> = sid_filter(domain)
            .unwrap()
            .split('\\')
            .filter(|h| !h.is_empty())
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        assert_eq!(sid_string(&bytes).as_deref(), Some(domain));
        assert_eq!(sid_string(&b[..15]), None);
        assert_eq!(sid_filter("S-1-5"), None);
        assert_eq!(sid_filter("X-1-5-21"), None);
    }

    use super::*;

    #[test]
    fn guids_round_trip_in_windows_byte_order() {
        // objectGUID:: VDjpHlX8EUWthNN6sMPCBw== from a Samba DC.
        let bytes = [
            0x54, 0x38, 0xe9, 0x1e, 0x55, 0xfc, 0x11, 0x45, 0xad, 0x84, 0xd3, 0x7a, 0xb0, 0xc3,
            0xc2, 0x07,
        ];
        let s = guid_string(&bytes).unwrap();
        assert_eq!(s, "1ee93854-fc55-4511-ad84-d37ab0c3c207");
        assert_eq!(
            guid_filter(&s.to_uppercase()).unwrap(),
            "\\54\\38\\e9\\1e\\55\\fc\\11\\45\\ad\\84\\d3\\7a\\b0\\c3\\c2\\07"
        );
        assert!(guid_filter("not-a-guid").is_none());
        assert!(guid_string(&bytes[..15]).is_none());
    }

    #[test]
    fn result_codes_map_to_exit_kinds() {
        let kind = |rc| match result_error("x", rc, "", Some("mobile")) {
            DirectoryError::Service(s) => s.kind,
            _ => unreachable!(),
        };
        assert_eq!(kind(49), ServiceKind::Auth);
        assert_eq!(kind(50), ServiceKind::Auth);
        assert_eq!(kind(19), ServiceKind::Failed);
        assert_eq!(kind(52), ServiceKind::Unavailable);
        match result_error("modifying x", 50, "00002098: SecErr", Some("mobile")) {
            DirectoryError::Service(s) => {
                assert_eq!(
                    s.message,
                    "modifying x failed: LDAP 50 insufficientAccessRights: 00002098: SecErr"
                );
                assert!(s.hint.unwrap().contains("Delegation of Control"));
            }
            _ => unreachable!(),
        }
    }
}
