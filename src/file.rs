//! Files the tool reads for credentials or trust (a federated token, an LDAP password file, a
//! CA bundle, a certificate), read within bounds: only a regular file — a FIFO would block
//! forever and `/dev/zero` never ends — and never more than the caller's limit, so no file can
//! grow memory without bound or be cut silently.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// Why a bounded read refused or failed.
#[derive(Debug)]
pub enum BoundedError {
    Io(std::io::Error),
    /// Not a regular file: what it is instead.
    NotAFile(&'static str),
    /// Larger than the limit (bytes).
    TooLarge(u64),
}

impl fmt::Display for BoundedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundedError::Io(e) => write!(f, "can't read it ({e})"),
            BoundedError::NotAFile(what) => {
                write!(f, "it is {what}, not a regular file; refused")
            }
            BoundedError::TooLarge(max) => {
                write!(f, "it is larger than {}; refused", show_size(*max))
            }
        }
    }
}

fn show_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// What a file that is not a regular file is.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

/// Reads the regular file at `path`, of at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, BoundedError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes: don't wait, look at it first.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(BoundedError::Io)?;
    let meta = file.metadata().map_err(BoundedError::Io)?;
    if !meta.is_file() {
        return Err(BoundedError::NotAFile(kind(&meta)));
    }
    if meta.len() > max {
        return Err(BoundedError::TooLarge(max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read: still no more than `max` (+1 to see that it did).
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(BoundedError::Io)?;
    if bytes.len() as u64 > max {
        return Err(BoundedError::TooLarge(max));
    }
    Ok(bytes)
}

/// As [`read_bounded`], as UTF-8 text.
pub fn read_bounded_text(path: &Path, max: u64) -> Result<String, BoundedError> {
    let bytes = read_bounded(path, max)?;
    String::from_utf8(bytes).map_err(|_| {
        BoundedError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not UTF-8 text",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_within_the_limit_only() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, "secret\n").unwrap();
        assert_eq!(read_bounded(&small, 7).unwrap(), b"secret\n");
        let e = read_bounded(&small, 6).unwrap_err();
        assert_eq!(e.to_string(), "it is larger than 6 bytes; refused");
        let e = read_bounded(Path::new("/dev/zero"), 64 << 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is a character device, not a regular file; refused"
        );
        let e = read_bounded(dir.path(), 1 << 20).unwrap_err();
        assert!(
            matches!(e, BoundedError::NotAFile(_) | BoundedError::Io(_)),
            "{e}"
        );
        assert_eq!(
            BoundedError::TooLarge(64 << 10).to_string(),
            "it is larger than 64 KiB; refused"
        );
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bounded(&fifo, 1 << 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is a FIFO (named pipe), not a regular file; refused"
        );
    }
}
