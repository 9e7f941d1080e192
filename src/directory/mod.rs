//! Where users live: the [`Directory`] trait and one submodule per backend.
//!
//! Every change goes through `update_*` with a planning closure. The backend reads the current
//! state, calls the closure (which refuses or computes the minimal patch), and writes only the
//! patch — atomically where the backend can (the local directory runs all three steps in one
//! immediate SQLite transaction, so concurrent invocations never lose an update).

pub mod graph;
pub mod local;
mod sample;

use crate::model::{AuthDetails, User};
use crate::plan::{AuthPlan, PlanError, UserPlan};

/// A failure of a directory operation.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("user {0} not found")]
    NotFound(String),
    #[error("a user named {0} already exists")]
    AlreadyExists(String),
    #[error(transparent)]
    Refused(#[from] PlanError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{message}")]
    Storage { message: String, hint: String },
    #[error("{}", .0.message)]
    Service(ServiceError),
}

/// What kind of failure a remote service reported; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// Invalid request or usage (exit 2).
    Usage,
    /// The operation failed (exit 1).
    Failed,
    /// Authentication or permission (exit 4).
    Auth,
    /// Unavailable after retries (exit 5).
    Unavailable,
}

/// A failure from Microsoft Graph or the login endpoint, with what the user needs to act on
/// it: the server's error code and message, and the request id for Microsoft support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub kind: ServiceKind,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The server's error code (`Request_ResourceNotFound`, `invalid_client`, …).
    pub code: Option<String>,
    /// The whole message shown after `error:`.
    pub message: String,
    pub request_id: Option<String>,
    pub hint: Option<String>,
}

/// A store of users and their SSPR contact information.
///
/// `user` arguments are a user principal name (case-insensitive) or an object id.
#[allow(async_fn_in_trait)] // used with concrete types on a single-threaded runtime
pub trait Directory {
    /// The user's current state.
    async fn get_user(&self, user: &str) -> Result<User, DirectoryError>;

    /// All users, sorted by user principal name.
    async fn list_users(&self) -> Result<Vec<User>, DirectoryError>;

    /// Reads the user, asks `plan` what to change and writes it unless `dry_run`.
    /// Returns the user as it was before, and the plan.
    async fn update_user<F>(
        &self,
        user: &str,
        dry_run: bool,
        plan: F,
    ) -> Result<(User, UserPlan), DirectoryError>
    where
        F: FnOnce(&User) -> Result<UserPlan, PlanError>;

    /// The user and its authentication contact methods.
    async fn get_auth(&self, user: &str) -> Result<(User, AuthDetails), DirectoryError>;

    /// Reads the methods, asks `plan` what to change and writes it unless `dry_run`.
    async fn update_auth<F>(
        &self,
        user: &str,
        dry_run: bool,
        plan: F,
    ) -> Result<(User, AuthPlan), DirectoryError>
    where
        F: FnOnce(&User, &AuthDetails) -> Result<AuthPlan, PlanError>;

    /// Creates a user (local directory only).
    async fn create_user(
        &self,
        upn: &str,
        display_name: Option<&str>,
        synced: bool,
    ) -> Result<User, DirectoryError>;

    /// Deletes a user (local directory only) and returns it.
    async fn remove_user(&self, user: &str) -> Result<User, DirectoryError>;
}

/// The backend chosen at run time.
pub enum AnyDirectory {
    Local(local::LocalDirectory),
    Graph(graph::GraphDirectory),
}

/// Forwards a call to whichever backend is in use.
macro_rules! forward {
    ($self:ident, $d:ident => $call:expr) => {
        match $self {
            AnyDirectory::Local($d) => $call,
            AnyDirectory::Graph($d) => $call,
        }
    };
}

impl Directory for AnyDirectory {
    async fn get_user(&self, user: &str) -> Result<User, DirectoryError> {
        forward!(self, d => d.get_user(user).await)
    }

    async fn list_users(&self) -> Result<Vec<User>, DirectoryError> {
        forward!(self, d => d.list_users().await)
    }

    async fn update_user<F>(
        &self,
        user: &str,
        dry_run: bool,
        plan: F,
    ) -> Result<(User, UserPlan), DirectoryError>
    where
        F: FnOnce(&User) -> Result<UserPlan, PlanError>,
    {
        forward!(self, d => d.update_user(user, dry_run, plan).await)
    }

    async fn get_auth(&self, user: &str) -> Result<(User, AuthDetails), DirectoryError> {
        forward!(self, d => d.get_auth(user).await)
    }

    async fn update_auth<F>(
        &self,
        user: &str,
        dry_run: bool,
        plan: F,
    ) -> Result<(User, AuthPlan), DirectoryError>
    where
        F: FnOnce(&User, &AuthDetails) -> Result<AuthPlan, PlanError>,
    {
        forward!(self, d => d.update_auth(user, dry_run, plan).await)
    }

    async fn create_user(
        &self,
        upn: &str,
        display_name: Option<&str>,
        synced: bool,
    ) -> Result<User, DirectoryError> {
        forward!(self, d => d.create_user(upn, display_name, synced).await)
    }

    async fn remove_user(&self, user: &str) -> Result<User, DirectoryError> {
        forward!(self, d => d.remove_user(user).await)
    }
}
