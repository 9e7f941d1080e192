//! The embedded local directory: one SQLite file, so ssprctl runs with no account.
//!
//! Each command is one transaction; writes take an immediate (write) lock up front and wait
//! up to [`BUSY_TIMEOUT`] for other processes, so parallel CI jobs never lose an update. The
//! file uses WAL journaling; a crash mid-write leaves the previous state. The schema version is
//! kept in `PRAGMA user_version` and migrated forward on open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::{BulkControl, Current, Directory, DirectoryError, Outcome, Planned};
use crate::model::{AuthDetails, User};
use crate::plan::{AuthPlan, PlanError, UserPlan, plan_auth, plan_user};

/// How long a command waits for another process's write to finish.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema migrations; entry `i` moves `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE users (
        id TEXT PRIMARY KEY NOT NULL,
        user_principal_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT,
        alternate_email_addresses TEXT NOT NULL DEFAULT '[]',
        mobile_phone TEXT,
        office_phone TEXT,
        on_premises_sync_enabled INTEGER NOT NULL DEFAULT 0,
        authentication_phone TEXT,
        alternate_authentication_phone TEXT,
        authentication_office_phone TEXT,
        authentication_email TEXT
    );
"];

const COLUMNS: &str = "id, user_principal_name, display_name, alternate_email_addresses, \
    mobile_phone, office_phone, on_premises_sync_enabled, authentication_phone, \
    alternate_authentication_phone, authentication_office_phone, authentication_email";

/// A local directory file.
pub struct LocalDirectory {
    conn: Connection,
    path: PathBuf,
}

/// What opening found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    Existing,
    CreatedEmpty,
    CreatedWithSample,
}

fn storage(path: &Path, e: rusqlite::Error) -> DirectoryError {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    DirectoryError::Storage {
        message: format!("local directory {}: {e}", path.display()),
        hint: if busy {
            "another ssprctl process held the directory for too long; run the command again".into()
        } else {
            "check that the path is a local directory file written by ssprctl and is writable"
                .into()
        },
    }
}

impl LocalDirectory {
    /// Opens (creating if needed) the directory at `path`. A new file is filled with the
    /// sample tenant when `sample` is true.
    pub fn open(path: &Path, sample: bool) -> Result<(Self, Opened), DirectoryError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(DirectoryError::Storage {
                message: format!(
                    "local directory {}: the folder {} does not exist",
                    path.display(),
                    parent.display()
                ),
                hint: "create the folder first, or give another path".into(),
            });
        }
        let err = |e| storage(path, e);
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        let mut dir = LocalDirectory {
            conn,
            path: path.to_path_buf(),
        };
        let opened = dir.migrate(sample)?;
        Ok((dir, opened))
    }

    /// The file this directory lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> DirectoryError {
        storage(&self.path, e)
    }

    /// Refuses a database that is neither new nor ssprctl's, before anything is written to it
    /// (not even the journal mode): `--directory local:some-other.db` must not change that file.
    fn check_ours(&self, version: usize) -> Result<(), DirectoryError> {
        let tables: Vec<String> = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))?;
        let empty = tables.is_empty() && version == 0;
        let ours = version >= 1 && tables.iter().any(|t| t == "users");
        if empty || ours {
            return Ok(());
        }
        Err(DirectoryError::Storage {
            message: format!(
                "{} is not an ssprctl directory (it holds other tables: {}); it was not changed",
                self.path.display(),
                if tables.is_empty() {
                    "none, but a schema version".to_string()
                } else {
                    tables
                        .iter()
                        .take(5)
                        .map(|t| crate::text::sanitize(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            hint: "give --directory local:PATH a new file or one ssprctl created".into(),
        })
    }

    fn migrate(&mut self, sample: bool) -> Result<Opened, DirectoryError> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version <= MIGRATIONS.len() {
            self.check_ours(version)?;
        }
        if version == MIGRATIONS.len() {
            return Ok(Opened::Existing);
        }
        if version > MIGRATIONS.len() {
            return Err(DirectoryError::Storage {
                message: format!(
                    "local directory {} has schema version {version}; this ssprctl knows up to {}",
                    self.path.display(),
                    MIGRATIONS.len()
                ),
                hint: "upgrade ssprctl".into(),
            });
        }
        // WAL can't be switched on inside a transaction; it is a no-op when already set.
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.err(e))?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| storage(&path, e))?;
        // Another process may have migrated while we waited for the lock.
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| storage(&path, e))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        let created = version == 0;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql).map_err(|e| storage(&path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| storage(&path, e))?;
        }
        let opened = match (created, sample) {
            (false, _) => Opened::Existing,
            (true, false) => Opened::CreatedEmpty,
            (true, true) => {
                for (user, auth) in super::sample::tenant() {
                    insert(&tx, &user, &auth).map_err(|e| storage(&path, e))?;
                }
                Opened::CreatedWithSample
            }
        };
        tx.commit().map_err(|e| storage(&path, e))?;
        Ok(opened)
    }

    /// Adds a user with the given contact information as is (fixtures and the sample tenant).
    pub fn insert(&self, user: &User, auth: &AuthDetails) -> Result<(), DirectoryError> {
        insert(&self.conn, user, auth).map_err(|e| self.err(e))
    }

    /// Adds many users in one transaction (fixtures and benchmarks).
    pub fn insert_many(&self, users: &[(User, AuthDetails)]) -> Result<(), DirectoryError> {
        let tx = self.write_tx()?;
        for (u, a) in users {
            insert(&tx, u, a).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Creates the users of `upns` that don't exist yet, in one transaction (`import
    /// --create-missing`, for sandbox directories); returns how many were created.
    pub fn create_missing(&self, upns: &[String]) -> Result<usize, DirectoryError> {
        let tx = self.write_tx()?;
        let mut created = 0;
        for upn in upns {
            if find(&tx, upn).map_err(|e| self.err(e))?.is_some() {
                continue;
            }
            let user = User {
                id: new_id(&tx).map_err(|e| self.err(e))?,
                user_principal_name: upn.clone(),
                ..Default::default()
            };
            insert(&tx, &user, &AuthDetails::default()).map_err(|e| self.err(e))?;
            created += 1;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(created)
    }

    fn write_tx(&self) -> Result<Transaction<'_>, DirectoryError> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))
    }
}

/// A random (version 4) GUID, lower case.
fn new_id(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row(
        "SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
         substr(hex(randomblob(2)), 2) || '-' || \
         substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || \
         '-' || hex(randomblob(6)))",
        [],
        |r| r.get(0),
    )
}

