//! Where users live: the [`Directory`] trait and one submodule per backend.
//!
//! Every change goes through `update_*` with a planning closure. The backend reads the current
//! state, calls the closure (which refuses or computes the minimal patch), and writes only the
//! patch — atomically where the backend can (the local directory runs all three steps in one
//! immediate SQLite transaction, so concurrent invocations never lose an update).

pub mod ad;
pub mod graph;
pub mod hybrid;
pub mod local;
mod sample;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::auth::AuthError;
pub use crate::http::{ServiceError, ServiceKind};
use crate::model::{AuthDetails, User};
use crate::plan::{AuthPlan, AuthUpdate, PlanError, UserPlan, UserUpdate};

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
    /// Not attempted: the run was interrupted or stopped first.
    #[error("not attempted: the run was interrupted")]
    NotAttempted,
    /// Hybrid mode: a synchronised user without a usable AD object (`not_found_in_ad`,
    /// `ad_object_claimed_twice`); nothing is written for it.
    #[error("{message}")]
    Unjoined {
        code: &'static str,
        message: String,
        hint: String,
    },
    /// The passthrough access token expired; it can't be renewed.
    #[error("the access token in SSPRCTL_ACCESS_TOKEN expired at {at}")]
    TokenExpired { at: String },
}

/// A credential's failure is the directory operation's failure.
impl From<AuthError> for DirectoryError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Service(s) => DirectoryError::Service(s),
            AuthError::TokenExpired { at } => DirectoryError::TokenExpired { at },
        }
    }
}

impl DirectoryError {
    /// A copy for each of several items that one failure struck (a whole `$batch`, say):
    /// service errors keep every detail, others keep their message.
    pub fn duplicate(&self) -> DirectoryError {
        match self {
            DirectoryError::Service(s) => DirectoryError::Service(s.clone()),
            DirectoryError::TokenExpired { at } => DirectoryError::TokenExpired { at: at.clone() },
            DirectoryError::NotAttempted => DirectoryError::NotAttempted,
            DirectoryError::Unjoined {
                code,
                message,
                hint,
            } => DirectoryError::Unjoined {
                code,
                message: message.clone(),
                hint: hint.clone(),
            },
            other => DirectoryError::Storage {
                message: other.to_string(),
                hint: "run the command again: what was written is unchanged by a rerun".into(),
            },
        }
    }
}

/// A user's current state, as read for a bulk plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub user: User,
    /// Read only when the run touches authentication methods.
    pub auth: Option<AuthDetails>,
}

/// One user as a bulk read found it: `Ok(None)` when it doesn't exist, `Err` when this user's
/// answer was unusable (the other users' reads stand).
pub type Read = Result<Option<Current>, DirectoryError>;

/// One user's change in a bulk run: what was asked, and the plan made from the current state.
#[derive(Debug, Clone)]
pub struct Planned {
    pub current: Current,
    pub update: UserUpdate,
    pub auth_update: AuthUpdate,
    pub user_plan: UserPlan,
    pub auth_plan: AuthPlan,
}

/// What happened to one planned change.
#[derive(Debug)]
pub enum Outcome {
    /// Written; the fields changed.
    Updated(Vec<&'static str>),
    /// Nothing needed writing (it may have changed since the plan).
    Unchanged,
    Failed(DirectoryError),
    /// Not attempted: the run was interrupted.
    NotAttempted,
}

/// Shared between a bulk run and whoever watches it: cancellation and progress counters.
#[derive(Debug, Clone)]
pub struct BulkControl {
    pub cancelled: Arc<AtomicBool>,
    pub done: Arc<AtomicUsize>,
    pub changed: Arc<AtomicUsize>,
    pub failed: Arc<AtomicUsize>,
    /// Batch requests in flight at most (Graph user reads and writes).
    pub concurrency: usize,
    /// Authentication-method requests in flight at most (Graph; lower limits apply).
    pub auth_concurrency: usize,
    /// Why the run stopped early other than by Ctrl-C (e.g. the access token expired): the
    /// rest is not attempted, and the run ends with this error after its report.
    pub stopped: Arc<std::sync::Mutex<Option<DirectoryError>>>,
}

impl Default for BulkControl {
    fn default() -> Self {
        BulkControl {
            cancelled: Arc::default(),
            done: Arc::default(),
            changed: Arc::default(),
            failed: Arc::default(),
            concurrency: 4,
            auth_concurrency: 1,
            stopped: Arc::default(),
        }
    }
}

impl BulkControl {
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Stops the run for `reason`: nothing new starts; the first reason is kept.
    pub fn stop(&self, reason: DirectoryError) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if stopped.is_none() {
            *stopped = Some(reason);
        }
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Why the run stopped, if it stopped for a reason other than Ctrl-C.
    pub fn stop_reason(&self) -> Option<DirectoryError> {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(DirectoryError::duplicate)
    }

    /// True for an error that ends the whole run rather than one row: an expired token that
    /// can't be renewed. Stops the run when it is one.
    pub fn stops_run(&self, e: &DirectoryError) -> bool {
        let stops = matches!(e, DirectoryError::TokenExpired { .. });
        if stops {
            self.stop(e.duplicate());
        }
        stops
    }

