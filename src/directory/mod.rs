//! Where users live: the [`Directory`] trait and one submodule per backend.
//!
//! Every change goes through `update_*` with a planning closure. The backend reads the current
//! state, calls the closure (which refuses or computes the minimal patch), and writes only the
//! patch — atomically where the backend can (the local directory runs all three steps in one
//! immediate SQLite transaction, so concurrent invocations never lose an update).

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
