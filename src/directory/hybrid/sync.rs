//! Confirming after sync (`--wait-for-sync`): after the AD writes, Graph is polled for the
//! written users — only those still pending, in `$batch` reads of 20 — until Entra shows the
//! new values (Entra Connect copied them) or the time runs out.

use std::time::{Duration, Instant};

use super::HybridDirectory;
pub use crate::directory::graph::SyncStatus;
use crate::directory::{BulkControl, Directory, DirectoryError};
use crate::model::User;

/// What a user written in AD should show in Entra once synchronised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The Entra object id.
    pub id: String,
    /// `Some(v)`: `mobilePhone` should be `v`.
    pub mobile_phone: Option<Option<String>>,
    pub office_phone: Option<Option<String>>,
}

impl Expected {
    fn seen_in(&self, u: &User) -> bool {
        self.mobile_phone
            .as_ref()
            .is_none_or(|v| *v == u.mobile_phone)
            && self
                .office_phone
                .as_ref()
                .is_none_or(|v| *v == u.office_phone)
    }
}

/// How often to look: a thirtieth of the wait, between 1 s and 60 s (a 45-minute wait looks
/// once a minute; Entra Connect's default cycle is 30 minutes).
pub fn poll_interval(total: Duration) -> Duration {
    (total / 30).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

impl HybridDirectory {
    /// Polls Graph until every user in `expected` shows its values, `total` has passed, or the
    /// run is interrupted; `on_round(synced, pending)` after each look. True for the synced.
    pub async fn wait_for_sync(
        &self,
        expected: &[Expected],
        total: Duration,
        ctl: &BulkControl,
        mut on_round: impl FnMut(usize, usize),
    ) -> Result<Vec<bool>, DirectoryError> {
        let deadline = Instant::now() + total;
        let interval = poll_interval(total);
        let mut synced = vec![false; expected.len()];
        loop {
            let pending: Vec<usize> = (0..expected.len()).filter(|i| !synced[*i]).collect();
            let keys: Vec<String> = pending.iter().map(|i| expected[*i].id.clone()).collect();
            // A look that fails (Graph busy past its retries) is a look without news: the
            // writes are done, so the wait goes on; an expired token ends it.
            let reads = match self
                .graph
                .read_many(&keys, &vec![false; keys.len()], ctl)
                .await
            {
                Ok(r) => r,
                Err(e @ DirectoryError::TokenExpired { .. }) => return Err(e),
                Err(e) => {
                    self.log.warn(&format!(
                        "sync: a look at Entra ID failed ({e}); still waiting"
                    ));
                    Vec::new()
                }
            };
            for (i, r) in pending.iter().zip(reads) {
                if let Ok(Some(c)) = r
                    && expected[*i].seen_in(&c.user)
                {
                    synced[*i] = true;
                }
            }
            let done = synced.iter().filter(|s| **s).count();
            on_round(done, synced.len() - done);
            if done == synced.len() || ctl.is_cancelled() || Instant::now() + interval > deadline {
                return Ok(synced);
            }
            tokio::time::sleep(interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_a_thirtieth_of_the_wait_within_bounds() {
        assert_eq!(
            poll_interval(Duration::from_secs(45 * 60)),
            Duration::from_secs(60)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(90)),
            Duration::from_secs(3)
        );
        assert_eq!(
            poll_interval(Duration::from_secs(5)),
            Duration::from_secs(1)
        );
    }
}
