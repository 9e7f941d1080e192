//! The join of Entra ID users to their on-premises AD objects, by the anchors Entra Connect
//! itself uses — never by name or mail:
//!
//! 1. `onPremisesImmutableId` = the object's immutable id: base64 of `mS-DS-ConsistencyGuid`
//!    when the object has one, else of `objectGUID`;
//! 2. else `onPremisesSecurityIdentifier` = `objectSid` (`S-1-5-…`, case ignored).
//!
//! A synchronised user no AD object matches is `NotFound`; an AD object two Entra users
//! match is `Claimed` for both (never written: which one owns it is for an admin to decide).

use std::collections::HashMap;

use crate::model::User;

/// How a user was joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    ConsistencyGuid,
    ObjectGuid,
    SecurityIdentifier,
}

impl Via {
    pub fn name(self) -> &'static str {
        match self {
            Via::ConsistencyGuid => "consistencyGuid",
            Via::ObjectGuid => "objectGuid",
            Via::SecurityIdentifier => "securityIdentifier",
        }
    }
}

/// A synchronised Entra user's AD side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Linked {
        ad: Box<User>,
        via: Via,
    },
    /// No AD object (under the base DN and filter) carries the user's anchors.
    NotFound,
    /// The AD object `dn` is matched by another Entra user too, `other`.
    Claimed {
        dn: String,
        other: String,
    },
    /// The domain controller could not be reached: the user's AD side is unknown.
    AdUnavailable,
}

/// Joins the synchronised users of `entra` to `ad`: one link per synchronised user, keyed by
/// the Entra object id in lower case. Cloud-only users get none.
pub fn join(entra: &[&User], ad: &[User]) -> HashMap<String, Link> {
    let mut by_anchor: HashMap<&str, usize> = HashMap::with_capacity(ad.len());
    let mut by_sid: HashMap<String, usize> = HashMap::with_capacity(ad.len());
    for (i, a) in ad.iter().enumerate() {
        if let Some(id) = a.on_premises.immutable_id.as_deref() {
            by_anchor.insert(id, i);
        }
        if let Some(sid) = a.on_premises.security_identifier.as_deref() {
            by_sid.insert(sid.to_ascii_uppercase(), i);
        }
    }
    let matched: Vec<(&User, Option<(usize, Via)>)> = entra
        .iter()
        .filter(|u| u.on_premises_sync_enabled)
        .map(|u| {
            let by_id = u
                .on_premises
                .immutable_id
                .as_deref()
                .and_then(|id| by_anchor.get(id))
                .map(|&i| {
                    let via = if ad[i].on_premises.anchored_by_consistency_guid {
                        Via::ConsistencyGuid
                    } else {
                        Via::ObjectGuid
                    };
                    (i, via)
                });
            let by_sid = || {
                u.on_premises
                    .security_identifier
                    .as_deref()
                    .and_then(|s| by_sid.get(&s.to_ascii_uppercase()))
                    .map(|&i| (i, Via::SecurityIdentifier))
            };
            (*u, by_id.or_else(by_sid))
        })
        .collect();
    let mut claims: HashMap<usize, Vec<&str>> = HashMap::new();
    for (u, m) in &matched {
        if let Some((i, _)) = m {
            claims.entry(*i).or_default().push(&u.user_principal_name);
        }
    }
    matched
        .into_iter()
        .map(|(u, m)| {
            let link = match m {
                None => Link::NotFound,
                Some((i, via)) => match claims.get(&i) {
                    Some(c) if c.len() > 1 => Link::Claimed {
                        dn: ad[i]
                            .on_premises
                            .distinguished_name
                            .clone()
                            .unwrap_or_else(|| ad[i].id.clone()),
                        other: c
                            .iter()
                            .filter(|n| **n != u.user_principal_name)
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", "),
                    },
                    _ => Link::Linked {
                        ad: Box::new(ad[i].clone()),
                        via,
                    },
                },
            };
            (u.id.to_lowercase(), link)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OnPremises;

    fn entra(id: &str, immutable: Option<&str>, sid: Option<&str>) -> User {
        User {
            id: id.into(),
            user_principal_name: format!("{id}@c.com"),
            on_premises_sync_enabled: true,
            on_premises: OnPremises {
                immutable_id: immutable.map(Into::into),
                security_identifier: sid.map(Into::into),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn ad(id: &str, immutable: &str, cg: bool, sid: &str) -> User {
        User {
            id: id.into(),
            on_premises: OnPremises {
                immutable_id: Some(immutable.into()),
                anchored_by_consistency_guid: cg,
                security_identifier: Some(sid.into()),
                distinguished_name: Some(format!("CN={id},DC=c")),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn joins_by_immutable_id_then_sid_never_by_name_and_refuses_double_claims() {
        let ads = [
            ad("a", "QUFB", true, "S-1-5-21-1-2-3-1001"),
            ad("b", "QkJC", false, "S-1-5-21-1-2-3-1002"),
            ad("c", "Q0ND", false, "S-1-5-21-1-2-3-1003"),
            ad("d", "RERE", false, "S-1-5-21-1-2-3-1004"),
        ];
        let mut cloud = entra("cloud", Some("QUFB"), None);
        cloud.on_premises_sync_enabled = false;
        let users = [
            entra("u1", Some("QUFB"), None),
            entra("u2", Some("QkJC"), Some("S-1-5-21-9-9-9-9")),
            entra("u3", Some("no-such"), Some("s-1-5-21-1-2-3-1003")),
            entra("u4", None, None),
            // Both claim d: one by its immutable id, one by its SID.
            entra("u5", Some("RERE"), None),
            entra("u6", None, Some("S-1-5-21-1-2-3-1004")),
            cloud,
        ];
        let refs: Vec<&User> = users.iter().collect();
        let links = join(&refs, &ads);
        let via = |id: &str| match &links[id] {
            Link::Linked { ad, via } => Some((ad.id.clone(), *via)),
            _ => None,
        };
        assert_eq!(via("u1"), Some(("a".into(), Via::ConsistencyGuid)));
        assert_eq!(via("u2"), Some(("b".into(), Via::ObjectGuid)));
        assert_eq!(via("u3"), Some(("c".into(), Via::SecurityIdentifier)));
        assert_eq!(links["u4"], Link::NotFound);
        assert_eq!(
            links["u5"],
            Link::Claimed {
                dn: "CN=d,DC=c".into(),
                other: "u6@c.com".into()
            }
        );
        assert!(matches!(links["u6"], Link::Claimed { .. }));
        assert!(!links.contains_key("cloud"));
    }
}
