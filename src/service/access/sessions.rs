//! Sign-in, sign-out and the session behind each request.

use chrono::NaiveDateTime;

use crate::config::Config;
use crate::crypto;
use crate::db::models::{NewSessionRow, UserRow};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::{Role, lockout_after, normalize_email};
use crate::domain::second_factor::{FactorPolicy, second_step_valid};
use crate::error::AppError;
use crate::service::access::audit::{self, Entry};

/// Where a session stands in signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Signed in: everything the role allows.
    Full,
    /// The password was right; the second factor is still to give.
    SecondFactor,
    /// The organization requires a second factor this user has not set up: only setting one up.
    Enrol,
}

/// The signed-in user of a live session.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub session_id: i64,
    pub user_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub email: String,
    pub role: Role,
    pub csrf_token: String,
    pub stage: Stage,
    /// An authenticator app is set up.
    pub totp: bool,
    /// At least one security key is registered.
    pub keys: bool,
    /// The last fresh second factor given in this session.
    pub stepped_up_at: Option<NaiveDateTime>,
    /// The header's counts, read with the session.
    pub badges: db::sessions::Badges,
}

impl SessionUser {
    /// A fresh second factor would be asked now for a step-up: the user has one and has not
    /// given it in the last five minutes.
    pub fn step_up_due(&self, now: NaiveDateTime) -> bool {
        (self.totp || self.keys)
            && self.stepped_up_at.is_none_or(|t| now - t > crate::domain::second_factor::step_up_valid())
    }
}

/// A new session: `token` goes into the cookie and is stored only as its SHA-256.
pub struct NewSession {
    pub token: String,
    pub user_id: i64,
    /// The user has a second factor still to give.
    pub second_factor: bool,
}

/// One answer for an unknown email, a wrong password and a locked account alike.
const WRONG_CREDENTIALS: &str = "The email or password is not right, or this account is paused for a few minutes \
     after repeated failed sign-ins. Check both and try again.";

/// Seconds between writes of a session's last-seen time: idle expiry needs no finer clock, and a
/// write on every request would serialize SQLite readers behind the writer.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// How stale the stored last-seen time may get: a quarter of the idle limit, at most
/// [`TOUCH_INTERVAL_SECS`], so a session used more often than the idle limit never looks idle.
fn touch_interval_secs(idle: chrono::Duration) -> i64 {
    (idle.num_seconds() / 4).clamp(1, TOUCH_INTERVAL_SECS)
}

pub fn token_hash(token: &str) -> String {
    crypto::sha256_hex(token.as_bytes())
}

