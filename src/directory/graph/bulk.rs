//! Bulk writes on Graph (what `import` applies): user PATCHes in `$batch` requests at
//! `--concurrency`, then each user's authentication-method writes in order, a few users at a
//! time (`--auth-concurrency`), because those have lower limits and an order the service
//! requires.
//!
//! Every row gets exactly one outcome, counted once by the progress (`ctl.record`): a row
//! with both kinds of change is counted when its last write is done.

use reqwest::Method;
use tokio::task::JoinSet;

use super::client::Purpose;
use super::methods::write_methods;
use super::{GraphDirectory, batch, explain_synced, fields, patch_body};
use crate::directory::{BulkControl, DirectoryError, Outcome, Planned};

/// What a user PATCH needs: the phone and mail properties.
const PATCH_USERS: Purpose = Purpose {
    permission: "User-Phone.ReadWrite.All and User-Mail.ReadWrite.All (or User.ReadWrite.All)",
    auth_method_write: false,
};

fn has_auth(p: &Planned) -> bool {
    !p.auth_plan.patch.is_empty()
}

impl GraphDirectory {
    /// Applies every planned row; one outcome per row, in the rows' order.
    pub(super) async fn write_many(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome> {
        let refused = self.refuse_other_cloud(items, ctl);
        let users = self.patch_users(items, &refused, ctl).await;
        let auth_rows: Vec<usize> = (0..items.len())
            .filter(|&i| refused[i].is_none() && has_auth(&items[i]))
            .filter(|&i| matches!(users[i], None | Some(Outcome::Updated(_))))
            .collect();
        let auth = self.write_auth_methods(items, &auth_rows, ctl).await;
        refused
            .into_iter()
            .zip(auth)
            .zip(users)
            .map(|((refused, auth), user)| refused.or(auth).or(user).unwrap_or(Outcome::Unchanged))
            .collect()
    }

    /// Rows the cloud can't apply (authentication email in some national clouds) fail before
    /// any of their writes.
    fn refuse_other_cloud(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Option<Outcome>> {
        items
            .iter()
            .map(|p| {
                let e = self.check_cloud(&p.auth_plan.patch).err()?;
                let o = Outcome::Failed(e);
                ctl.record(&o);
                Some(o)
            })
            .collect()
    }

    /// The user PATCHes of the rows not refused, batched. A row that also changes
    /// authentication methods is counted later, unless its PATCH failed.
    async fn patch_users(
        &self,
        items: &[Planned],
        refused: &[Option<Outcome>],
        ctl: &BulkControl,
    ) -> Vec<Option<Outcome>> {
        let patched: Vec<usize> = (0..items.len())
            .filter(|&i| refused[i].is_none() && !items[i].user_plan.patch.is_empty())
            .collect();
        let requests: Vec<batch::Item> = patched
            .iter()
            .map(|&i| batch::Item {
                method: Method::PATCH,
                url: self.user_url(&items[i].current.user.id, &[]),
                body: Some(patch_body(&items[i].user_plan.patch)),
            })
            .collect();
        let mut results: Vec<Option<Outcome>> = items.iter().map(|_| None).collect();
        batch::execute(
            &self.client,
            &requests,
            ctl.concurrency,
            PATCH_USERS,
            ctl,
            |k, r| {
                let i = patched[k];
                let outcome = match r {
                    batch::ItemResult::Answered(a) if (200..300).contains(&a.status) => {
                        Outcome::Updated(fields(&items[i]))
                    }
                    batch::ItemResult::Answered(a) => {
                        let e = self.client.error_for(
                            &Method::PATCH,
                            &requests[k].url,
                            a.status,
                            a.body.to_string().as_bytes(),
                            a.request_id.clone(),
                            PATCH_USERS,
                        );
                        let p = &items[i];
                        Outcome::Failed(explain_synced(
                            e,
                            &p.current.user.user_principal_name,
                            &p.user_plan.patch,
                        ))
                    }
                    batch::ItemResult::Failed(e) => Outcome::Failed(e.duplicate()),
                    batch::ItemResult::NotAttempted => Outcome::NotAttempted,
                };
                if !has_auth(&items[i]) || !matches!(outcome, Outcome::Updated(_)) {
                    ctl.record(&outcome);
                }
                results[i] = Some(outcome);
            },
        )
        .await;
        results
    }

    /// Authentication methods of `rows`: one user's writes in order, at most
    /// `ctl.auth_concurrency` users at a time; after a cancel, the rest are not attempted.
    async fn write_auth_methods(
        &self,
        items: &[Planned],
        rows: &[usize],
        ctl: &BulkControl,
    ) -> Vec<Option<Outcome>> {
        let mut outcomes: Vec<Option<Outcome>> = items.iter().map(|_| None).collect();
        let mut tasks: JoinSet<(usize, Result<(), DirectoryError>)> = JoinSet::new();
        let mut next = 0;
        loop {
            while !ctl.is_cancelled()
                && tasks.len() < ctl.auth_concurrency.max(1)
                && next < rows.len()
            {
                let i = rows[next];
                next += 1;
                let client = self.client.clone();
                let id = items[i].current.user.id.clone();
                let current = items[i].current.auth.clone().unwrap_or_default();
                let patch = items[i].auth_plan.patch.clone();
                tasks
                    .spawn(async move { (i, write_methods(&client, &id, &current, &patch).await) });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let Ok((i, r)) = joined else { continue };
            let outcome = match r {
                Ok(()) => Outcome::Updated(fields(&items[i])),
                Err(e) => Outcome::Failed(e),
            };
            ctl.record(&outcome);
            outcomes[i] = Some(outcome);
        }
        for &i in &rows[next..] {
            outcomes[i] = Some(Outcome::NotAttempted);
        }
        outcomes
    }
}
