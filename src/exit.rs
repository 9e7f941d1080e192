//! The documented exit codes (also in `--help` and the README).

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Success,
    /// The operation failed or was refused (e.g. a synchronised user's phone).
    Failed,
    /// Invalid input or usage; nothing was written.
    Usage,
    /// A user was not found.
    NotFound,
    /// Authentication or permission problem (Graph).
    Auth,
    /// The service stayed unavailable after retries (Graph).
    Unavailable,
    /// `--wait-for-sync` ran out of time: written in AD, but Entra ID doesn't show some of it
    /// yet (the rows say `pending`).
    SyncPending,
    /// Stopped by Ctrl-C (import).
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::NotFound => 3,
            Exit::Auth => 4,
            Exit::Unavailable => 5,
            Exit::SyncPending => 6,
            Exit::Interrupted => 130,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_match_the_documentation() {
        let table = [
            (Exit::Success, 0),
            (Exit::Failed, 1),
            (Exit::Usage, 2),
            (Exit::NotFound, 3),
            (Exit::Auth, 4),
            (Exit::Unavailable, 5),
            (Exit::SyncPending, 6),
            (Exit::Interrupted, 130),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
    }
}
