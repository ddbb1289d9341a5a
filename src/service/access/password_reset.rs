//! "Forgot your password?": every request is recorded the same way whether or not the address
//! has an account, and answered the same (no enumeration, the same work either way). The
//! notifier later issues a 30-minute one-time link for real accounts only; using it sets the
//! password, ends every session of that person and tells them. A second factor is still asked
//! at the next sign-in.

use chrono::NaiveDateTime;

use crate::crypto;
use crate::db::models::UserRow;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::{check_chosen_password, normalize_email};
use crate::error::AppError;
use crate::service::access::audit::{self, Entry};

pub const VALID_MINUTES: i64 = 30;
/// Requests recorded per address, and per IP address, per hour; beyond them the answer is the
/// same and nothing is sent.
pub const PER_EMAIL_PER_HOUR: i64 = 3;
pub const PER_IP_PER_HOUR: i64 = 10;

/// Records a request. The same statements run for a known and an unknown address. Counting and
/// recording happen under a lock on the address and one on the sender's network, so requests
/// arriving at the same instant (on any server process) are counted one after the other.
pub fn request(conn: &mut DbConnection, email: &str, ip: Option<&str>, at: NaiveDateTime) -> Result<(), AppError> {
    let email = normalize_email(email).map_err(|m| FieldErrors::single("email", m))?;
    let bucket = ip.map(ip_bucket);
    let ip = bucket.as_deref();
    db::write_tx(conn, |conn| {
        let mut keys = vec![format!("reset-email:{email}")];
        keys.extend(ip.map(|b| format!("reset-ip:{b}")));
        db::locks::serialize_on(conn, &keys)?;
        let (by_email, by_ip) =
            db::invitations::reset_requests_since(conn, &email, ip, at - chrono::Duration::hours(1))?;
        if by_email < PER_EMAIL_PER_HOUR && by_ip < PER_IP_PER_HOUR {
            db::invitations::insert_reset_request(conn, &email, ip, at)?;
        }
        Ok(())
    })
}

/// Where requests are counted from: an IPv4 address, or an IPv6 address's /64 network (one
/// subscriber's, which can pick any address in it).
pub fn ip_bucket(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Takes one recorded request (once across processes) and, when the address is an enabled
/// account's, issues its link: the person and the one-time token. The caller holds the
/// transaction and queues the email in it.
pub fn issue_in_tx(
    conn: &mut DbConnection,
    request_id: i64,
    email: &str,
    at: NaiveDateTime,
) -> Result<Option<(UserRow, String)>, AppError> {
    if !db::invitations::take_reset_request(conn, request_id, at)? {
        return Ok(None);
    }
    let Some(user) = db::users::find_by_email(conn, email)?.filter(|u| !u.disabled) else {
        return Ok(None);
    };
    let token = crypto::random_hex(32);
    db::invitations::insert_reset(
        conn,
        user.id,
        &crypto::sha256_hex(token.as_bytes()),
        at,
        at + chrono::Duration::minutes(VALID_MINUTES),
    )?;
    Ok(Some((user, token)))
}

/// The person a reset link is for, while it can be used.
pub fn open(conn: &mut DbConnection, token: &str, at: NaiveDateTime) -> Result<String, AppError> {
    let row =
        db::invitations::reset_by_token_hash(conn, &crypto::sha256_hex(token.as_bytes()))?.ok_or(AppError::NotFound)?;
    if row.used_at.is_some() || row.expires_at <= at {
        return Err(AppError::Conflict(
            "This reset link was used, has expired (links last 30 minutes) or ended when the password was \
             changed; ask for a new one."
                .into(),
        ));
    }
    Ok(db::users::find(conn, row.user_id)?.email)
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub password_again: String,
}

/// Uses a link: the new password, every session ended, the person told. Works once.
pub fn complete(
    conn: &mut DbConnection,
    token: &str,
    form: &ResetForm,
    ip: Option<&str>,
    at: NaiveDateTime,
) -> Result<String, AppError> {
    open(conn, token, at)?;
    check_chosen_password(&form.password, &form.password_again)?;
    let hash = crypto::hash_password(&form.password);
    let row =
        db::invitations::reset_by_token_hash(conn, &crypto::sha256_hex(token.as_bytes()))?.ok_or(AppError::NotFound)?;
    db::write_tx(conn, |conn| {
        if !db::invitations::use_reset(conn, &row, at)? {
            return Err(AppError::Conflict("This reset link was just used; sign in instead.".into()));
        }
        let user = db::users::find(conn, row.user_id)?;
        if user.disabled {
            return Err(AppError::Conflict("This account is disabled; ask an administrator.".into()));
        }
        db::users::set_password(conn, user.id, &hash)?;
        db::invitations::void_resets(conn, user.id, &user.email, at)?;
        let ended = db::sessions::delete_for_user(conn, user.id)?;
        audit::record(
            conn,
            Entry {
                org_id: Some(user.org_id),
                actor_user_id: Some(user.id),
                action: "user.password_reset",
                object_type: "user",
                object_id: Some(user.id.to_string()),
                detail: format!("by emailed link; {ended} sessions ended"),
                ip,
            },
            at,
        )?;
        crate::service::access::security_notice::tell(
            conn,
            user.org_id,
            user.id,
            "Your password was changed with a reset link, and every session of your account was ended.",
            ip,
            at,
        )?;
        Ok(user.email)
    })
}
