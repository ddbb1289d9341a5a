//! Roles, what each may do, and the rules for emails and passwords.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Manager,
    Accountant,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Accountant, Role::Viewer];

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "manager" => Some(Role::Manager),
            "accountant" => Some(Role::Accountant),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Accountant => "accountant",
            Role::Viewer => "viewer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Manager => "Manager",
            Role::Accountant => "Accountant",
            Role::Viewer => "Viewer",
        }
    }

    /// Users, organization settings, fees, API keys.
    pub fn can_administer(self) -> bool {
        self == Role::Admin
    }

    /// Approve and reject pending payouts.
    pub fn can_approve(self) -> bool {
        self == Role::Manager
    }

    /// Create single and mass payouts.
    pub fn can_create_payouts(self) -> bool {
        self == Role::Accountant
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Read,
    Create,
    Approve,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Create, Scope::Approve];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Create => "create",
            Scope::Approve => "approve",
        }
    }

    /// "read,create" → the scopes, or the unknown name.
    pub fn parse_list(s: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scope = Scope::ALL.into_iter().find(|x| x.as_str() == name).ok_or_else(|| name.to_owned())?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(scopes)
    }

    /// Whether a user of `role` may hold a key with this scope.
    pub fn allowed_for(self, role: Role) -> bool {
        match self {
            Scope::Read => true,
            Scope::Create => role.can_create_payouts(),
            Scope::Approve => role.can_approve(),
        }
    }
}

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 256;

/// Trims and lowercases an email and checks its shape: one `@`, a non-empty local part, a
/// domain without spaces. Deliverability is not our business; a typo that makes it unusable is.
pub fn normalize_email(input: &str) -> Result<String, &'static str> {
    let email = input.trim().to_lowercase();
    if email.is_empty() {
        return Err("Enter an email address.");
    }
    if email.len() > 254 {
        return Err("An email address has at most 254 characters.");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("An email address needs an @, like name@example.com.");
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err("Enter an email address like name@example.com.");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("An email address cannot contain spaces.");
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err("The part after @ is not a valid domain.");
    }
    Ok(email)
}

pub fn check_new_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(format!("Use at least {MIN_PASSWORD_LEN} characters."));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(format!("Use at most {MAX_PASSWORD_LEN} characters."));
    }
    Ok(())
}

/// A new password typed twice (invitation, reset, change): its rule, then the two the same.
pub fn check_chosen_password(password: &str, again: &str) -> Result<(), crate::domain::FieldErrors> {
    let mut errors = crate::domain::FieldErrors::new();
    if let Err(m) = check_new_password(password) {
        errors.add("password", m);
    } else if password != again {
        errors.add("password_again", "The two passwords differ; type the same one twice.");
    }
    errors.into_result(())
}

/// After this many consecutive failures an account is locked for a while, doubling each time.
pub const FREE_LOGIN_ATTEMPTS: i32 = 5;
const FIRST_LOCK_SECS: i64 = 30;
const MAX_LOCK_SECS: i64 = 15 * 60;

/// How long to lock an account that has just failed its `failures`-th consecutive sign-in.
pub fn lockout_after(failures: i32) -> Option<chrono::Duration> {
    if failures < FREE_LOGIN_ATTEMPTS {
        return None;
    }
    let doublings = (failures - FREE_LOGIN_ATTEMPTS).min(10) as u32;
    let secs = (FIRST_LOCK_SECS << doublings).min(MAX_LOCK_SECS);
    Some(chrono::Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_unknown() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse(" Manager "), Some(Role::Manager));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn only_managers_approve_and_only_accountants_create() {
        let approvers: Vec<_> = Role::ALL.into_iter().filter(|r| r.can_approve()).collect();
        let creators: Vec<_> = Role::ALL.into_iter().filter(|r| r.can_create_payouts()).collect();
        assert_eq!(approvers, [Role::Manager]);
        assert_eq!(creators, [Role::Accountant]);
        assert!(!Role::Viewer.can_administer());
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalize_email("  Ann@Example.COM ").unwrap(), "ann@example.com");
        assert_eq!(normalize_email("admin@localhost").unwrap(), "admin@localhost");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in ["", "ann", "@example.com", "ann@", "a b@example.com", "a@b@c", "a@.com", "a@x..y"] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn lockout_starts_after_free_attempts_and_doubles_up_to_a_cap() {
        assert_eq!(lockout_after(FREE_LOGIN_ATTEMPTS - 1), None);
        assert_eq!(lockout_after(FREE_LOGIN_ATTEMPTS), Some(chrono::Duration::seconds(30)));
        assert_eq!(lockout_after(FREE_LOGIN_ATTEMPTS + 1), Some(chrono::Duration::seconds(60)));
        assert_eq!(lockout_after(100), Some(chrono::Duration::seconds(900)));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough pass").is_ok());
    }
}
