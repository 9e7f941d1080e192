//! Files that hold credentials between invocations, readable only by the user (0600):
//! the access-token cache (per credential kind, tenant, client and cloud) and the device-code
//! login (tenant, client and refresh token). Writes go to a temp file renamed into place.
//!
//! The files are guarded like ssh guards its keys: the folder is made 0700 whatever the umask;
//! the temp file is created exclusively (`O_EXCL`, mode 0600, never through a symlink); an
//! existing file that is not the user's own or is readable by others is not read (a warning
//! says why, and the next write replaces it). A token with control characters or an empty one
//! is never cached, and a cached one like that is ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Tokens this close to expiry are not reused.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(300);
/// Shortest and longest token lifetimes believed (`expires_in` outside is clamped).
pub const MIN_LIFETIME: u64 = 1;
pub const MAX_LIFETIME: u64 = 86_400;

/// True for a value fit to send in a header or store: not empty, no control characters or
/// spaces.
pub fn usable_token(t: &str) -> bool {
    !t.is_empty() && t.len() <= 64 * 1024 && !t.chars().any(|c| c.is_control() || c == ' ')
}

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

/// Creates `dir` (and its parents) and makes it 0700, whatever the umask.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Why an existing credential file is not trusted, if it isn't: not a regular file (a
/// symlink, say), not owned by this user, or readable or writable by others.
pub fn untrusted(path: &Path) -> Option<String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return None,
    };
    if !meta.file_type().is_file() {
        return Some(format!("{} is not a regular file", path.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and can't fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Some(format!(
                "{} is owned by another user (uid {})",
                path.display(),
                meta.uid()
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Some(format!(
                "{} has mode {:o}, not 0600",
                path.display(),
                meta.mode() & 0o777
            ));
        }
    }
    None
}

/// Writes `data` to `path` with mode 0600, atomically: a temp file created exclusively (never
/// through a symlink or over an existing file), then renamed into place.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut f = match opts.open(&tmp) {
        Ok(f) => f,
        // A leftover of ours (a crash) is removed; a symlink planted there is removed, not
        // followed; then the exclusive create runs once more.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            opts.open(&tmp)?
        }
        Err(e) => return Err(e),
    };
    let written = f.write_all(data).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

/// Reads a credential file unless it is untrusted (then warns on stderr and reads nothing).
fn read_private(path: &Path) -> Option<Vec<u8>> {
    if let Some(why) = untrusted(path) {
        eprintln!(
            "warning: ignoring {}: {why}; it will be replaced with a private (0600) file",
            path.display()
        );
        return None;
    }
    std::fs::read(path).ok()
}

impl Store {
    fn load_cache(&self) -> CacheFile {
        read_private(&self.token_cache)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// A cached token for `key` that is not about to expire, and when it expires.
    pub fn cached_token(&self, key: &str) -> Option<(Secret, SystemTime)> {
        let cache = self.load_cache();
        let t = cache.tokens.get(key)?;
        let fresh = t.expires_at > now().saturating_add(EXPIRY_MARGIN.as_secs());
        (fresh && usable_token(&t.access_token)).then(|| {
            (
                Secret::new(&t.access_token),
                UNIX_EPOCH + Duration::from_secs(t.expires_at.min(u64::from(u32::MAX))),
            )
        })
    }

    /// Caches `token` for `expires_in` seconds (already clamped by the caller); an unusable
    /// token is refused.
    pub fn save_token(&self, key: &str, token: &Secret, expires_in: u64) -> std::io::Result<()> {
        if !usable_token(token.expose()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the token is empty or has control characters; not cached",
            ));
        }
        let mut cache = self.load_cache();
        let t = now();
        cache.tokens.retain(|_, v| v.expires_at > t);
        cache.tokens.insert(
            key.to_string(),
            CachedToken {
                access_token: token.expose().to_string(),
                expires_at: t.saturating_add(expires_in.clamp(MIN_LIFETIME, MAX_LIFETIME)),
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
        read_private(&self.login)
            .and_then(|b| serde_json::from_slice::<Login>(&b).ok())
            .filter(|l| usable_token(&l.refresh_token))
    }

    pub fn save_login(&self, login: &Login) -> std::io::Result<()> {
        if !usable_token(&login.refresh_token) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the refresh token is empty or has control characters; not saved",
            ));
        }
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
        assert_eq!(store.cached_token("k").unwrap().0.expose(), "t1");
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

    #[test]
    fn unusable_tokens_are_never_cached() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            token_cache: dir.path().join("tokens.json"),
            login: dir.path().join("login.json"),
        };
        for bad in ["", "a\nb", "a b", "a\u{1b}[2J"] {
            assert!(
                store.save_token("k", &Secret::new(bad), 3600).is_err(),
                "{bad:?}"
            );
        }
        assert!(!store.token_cache.exists());
        // A cached value with a control character (written by someone else) is ignored.
        std::fs::write(
            &store.token_cache,
            format!(
                r#"{{"tokens":{{"k":{{"access_token":"x\u0007y","expires_at":{}}}}}}}"#,
                now() + 9999
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&store.token_cache, std::fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        assert!(store.cached_token("k").is_none());
        // expires_in is clamped to 1 s – 24 h.
        store
            .save_token("long", &Secret::new("t"), u64::MAX)
            .unwrap();
        let (_, at) = store.cached_token("long").unwrap();
        let left = at.duration_since(SystemTime::now()).unwrap();
        assert!(left <= Duration::from_secs(MAX_LIFETIME), "{left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn files_and_folders_are_private_and_symlinks_are_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("new/ssprctl");
        let store = Store {
            token_cache: folder.join("tokens.json"),
            login: folder.join("login.json"),
        };
        // A planted symlink at the temp path must not be followed.
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let tmp = store
            .token_cache
            .with_extension(format!("tmp{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        store.save_token("k", &Secret::new("t1"), 3600).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(!tmp.exists());
        let mode = std::fs::metadata(&store.token_cache)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A new folder is 0700 whatever the umask.
        let fresh = Store {
            token_cache: dir.path().join("a/b/tokens.json"),
            login: dir.path().join("a/b/login.json"),
        };
        fresh.save_token("k", &Secret::new("t1"), 3600).unwrap();
        let mode = std::fs::metadata(dir.path().join("a/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // A cache file readable by others is not trusted.
        std::fs::set_permissions(&store.token_cache, std::fs::Permissions::from_mode(0o644))
            .unwrap();
        assert!(untrusted(&store.token_cache).unwrap().contains("644"));
        assert!(store.cached_token("k").is_none());
        // …and the next write replaces it with a private one.
        store.save_token("k", &Secret::new("t2"), 3600).unwrap();
        assert!(untrusted(&store.token_cache).is_none());
        // A symlink in place of the cache is not read.
        std::fs::remove_file(&store.token_cache).unwrap();
        std::os::unix::fs::symlink(&victim, &store.token_cache).unwrap();
        assert!(
            untrusted(&store.token_cache)
                .unwrap()
                .contains("not a regular file")
        );
    }
}
