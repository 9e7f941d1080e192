//! Files that hold credentials between invocations, readable only by the user (0600):
//! the access-token cache (per credential kind, tenant, client and cloud) and the device-code
//! login (tenant, client and refresh token). Writes go to a temp file renamed into place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Tokens this close to expiry are not reused.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// Where the files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub token_cache: PathBuf,
    pub login: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    tokens: BTreeMap<String, CachedToken>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedToken {
    access_token: String,
    expires_at: u64,
}

/// What `ssprctl login` remembers.
#[derive(Serialize, Deserialize)]
pub struct Login {
    pub tenant: String,
    pub client_id: String,
    pub cloud: String,
    pub refresh_token: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("cloud", &self.cloud)
            .field("refresh_token", &"(redacted)")
            .finish()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes `data` to `path` with mode 0600, atomically.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl Store {
    fn load_cache(&self) -> CacheFile {
        std::fs::read(&self.token_cache)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// A cached token for `key` that is not about to expire.
    pub fn cached_token(&self, key: &str) -> Option<Secret> {
        let cache = self.load_cache();
        let t = cache.tokens.get(key)?;
        (t.expires_at > now() + EXPIRY_MARGIN.as_secs()).then(|| Secret::new(&t.access_token))
    }

    pub fn save_token(&self, key: &str, token: &Secret, expires_in: u64) -> std::io::Result<()> {
        let mut cache = self.load_cache();
        let t = now();
        cache.tokens.retain(|_, v| v.expires_at > t);
        cache.tokens.insert(
            key.to_string(),
            CachedToken {
                access_token: token.expose().to_string(),
                expires_at: t + expires_in,
            },
        );
        write_private(
            &self.token_cache,
            &serde_json::to_vec(&cache).expect("serialisable"),
        )
    }

    /// Forgets a token the server rejected.
    pub fn remove_token(&self, key: &str) -> std::io::Result<()> {
        let mut cache = self.load_cache();
        if cache.tokens.remove(key).is_some() {
            write_private(
                &self.token_cache,
                &serde_json::to_vec(&cache).expect("serialisable"),
            )?;
        }
        Ok(())
    }

    pub fn load_login(&self) -> Option<Login> {
        std::fs::read(&self.login)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    pub fn save_login(&self, login: &Login) -> std::io::Result<()> {
        write_private(
            &self.login,
            &serde_json::to_vec_pretty(login).expect("serialisable"),
        )
    }

    /// Deletes every cached credential; returns the files removed.
    pub fn clear(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for p in [&self.login, &self.token_cache] {
            match std::fs::remove_file(p) {
                Ok(()) => removed.push(p.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            token_cache: dir.path().join("tokens.json"),
            login: dir.path().join("login.json"),
        };
        assert!(store.cached_token("k").is_none());
        store.save_token("k", &Secret::new("t1"), 3600).unwrap();
        assert_eq!(store.cached_token("k").unwrap().expose(), "t1");
        // Nearly expired tokens are not reused.
        store.save_token("short", &Secret::new("t2"), 60).unwrap();
        assert!(store.cached_token("short").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&store.token_cache)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.remove_token("k").unwrap();
        assert!(store.cached_token("k").is_none());
        let removed = store.clear().unwrap();
        assert_eq!(removed, std::slice::from_ref(&store.token_cache));
    }
}
