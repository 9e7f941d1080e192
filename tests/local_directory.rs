//! The `Directory` behaviour suite against the local SQLite directory, plus what only the
//! local directory does (create, remove, schema).

mod suite;

use ssprctl::directory::local::{LocalDirectory, Opened};
use ssprctl::directory::{Directory, DirectoryError};
use ssprctl::model::{AuthDetails, User};

struct Local(tempfile::TempDir);

impl suite::Fixture for Local {
    type D = LocalDirectory;
    async fn with_users(&self, users: &[(User, AuthDetails)]) -> LocalDirectory {
        let path = self.0.path().join(format!("{}.db", uniq()));
        let (d, opened) = LocalDirectory::open(&path, false).unwrap();
        assert_eq!(opened, Opened::CreatedEmpty);
        for (u, a) in users {
            d.insert(u, a).unwrap();
        }
        d
    }
}

fn uniq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn behaviour_suite() {
    suite::run_all(&Local(tempfile::tempdir().unwrap())).await;
}

#[tokio::test]
async fn create_and_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, _) = LocalDirectory::open(&tmp.path().join("d.db"), false).unwrap();
    let u = d
        .create_user("kim@contoso.com", Some("Kim"), true)
        .await
        .unwrap();
    assert_eq!(u.id.len(), 36);
    assert!(u.on_premises_sync_enabled);
    assert!(matches!(
        d.create_user("KIM@contoso.com", None, false).await,
        Err(DirectoryError::AlreadyExists(_))
    ));
    let removed = d.remove_user(&u.id).await.unwrap();
    assert_eq!(removed, u);
    assert!(matches!(
        d.get_user("kim@contoso.com").await,
        Err(DirectoryError::NotFound(_))
    ));
}

#[test]
fn sample_tenant_only_in_a_new_default_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("d.db");
    let (_, opened) = LocalDirectory::open(&path, true).unwrap();
    assert_eq!(opened, Opened::CreatedWithSample);
    let (_, opened) = LocalDirectory::open(&path, true).unwrap();
    assert_eq!(opened, Opened::Existing);
}

#[test]
fn newer_schema_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("d.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    match LocalDirectory::open(&path, false) {
        Err(DirectoryError::Storage { message, .. }) => {
            assert!(message.contains("schema version 99"))
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("opened a newer schema"),
    }
}

#[test]
fn missing_folder_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let r = LocalDirectory::open(&tmp.path().join("no/such/d.db"), false);
    assert!(matches!(r, Err(DirectoryError::Storage { .. })));
}