/// Checks the credentials and opens a new session. Any session the browser still held
/// (`previous_token`) is ended, so a session id planted before sign-in is worth nothing after.
pub fn login(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    previous_token: Option<&str>,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<NewSession, AppError> {
    let email = match normalize_email(email) {
        Ok(e) => e,
        Err(msg) => return Err(FieldErrors::single("email", msg).into()),
    };
    if password.is_empty() {
        return Err(FieldErrors::single("password", "Enter your password.").into());
    }
    let Some(user) = db::users::find_by_email(conn, &email)? else {
        crypto::verify_against_dummy(password);
        audit::record(
            conn,
            Entry {
                org_id: None,
                actor_user_id: None,
                action: "login.failed",
                object_type: "user",
                object_id: None,
                detail: format!("unknown email {email}"),
                ip,
            },
            now,
        )?;
        return Err(FieldErrors::form(WRONG_CREDENTIALS).into());
    };
    // The attempt is counted before the password is checked, so parallel guesses cannot run more
    // checks than the limit allows; a locked account still costs one password check and gets
    // the same words, so neither the answer nor its timing tells a locked account from an
    // unknown one.
    let attempt = claim_attempt(conn, &user, now)?;
    let right = crypto::verify_password(password, &user.password_hash);
    if attempt.is_none() || !right {
        let detail = match attempt {
            Some(failures) => format!("wrong password, {failures} in a row"),
            None => "attempt while locked".into(),
        };
        if let Some(lock) = attempt.and_then(lockout_after) {
            let what = format!(
                "Sign-in to your account was locked for {} s after {} wrong passwords in a row{}. If this was not \
                 you, change your password.",
                lock.num_seconds(),
                attempt.unwrap_or_default(),
                ip.map(|ip| format!(" (the last from {ip})")).unwrap_or_default(),
            );
            crate::service::access::security_notice::tell(conn, user.org_id, user.id, &what, ip, now)?;
        }
        audit::record(
            conn,
            Entry {
                org_id: Some(user.org_id),
                actor_user_id: None,
                action: "login.failed",
                object_type: "user",
                object_id: Some(user.id.to_string()),
                detail,
                ip,
            },
            now,
        )?;
        return Err(FieldErrors::form(WRONG_CREDENTIALS).into());
    }
    if user.disabled {
        return Err(FieldErrors::form("This account is disabled. Ask an administrator to enable it.").into());
    }
    // With a second factor the password alone signs in half-way, and the run of failures goes on
    // until the factor is given: a right password must not reset the count of wrong codes.
    let second_factor = user.totp_enabled_at.is_some() || db::factors::key_count(conn, user.id)? > 0;
    let token = crypto::random_hex(32);
    let csrf = crypto::random_hex(32);
    db::write_tx(conn, |conn| -> Result<(), AppError> {
        if let Some(old) = previous_token {
            db::sessions::delete_by_token_hash(conn, &token_hash(old))?;
        }
        if !second_factor {
            db::users::record_successful_login(conn, user.id, now)?;
        }
        db::sessions::insert(
            conn,
            &NewSessionRow {
                token_hash: &token_hash(&token),
                user_id: user.id,
                csrf_token: &csrf,
                ip,
                created_at: now,
                last_seen_at: now,
            },
        )?;
        audit::record(
            conn,
            Entry {
                org_id: Some(user.org_id),
                actor_user_id: Some(user.id),
                action: "login",
                object_type: "user",
                object_id: Some(user.id.to_string()),
                detail: if second_factor { "password; second factor to follow".into() } else { String::new() },
                ip,
            },
            now,
        )?;
        Ok(())
    })?;
    Ok(NewSession { token, user_id: user.id, second_factor })
}

/// Takes one attempt from the account's allowance: the failures in a row counting this one, or
/// None when it is locked. The attempt that reaches the limit locks the account (30 s, doubling
/// to 15 minutes); a right password clears it.
pub(crate) fn claim_attempt(
    conn: &mut DbConnection,
    user: &UserRow,
    now: NaiveDateTime,
) -> Result<Option<i32>, AppError> {
    db::write_tx(conn, |conn| {
        let Some(failures) = db::users::claim_login_attempt(conn, user.id, now)? else {
            return Ok(None);
        };
        if let Some(d) = lockout_after(failures) {
            db::users::set_locked_until(conn, user.id, Some(now + d))?;
        }
        Ok(Some(failures))
    })
}

/// The live session for a cookie token, or None when it is unknown, idle too long, too old or
/// its user is disabled (a dead session is deleted).
pub fn resolve(
    conn: &mut DbConnection,
    token: &str,
    config: &Config,
    now: NaiveDateTime,
) -> Result<Option<SessionUser>, AppError> {
    let Some((session, user, org, keys, badges)) = db::sessions::find_with_user(conn, &token_hash(token))? else {
        return Ok(None);
    };
    let totp = user.totp_enabled_at.is_some();
    let waiting = (totp || keys) && session.second_factor_at.is_none();
    let expired = now - session.last_seen_at > config.session_idle
        || now - session.created_at > config.session_max_age
        || (waiting && now - session.created_at > second_step_valid());
    let role = Role::parse(&user.role);
    if expired || user.disabled || role.is_none() {
        db::sessions::delete(conn, session.id)?;
        return Ok(None);
    }
    let role = role.expect("checked above");
    let policy = FactorPolicy { staff: org.second_factor_staff, accountants: org.second_factor_accountants };
    let stage = if waiting {
        Stage::SecondFactor
    } else if !totp && !keys && policy.requires(role) {
        Stage::Enrol
    } else {
        Stage::Full
    };
    if (now - session.last_seen_at).num_seconds() >= touch_interval_secs(config.session_idle) {
        db::sessions::touch(conn, session.id, now)?;
    }
    Ok(Some(SessionUser {
        session_id: session.id,
        user_id: user.id,
        org_id: user.org_id,
        org_name: org.name,
        email: user.email,
        role,
        csrf_token: session.csrf_token,
        stage,
        totp,
        keys,
        stepped_up_at: session.step_up_at,
        badges,
    }))
}

pub fn logout(
    conn: &mut DbConnection,
    user: &SessionUser,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    db::write_tx(conn, |conn| -> Result<(), AppError> {
        db::sessions::delete(conn, user.session_id)?;
        audit::record(
            conn,
            Entry {
                org_id: Some(user.org_id),
                actor_user_id: Some(user.user_id),
                action: "logout",
                object_type: "user",
                object_id: Some(user.user_id.to_string()),
                detail: String::new(),
                ip,
            },
            now,
        )?;
        Ok(())
    })
}

/// Ends sessions that can no longer be used; run from time to time.
pub fn purge_expired(conn: &mut DbConnection, config: &Config, now: NaiveDateTime) -> Result<usize, AppError> {
    Ok(db::sessions::delete_expired(conn, now - config.session_idle, now - config.session_max_age)?)
}