    /// Counts a finished item.
    pub fn record(&self, outcome: &Outcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Outcome::Updated(_) => {
                self.changed.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Failed(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
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

    /// The authentication methods of `users`, as few requests as the backend allows; `None`
    /// for a user (or all) when the backend holds none (AD).
    async fn read_methods(
        &self,
        users: &[User],
        _ctl: &BulkControl,
    ) -> Result<Vec<Option<AuthDetails>>, DirectoryError> {
        Ok(users.iter().map(|_| None).collect())
    }

    /// The SSPR registration report (Graph).
    async fn registrations(&self) -> Result<crate::audit::Report, DirectoryError> {
        Ok(crate::audit::Report::NotApplicable)
    }

    /// The tenant's authentication methods policy (Graph, with
    /// `Policy.Read.AuthenticationMethod`); `None` where there is none or it can't be read.
    async fn methods_policy(
        &self,
    ) -> Result<Option<crate::audit::policy::MethodsPolicy>, DirectoryError> {
        Ok(None)
    }

    /// The transitive user members of `groups` (Graph, with `GroupMember.Read.All`); a group
    /// whose members can't be read is `None`.
    async fn group_members(
        &self,
        groups: &std::collections::BTreeSet<String>,
    ) -> Result<crate::audit::policy::Members, DirectoryError> {
        Ok(groups.iter().map(|g| (g.clone(), None)).collect())
    }

    /// Columns `get-user` adds after the user's fields (AD: `samAccountName`; hybrid: the AD
    /// side of a synchronised user).
    fn extra_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Reads what [`Directory::extra_values`] shows for `users`, in as few reads as the backend
    /// allows (hybrid: one AD search for the users a command names).
    async fn prepare_view(&self, _users: &[User]) -> Result<(), DirectoryError> {
        Ok(())
    }

    /// The values of [`Directory::extra_fields`] for `user`.
    fn extra_values(&self, _user: &User) -> Vec<crate::model::Value> {
        Vec::new()
    }

    /// Where a change of `field` for `user` is written, where a run writes to more than one
    /// place (hybrid: `ad` or `entraId`).
    fn destination(&self, _user: &User, _field: &'static str) -> Option<&'static str> {
        None
    }

    /// Fields this directory doesn't hold (shown as null).
    fn unsupported_fields(&self) -> &'static [crate::model::UserField] {
        &[]
    }

    /// How many rows a bulk run should read, plan and apply at a time, so that only one
    /// chunk's working set is in memory; `None`: all at once (Graph reads the whole file's
    /// users in one pass, possibly by listing the tenant).
    fn bulk_chunk(&self) -> Option<usize>;

    /// Reads many users in as few requests as the backend allows, with their authentication
    /// methods where `auth[i]` is true (elsewhere `Current::auth` may be `None`); `None` for
    /// users that don't exist. One entry per key, in order.
    async fn read_many(
        &self,
        keys: &[String],
        auth: &[bool],
        ctl: &BulkControl,
    ) -> Result<Vec<Read>, DirectoryError>;

    /// Applies planned changes; one outcome per item, in order. Stops starting new work when
    /// `ctl` is cancelled (the rest are `NotAttempted`).
    async fn apply_many(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome>;
}

/// The backend chosen at run time.
pub enum AnyDirectory {
    Local(local::LocalDirectory),
    Graph(graph::GraphDirectory),
    Ad(ad::AdDirectory),
    Hybrid(Box<hybrid::HybridDirectory>),
}

impl AnyDirectory {
    /// The tenant, in Graph and hybrid mode.
    pub fn graph(&self) -> Option<&graph::GraphDirectory> {
        match self {
            AnyDirectory::Graph(g) => Some(g),
            AnyDirectory::Hybrid(h) => Some(h.graph()),
            _ => None,
        }
    }
}

/// Forwards a call to whichever backend is in use.
macro_rules! forward {
    ($self:ident, $d:ident => $call:expr) => {
        match $self {
            AnyDirectory::Local($d) => $call,
            AnyDirectory::Graph($d) => $call,
            AnyDirectory::Ad($d) => $call,
            AnyDirectory::Hybrid($d) => $call,
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

    fn bulk_chunk(&self) -> Option<usize> {
        forward!(self, d => d.bulk_chunk())
    }

    fn unsupported_fields(&self) -> &'static [crate::model::UserField] {
        forward!(self, d => d.unsupported_fields())
    }

    fn extra_fields(&self) -> &'static [&'static str] {
        forward!(self, d => d.extra_fields())
    }

    fn extra_values(&self, user: &User) -> Vec<crate::model::Value> {
        forward!(self, d => d.extra_values(user))
    }

    async fn prepare_view(&self, users: &[User]) -> Result<(), DirectoryError> {
        forward!(self, d => d.prepare_view(users).await)
    }

    fn destination(&self, user: &User, field: &'static str) -> Option<&'static str> {
        forward!(self, d => d.destination(user, field))
    }

    async fn read_methods(
        &self,
        users: &[User],
        ctl: &BulkControl,
    ) -> Result<Vec<Option<AuthDetails>>, DirectoryError> {
        forward!(self, d => d.read_methods(users, ctl).await)
    }

    async fn registrations(&self) -> Result<crate::audit::Report, DirectoryError> {
        forward!(self, d => d.registrations().await)
    }

    async fn methods_policy(
        &self,
    ) -> Result<Option<crate::audit::policy::MethodsPolicy>, DirectoryError> {
        forward!(self, d => d.methods_policy().await)
    }

    async fn group_members(
        &self,
        groups: &std::collections::BTreeSet<String>,
    ) -> Result<crate::audit::policy::Members, DirectoryError> {
        forward!(self, d => d.group_members(groups).await)
    }

    async fn read_many(
        &self,
        keys: &[String],
        auth: &[bool],
        ctl: &BulkControl,
    ) -> Result<Vec<Read>, DirectoryError> {
        forward!(self, d => d.read_many(keys, auth, ctl).await)
    }

    async fn apply_many(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome> {
        forward!(self, d => d.apply_many(items, ctl).await)
    }
}
