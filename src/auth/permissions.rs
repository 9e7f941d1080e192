//! What each ssprctl operation needs from Microsoft Graph, taken from Graph's permission
//! reference (least-privileged first), and whether a token's claims grant it. App tokens carry
//! `roles`; delegated tokens carry `scp`, and the signed-in admin also needs a directory role.

use super::claims::Claims;

/// One operation and the permissions that allow it (any one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub needs: &'static [&'static str],
    /// The directory role a signed-in (delegated) admin also needs, at least.
    pub delegated_role: &'static str,
}

/// Reading users as ssprctl does: `displayName`, `otherMails` and `onPremisesSyncEnabled`
/// besides the phones. `User-Phone.ReadWrite.All` and `User-Mail.ReadWrite.All` cover only
/// their own properties (and identifiers), so they are not enough ([`narrow_read`] says so).
pub const READ_USERS: Operation = Operation {
    name: "read users' contact info",
    needs: &[
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    delegated_role: "any role that reads users (e.g. Directory Readers, Global Reader)",
};
pub const SET_PHONES: Operation = Operation {
    name: "set mobile / office phone",
    needs: &[
        "User-Phone.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated_role: "User Administrator (Privileged Authentication Administrator for admins)",
};
pub const SET_ALTERNATE_EMAIL: Operation = Operation {
    name: "set alternate email",
    needs: &[
        "User-Mail.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated_role: "User Administrator (Privileged Authentication Administrator for admins)",
};
pub const READ_AUTH_PHONES: Operation = Operation {
    name: "read authentication phones",
    needs: &[
        "UserAuthMethod-Phone.Read.All",
        "UserAuthMethod-Phone.ReadWrite.All",
        "UserAuthenticationMethod.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ],
    delegated_role: "Authentication Administrator (sees masked numbers), Privileged Authentication Administrator or Global Reader",
};
pub const SET_AUTH_PHONES: Operation = Operation {
    name: "set authentication phones",
    needs: &[
        "UserAuthMethod-Phone.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ],
    delegated_role: "Authentication Administrator (Privileged Authentication Administrator for admins)",
};
pub const READ_AUTH_EMAIL: Operation = Operation {
    name: "read authentication email",
    needs: &[
        "UserAuthMethod-Email.Read.All",
        "UserAuthMethod-Email.ReadWrite.All",
        "UserAuthenticationMethod.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ],
    delegated_role: "Authentication Administrator, Privileged Authentication Administrator or Global Reader",
};
pub const SET_AUTH_EMAIL: Operation = Operation {
    name: "set authentication email",
    needs: &[
        "UserAuthMethod-Email.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ],
    delegated_role: "Authentication Administrator (Privileged Authentication Administrator for admins)",
};
pub const AUDIT_REPORT: Operation = Operation {
    name: "audit: registration report",
    needs: &[
        "AuditLog.Read.All",
        "UserAuthenticationMethod.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ],
    delegated_role: "Reports Reader, Security Reader or Global Reader (and Entra ID P1/P2)",
};
pub const AUDIT_POLICY: Operation = Operation {
    name: "audit: authentication methods policy",
    needs: &[
        "Policy.Read.AuthenticationMethod",
        "Policy.Read.All",
        "Policy.ReadWrite.AuthenticationMethod",
    ],
    delegated_role: "Authentication Policy Administrator, Security Reader or Global Reader",
};
pub const AUDIT_GROUPS: Operation = Operation {
    name: "audit: the policy's group targets",
    needs: &[
        "GroupMember.Read.All",
        "Group.Read.All",
        "Directory.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated_role: "any role that reads groups (e.g. Directory Readers, Global Reader)",
};

/// When `granted` writes phones or mails but can't read users as ssprctl does: which read is
/// missing.
pub fn narrow_read(granted: &[String]) -> Option<String> {
    if READ_USERS.allowed_by(granted) {
        return None;
    }
    let narrow: Vec<&str> = ["User-Phone.ReadWrite.All", "User-Mail.ReadWrite.All"]
        .into_iter()
        .filter(|n| granted.iter().any(|g| g.eq_ignore_ascii_case(n)))
        .collect();
    (!narrow.is_empty()).then(|| {
        format!(
            "{} cover(s) only the phone or mail properties and ids: reading displayName, otherMails and \
             onPremisesSyncEnabled needs User.Read.All (or wider)",
            narrow.join(" and ")
        )
    })
}

/// Every operation, in the order `auth status` shows them.
pub const ALL: [Operation; 10] = [
    READ_USERS,
    SET_PHONES,
    SET_ALTERNATE_EMAIL,
    READ_AUTH_PHONES,
    SET_AUTH_PHONES,
    READ_AUTH_EMAIL,
    SET_AUTH_EMAIL,
    AUDIT_REPORT,
    AUDIT_POLICY,
    AUDIT_GROUPS,
];

/// The permissions a token's claims grant: `roles` (app) or `scp` (delegated).
pub fn granted(claims: &Claims) -> Vec<String> {
    match (&claims.roles, &claims.scp) {
        (Some(roles), _) if !roles.is_empty() => roles.clone(),
        (_, Some(scp)) => scp.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

impl Operation {
    /// Whether `granted` allows the operation (case-insensitive, as Entra compares them).
    pub fn allowed_by(&self, granted: &[String]) -> bool {
        self.needs
            .iter()
            .any(|n| granted.iter().any(|g| g.eq_ignore_ascii_case(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_privileged_permissions_allow_their_operation_only() {
        let g = vec!["user-phone.readwrite.all".to_string()];
        assert!(SET_PHONES.allowed_by(&g));
        // It covers the phones only: ssprctl's reads need User.Read.All, and it is said which.
        assert!(!READ_USERS.allowed_by(&g));
        assert_eq!(
            narrow_read(&g).unwrap(),
            "User-Phone.ReadWrite.All cover(s) only the phone or mail properties and ids: reading \
             displayName, otherMails and onPremisesSyncEnabled needs User.Read.All (or wider)"
        );
        assert!(narrow_read(&["User.Read.All".to_string()]).is_none());
        let least = [
            "Policy.Read.AuthenticationMethod",
            "UserAuthenticationMethod.Read.All",
            "GroupMember.Read.All",
        ]
        .map(String::from);
        assert!(
            AUDIT_POLICY.allowed_by(&least)
                && AUDIT_REPORT.allowed_by(&least)
                && AUDIT_GROUPS.allowed_by(&least)
        );
        assert!(!SET_ALTERNATE_EMAIL.allowed_by(&g));
        assert!(!SET_AUTH_PHONES.allowed_by(&g));
        let c = Claims {
            scp: Some("User.Read.All UserAuthMethod-Email.ReadWrite.All".into()),
            ..Default::default()
        };
        let g = granted(&c);
        assert!(SET_AUTH_EMAIL.allowed_by(&g) && READ_AUTH_EMAIL.allowed_by(&g));
        assert!(!AUDIT_REPORT.allowed_by(&g));
    }
}
