//! Whether an AD object a written user is joined to is claimed by another Entra user too —
//! one the run didn't read. A run that reads every user (`get-user --all`, `audit --all`) sees
//! every claim in its join; one that writes some users asks Graph for the others: two
//! `$filter` reads per joined object (`onPremisesImmutableId`, `onPremisesSecurityIdentifier`
//! eq the object's), or, when that is more requests than paging the tenant, every synchronised
//! user's anchors once.

use std::collections::HashSet;

use super::{HybridDirectory, Link, join};
use crate::directory::DirectoryError;
use crate::model::User;

/// The `$filter` of every synchronised user.
pub(super) const SYNCED: &str = "onPremisesSyncEnabled eq true";

impl HybridDirectory {
    /// The joined ones of `users`, each with its AD object.
    fn joined<'u>(&self, users: &[&'u User]) -> Vec<(&'u User, User)> {
        users
            .iter()
            .filter_map(|u| match self.link_of(u) {
                Some(Link::Linked { ad, .. }) => Some((*u, *ad)),
                _ => None,
            })
            .collect()
    }

    /// Re-joins the joined ones of `users` against every Entra user claiming their AD objects;
    /// a user whose object another claims becomes `Claimed` (and is never written).
    pub(super) async fn check_claims(&self, users: &[&User]) -> Result<(), DirectoryError> {
        let joined = self.joined(users);
        if joined.is_empty() {
            return Ok(());
        }
        let targeted = 2 * joined.len();
        let pages = if joined.len() == 1 {
            usize::MAX
        } else {
            self.graph
                .user_count()
                .await
                .map_or(usize::MAX, |n| n.div_ceil(999))
        };
        let claimants = if targeted <= pages {
            let mut out = Vec::new();
            for (_, ad) in &joined {
                let (imm, sid) = (
                    &ad.on_premises.immutable_id,
                    &ad.on_premises.security_identifier,
                );
                if let Some(v) = imm {
                    out.extend(
                        self.graph
                            .users_where_eq("onPremisesImmutableId", v)
                            .await?,
                    );
                }
                if let Some(v) = sid {
                    out.extend(
                        self.graph
                            .users_where_eq("onPremisesSecurityIdentifier", v)
                            .await?,
                    );
                }
            }
            out
        } else {
            self.graph.list_where(Some(SYNCED)).await?
        };
        self.claims_among(users, claimants);
        Ok(())
    }

    /// Re-joins the joined ones of `users` against `claimants` (Entra users that may claim
    /// their AD objects).
    pub(super) fn claims_among(&self, users: &[&User], claimants: Vec<User>) {
        let joined = self.joined(users);
        let mut seen = HashSet::new();
        let entra: Vec<&User> = users
            .iter()
            .copied()
            .chain(&claimants)
            .filter(|u| u.on_premises_sync_enabled && seen.insert(u.id.to_lowercase()))
            .collect();
        let mut ids = HashSet::new();
        let objects: Vec<User> = joined
            .iter()
            .filter(|(_, ad)| ids.insert(ad.id.clone()))
            .map(|(_, ad)| ad.clone())
            .collect();
        let links = join::join(&entra, &objects);
        let mut mine = self.links.borrow_mut();
        for (u, _) in &joined {
            let key = u.id.to_lowercase();
            if let Some(l @ Link::Claimed { .. }) = links.get(&key) {
                mine.insert(key, l.clone());
            }
        }
    }
}