fn insert(conn: &Connection, user: &User, auth: &AuthDetails) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        user.id,
        user.user_principal_name,
        user.display_name,
        emails_to_json(&user.alternate_email_addresses),
        user.mobile_phone,
        user.office_phone,
        user.on_premises_sync_enabled,
        auth.authentication_phone,
        auth.alternate_authentication_phone,
        auth.authentication_office_phone,
        auth.authentication_email,
    ])?;
    Ok(())
}

fn write_user(conn: &Connection, user: &User) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE users SET alternate_email_addresses = ?2, mobile_phone = ?3, office_phone = ?4 \
         WHERE id = ?1",
    )?
    .execute(params![
        user.id,
        emails_to_json(&user.alternate_email_addresses),
        user.mobile_phone,
        user.office_phone
    ])?;
    Ok(())
}

fn write_auth(conn: &Connection, id: &str, auth: &AuthDetails) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE users SET authentication_phone = ?2, alternate_authentication_phone = ?3, \
         authentication_office_phone = ?4, authentication_email = ?5 WHERE id = ?1",
    )?
    .execute(params![
        id,
        auth.authentication_phone,
        auth.alternate_authentication_phone,
        auth.authentication_office_phone,
        auth.authentication_email
    ])?;
    Ok(())
}

fn emails_to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings serialises")
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<(User, AuthDetails)> {
    let emails: String = row.get(3)?;
    let alternate_email_addresses = serde_json::from_str(&emails).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok((
        User {
            id: row.get(0)?,
            user_principal_name: row.get(1)?,
            display_name: row.get(2)?,
            alternate_email_addresses,
            mobile_phone: row.get(4)?,
            office_phone: row.get(5)?,
            on_premises_sync_enabled: row.get(6)?,
            account_enabled: None,
            user_type: None,
            on_premises: Default::default(),
        },
        AuthDetails {
            authentication_phone: row.get(7)?,
            alternate_authentication_phone: row.get(8)?,
            authentication_office_phone: row.get(9)?,
            authentication_email: row.get(10)?,
        },
    ))
}

fn find(conn: &Connection, user: &str) -> rusqlite::Result<Option<(User, AuthDetails)>> {
    // Object ids are GUIDs, stored in lower case: `87D349ED-…` names the same user (and the
    // comparison keeps using the primary key's index).
    let key = if crate::model::is_guid(user) {
        std::borrow::Cow::Owned(user.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(user)
    };
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE id = ?1 OR user_principal_name = ?1"
    ))?
    .query_row([key.as_ref()], read_row)
    .optional()
}

/// Rows applied per transaction in a bulk run.
pub const CHUNK: usize = 1000;

/// Re-plans one bulk item against the state inside the transaction and writes it.
fn apply_one(path: &Path, tx: &Connection, item: &Planned) -> Result<Outcome, DirectoryError> {
    let Some((user, auth)) = find(tx, &item.current.user.id).map_err(|e| storage(path, e))? else {
        return Err(DirectoryError::NotFound(
            item.current.user.user_principal_name.clone(),
        ));
    };
    let user_plan = plan_user(&user, &item.update)?;
    let auth_plan = plan_auth(&user.user_principal_name, &auth, &item.auth_update)?;
    if user_plan.patch.is_empty() && auth_plan.patch.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    if !user_plan.patch.is_empty() {
        let mut after = user.clone();
        user_plan.patch.apply_to(&mut after);
        write_user(tx, &after).map_err(|e| storage(path, e))?;
    }
    if !auth_plan.patch.is_empty() {
        let mut after = auth.clone();
        auth_plan.patch.apply_to(&mut after);
        write_auth(tx, &user.id, &after).map_err(|e| storage(path, e))?;
    }
    let fields = user_plan
        .changes
        .iter()
        .chain(&auth_plan.changes)
        .map(|c| c.field)
        .collect();
    Ok(Outcome::Updated(fields))
}

