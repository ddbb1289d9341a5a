//! Second factors as rules without I/O: TOTP codes (RFC 6238 with SHA-1, 6 digits and 30-second
//! steps, as authenticator apps expect), one-time recovery codes, and who the organization's
//! policy obliges to have a factor.

use chrono::Duration;
use totp_rs::{Algorithm, Builder, Totp};

use super::account::Role;

/// 160 bits, RFC 4226's recommended secret length.
pub const SECRET_BYTES: usize = 20;
pub const STEP_SECS: u64 = 30;
pub const RECOVERY_CODE_COUNT: usize = 10;
/// How long a fresh code or key touch authorizes approving, confirming and changing settings.
pub fn step_up_valid() -> Duration {
    Duration::minutes(5)
}
/// How long a password-only sign-in waits for its second factor before it must start again.
pub fn second_step_valid() -> Duration {
    Duration::minutes(10)
}

const ISSUER: &str = "Payouts";

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    // otpauth labels are "issuer:account": a colon in the account would end the issuer early.
    let account = account.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .ok()
}

/// The `otpauth://` URL an authenticator app scans, and the secret in base32 for typing.
pub fn enrolment(secret: &[u8], account: &str) -> Option<(String, String)> {
    let t = totp(secret, account)?;
    Some((t.to_url().ok()?, t.secret().to_base32()))
}

/// The time step a typed code belongs to at `unix_secs`, allowing one step of clock drift either
/// way; None when it matches none. Spaces inside the code are ignored.
pub fn matching_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "")?.check(&code, unix_secs)
}

/// The code an authenticator shows at `unix_secs` (tests and the demo's helper use it).
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    totp(secret, "").map(|t| t.generate(unix_secs).to_string()).unwrap_or_default()
}

/// Recovery codes: 12 characters from 31 unambiguous ones (about 59 bits), shown as `abcd-efgh-jkmn`.
pub const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_LEN: usize = 12;

pub fn format_recovery_code(raw: &str) -> String {
    raw.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// The canonical form of a typed recovery code (case, spaces and dashes ignored), or None when it
/// cannot be one.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let code: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    (code.len() == RECOVERY_LEN && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

pub fn recovery_code_len() -> usize {
    RECOVERY_LEN
}

/// Who must have a second factor in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorPolicy {
    /// Admins and managers.
    pub staff: bool,
    pub accountants: bool,
}

impl FactorPolicy {
    pub fn requires(&self, role: Role) -> bool {
        match role {
            Role::Admin | Role::Manager => self.staff,
            Role::Accountant => self.accountants,
            Role::Viewer => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret; its 8-digit values end in these 6 digits.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_rfc_6238_test_vectors() {
        for (time, expected) in [(59u64, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            assert_eq!(code_at(RFC_SECRET, time), expected);
            assert_eq!(matching_step(RFC_SECRET, expected, time), Some(time / STEP_SECS));
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let t = 1_700_000_000u64;
        let code = code_at(RFC_SECRET, t);
        assert_eq!(matching_step(RFC_SECRET, &code, t + STEP_SECS), Some(t / STEP_SECS));
        assert_eq!(matching_step(RFC_SECRET, &code, t - STEP_SECS), Some(t / STEP_SECS));
        assert_eq!(matching_step(RFC_SECRET, &code, t + 3 * STEP_SECS), None);
        assert_eq!(matching_step(RFC_SECRET, &format!("{} {}", &code[..3], &code[3..]), t), Some(t / STEP_SECS));
        for bad in ["", "12345", "1234567", "abcdef", "12 34 5"] {
            assert_eq!(matching_step(RFC_SECRET, bad, t), None, "{bad:?}");
        }
    }

    #[test]
    fn enrolment_url_names_the_issuer_and_account_and_carries_the_secret() {
        let (url, base32) = enrolment(RFC_SECRET, "ann:x@example.com").unwrap();
        assert!(url.starts_with("otpauth://totp/Payouts:ann%20x%40example.com?"), "{url}");
        assert!(url.contains(&format!("secret={base32}")), "{url}");
        assert_eq!(base32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn recovery_codes_normalize_from_what_people_type() {
        assert_eq!(normalize_recovery_code(" ABCD-efgh-2345 ").as_deref(), Some("abcdefgh2345"));
        assert_eq!(format_recovery_code("abcdefgh2345"), "abcd-efgh-2345");
        assert_eq!(normalize_recovery_code("abcd-efgh-234"), None);
        assert_eq!(normalize_recovery_code("abcd-efgh-2341"), None, "1 is not in the alphabet");
        assert_eq!(normalize_recovery_code("123456"), None);
    }

    #[test]
    fn policy_obliges_staff_and_optionally_accountants_never_viewers() {
        let staff = FactorPolicy { staff: true, accountants: false };
        assert!(staff.requires(Role::Admin) && staff.requires(Role::Manager));
        assert!(!staff.requires(Role::Accountant) && !staff.requires(Role::Viewer));
        let all = FactorPolicy { staff: true, accountants: true };
        assert!(all.requires(Role::Accountant) && !all.requires(Role::Viewer));
    }
}