impl LocalDirectory {
    fn find(&self, conn: &Connection, user: &str) -> Result<(User, AuthDetails), DirectoryError> {
        find(conn, user)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| DirectoryError::NotFound(user.to_string()))
    }
}

impl Directory for LocalDirectory {
    async fn get_user(&self, user: &str) -> Result<User, DirectoryError> {
        Ok(self.find(&self.conn, user)?.0)
    }

    async fn list_users(&self) -> Result<Vec<User>, DirectoryError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM users ORDER BY user_principal_name COLLATE NOCASE"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| read_row(r).map(|(u, _)| u))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
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
        let tx = self.write_tx()?;
        let (current, _) = self.find(&tx, user)?;
        let plan = plan(&current)?;
        if dry_run || plan.patch.is_empty() {
            return Ok((current, plan));
        }
        let mut after = current.clone();
        plan.patch.apply_to(&mut after);
        write_user(&tx, &after).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok((current, plan))
    }

    async fn get_auth(&self, user: &str) -> Result<(User, AuthDetails), DirectoryError> {
        self.find(&self.conn, user)
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
        let tx = self.write_tx()?;
        let (current, auth) = self.find(&tx, user)?;
        let plan = plan(&current, &auth)?;
        if dry_run || plan.patch.is_empty() {
            return Ok((current, plan));
        }
        let mut after = auth.clone();
        plan.patch.apply_to(&mut after);
        write_auth(&tx, &current.id, &after).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok((current, plan))
    }

    async fn create_user(
        &self,
        upn: &str,
        display_name: Option<&str>,
        synced: bool,
    ) -> Result<User, DirectoryError> {
        let tx = self.write_tx()?;
        if find(&tx, upn).map_err(|e| self.err(e))?.is_some() {
            return Err(DirectoryError::AlreadyExists(upn.to_string()));
        }
        let id = new_id(&tx).map_err(|e| self.err(e))?;
        let user = User {
            id,
            user_principal_name: upn.to_string(),
            display_name: display_name.map(str::to_string),
            on_premises_sync_enabled: synced,
            account_enabled: None,
            user_type: None,
            on_premises: Default::default(),
            ..Default::default()
        };
        insert(&tx, &user, &AuthDetails::default()).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(user)
    }

    fn bulk_chunk(&self) -> Option<usize> {
        Some(10 * CHUNK)
    }

    async fn read_many(
        &self,
        keys: &[String],
        _auth: &[bool],
        _ctl: &BulkControl,
    ) -> Result<Vec<super::Read>, DirectoryError> {
        // One read transaction: a consistent snapshot, and much faster than one per key.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let found = find(&tx, key).map_err(|e| self.err(e))?;
            out.push(Ok(found.map(|(user, auth)| Current {
                user,
                auth: Some(auth),
            })));
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    async fn read_methods(
        &self,
        users: &[User],
        _ctl: &BulkControl,
    ) -> Result<Vec<Option<AuthDetails>>, DirectoryError> {
        // One read transaction, by primary key.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(users.len());
        for u in users {
            out.push(find(&tx, &u.id).map_err(|e| self.err(e))?.map(|(_, a)| a));
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    async fn apply_many(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(items.len());
        for chunk in items.chunks(CHUNK) {
            if ctl.is_cancelled() {
                outcomes.extend(chunk.iter().map(|_| Outcome::NotAttempted));
                continue;
            }
            let tx = match self.write_tx() {
                Ok(tx) => tx,
                Err(e) => {
                    let message = e.to_string();
                    for _ in chunk {
                        let o = Outcome::Failed(DirectoryError::Storage {
                            message: message.clone(),
                            hint: "run the import again: rows already written are unchanged".into(),
                        });
                        ctl.record(&o);
                        outcomes.push(o);
                    }
                    continue;
                }
            };
            let mut results: Vec<Outcome> = chunk
                .iter()
                .map(|item| apply_one(&self.path, &tx, item).unwrap_or_else(Outcome::Failed))
                .collect();
            if let Err(e) = tx.commit() {
                let message = self.err(e).to_string();
                results = chunk
                    .iter()
                    .map(|_| {
                        Outcome::Failed(DirectoryError::Storage {
                            message: message.clone(),
                            hint: "run the import again: rows already written are unchanged".into(),
                        })
                    })
                    .collect();
            }
            for o in &results {
                ctl.record(o);
            }
            outcomes.extend(results);
        }
        outcomes
    }

    async fn remove_user(&self, user: &str) -> Result<User, DirectoryError> {
        let tx = self.write_tx()?;
        let (current, _) = self.find(&tx, user)?;
        tx.execute("DELETE FROM users WHERE id = ?1", [&current.id])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(current)
    }
}
