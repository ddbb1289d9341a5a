//! Second factors: enrolling an authenticator, the second step of signing in, step-up before
//! money moves or settings change, recovery codes, the organization's policy, and resets.

use chrono::NaiveDateTime;

use crate::crypto;
use crate::db::models::UserRow;
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{ASSETS, Asset};
use crate::domain::second_factor::{
    FactorPolicy, RECOVERY_ALPHABET, RECOVERY_CODE_COUNT, SECRET_BYTES, enrolment, format_recovery_code, matching_step,
    normalize_recovery_code, recovery_code_len, step_up_valid,
};
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::access::sessions::{SessionUser, claim_attempt};

/// What the sealed TOTP secret's key is derived for.
const TOTP_PURPOSE: &str = "totp-secret-v1";

const WRONG_CODE: &str = "That code is not right, or was used already. Type the code your authenticator shows now, \
     or one of your recovery codes.";
const WRONG_STEP_UP_CODE: &str =
    "That code is not right, or was used already. Type the code your authenticator shows now; nothing was changed.";

fn unix_secs(at: NaiveDateTime) -> u64 {
    at.and_utc().timestamp().max(0) as u64
}

fn secret_of(key: &[u8], user: &UserRow) -> Option<Vec<u8>> {
    crypto::open(key, TOTP_PURPOSE, user.id.to_string().as_bytes(), user.totp_secret.as_deref()?)
}

/// A user's factors, as the account page and the admin's list show them.
#[derive(Debug, Clone, Default)]
pub struct Factors {
    pub totp: bool,
    pub keys: i64,
    pub recovery_codes_left: i64,
}

impl Factors {
    pub fn any(&self) -> bool {
        self.totp || self.keys > 0
    }
}

pub fn factors(conn: &mut DbConnection, user_id: i64) -> Result<Factors, AppError> {
    let user = db::users::find(conn, user_id)?;
    Ok(Factors {
        totp: user.totp_enabled_at.is_some(),
        keys: db::factors::key_count(conn, user_id)?,
        recovery_codes_left: db::factors::unused_recovery_codes(conn, user_id)?,
    })
}

/// An authenticator being set up: the URL its QR code carries and the secret to type instead.
pub struct TotpSetup {
    pub url: String,
    pub secret: String,
}

/// Starts setting up an authenticator (or shows the one being set up again): a new secret is
/// sealed in the user's row and used only once a code from it confirms it.
pub fn begin_totp(conn: &mut DbConnection, actor: &Actor, key: &[u8]) -> Result<TotpSetup, AppError> {
    db::write_tx(conn, |conn| {
        let user = db::users::find(conn, actor.user_id)?;
        if user.totp_enabled_at.is_some() {
            return Err(AppError::Conflict(
                "An authenticator is already set up; remove it first to set up another.".into(),
            ));
        }
        let secret = match secret_of(key, &user) {
            Some(s) => s,
            None => {
                let s = crypto::random_bytes(SECRET_BYTES);
                let sealed = crypto::seal(key, TOTP_PURPOSE, user.id.to_string().as_bytes(), &s);
                db::factors::start_totp(conn, user.id, &sealed)?;
                s
            }
        };
        let (url, secret) =
            enrolment(&secret, &user.email).ok_or_else(|| AppError::Internal("TOTP parameters".into()))?;
        Ok(TotpSetup { url, secret })
    })
}

pub(super) fn new_recovery_codes(conn: &mut DbConnection, user_id: i64) -> Result<Vec<String>, AppError> {
    let codes: Vec<String> =
        (0..RECOVERY_CODE_COUNT).map(|_| crypto::random_from(RECOVERY_ALPHABET, recovery_code_len())).collect();
    let hashes: Vec<String> = codes.iter().map(|c| crypto::sha256_hex(c.as_bytes())).collect();
    db::factors::replace_recovery_codes(conn, user_id, &hashes)?;
    Ok(codes.iter().map(|c| format_recovery_code(c)).collect())
}

/// Confirms the authenticator with one valid code: from now on it is asked for at sign-in, and
/// ten recovery codes are returned to be shown once. The session that confirmed it counts as
/// having passed its second factor.
pub fn confirm_totp(
    conn: &mut DbConnection,
    actor: &Actor,
    session_id: i64,
    key: &[u8],
    code: &str,
) -> Result<Vec<String>, AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let user = db::users::find(conn, actor.user_id)?;
        if user.totp_enabled_at.is_some() {
            return Err(AppError::Conflict("This authenticator is already set up.".into()));
        }
        let secret = secret_of(key, &user)
            .ok_or_else(|| AppError::Conflict("Start setting up the authenticator again.".into()))?;
        let Some(step) = matching_step(&secret, code, unix_secs(at)) else {
            return Err(FieldErrors::single(
                "code",
                "That code is not right. Check that the phone's clock is right and type the code it shows now.",
            )
            .into());
        };
        if !db::factors::enable_totp(conn, user.id, at, step as i64)? {
            return Err(AppError::Conflict("This authenticator is already set up.".into()));
        }
        let codes = new_recovery_codes(conn, user.id)?;
        db::factors::session_second_factor(conn, session_id, at)?;
        audit::record(conn, Entry::by(actor, "second_factor.totp_added", "user", user.id), at)?;
        crate::service::access::security_notice::tell(
            conn,
            user.org_id,
            user.id,
            "An authenticator app was added to your account.",
            actor.ip.as_deref(),
            at,
        )?;
        Ok(codes)
    })
}

/// A TOTP code, accepted once: true when it is the code of a step after the last one accepted.
fn totp_accepts(
    conn: &mut DbConnection,
    key: &[u8],
    user: &UserRow,
    code: &str,
    at: NaiveDateTime,
) -> Result<bool, AppError> {
    if user.totp_enabled_at.is_none() {
        return Ok(false);
    }
    let Some(secret) = secret_of(key, user) else {
        tracing::error!(user = user.id, "a TOTP secret does not open with this server's secret key");
        return Ok(false);
    };
    match matching_step(&secret, code, unix_secs(at)) {
        Some(step) => Ok(db::factors::claim_totp_step(conn, user.id, step as i64)?),
        None => Ok(false),
    }
}

/// Removes the authenticator, proven by a current code. Where the policy requires a factor, the
/// last one cannot be removed; with no factor left the recovery codes go too.
pub fn remove_totp(conn: &mut DbConnection, actor: &Actor, key: &[u8], code: &str) -> Result<(), AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let user = db::users::find(conn, actor.user_id)?;
        if user.totp_enabled_at.is_none() {
            return Err(AppError::Conflict("No authenticator is set up.".into()));
        }
        if !totp_accepts(conn, key, &user, code, at)? {
            return Err(FieldErrors::single("code", WRONG_STEP_UP_CODE).into());
        }
        let keys = db::factors::key_count(conn, user.id)?;
        if keys == 0 && policy(conn, actor.org_id)?.factors.requires(actor.role) {
            return Err(AppError::NotAllowed(
                "Your organization requires a second factor for your role: add a security key before removing the \
                 authenticator."
                    .into(),
            ));
        }
        db::factors::clear_totp(conn, user.id)?;
        if keys == 0 {
            db::factors::delete_recovery_codes(conn, user.id)?;
        }
        audit::record(conn, Entry::by(actor, "second_factor.totp_removed", "user", user.id), at)?;
        crate::service::access::security_notice::tell(
            conn,
            user.org_id,
            user.id,
            "The authenticator app was removed from your account.",
            actor.ip.as_deref(),
            at,
        )?;
        Ok(())
    })
}

/// Ten new recovery codes in place of the old ones, after a fresh step-up.
pub fn replace_recovery_codes(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<String>, AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        if !factors(conn, actor.user_id)?.any() {
            return Err(AppError::Conflict("Set up an authenticator or a security key first.".into()));
        }
        require_fresh(conn, actor, "New recovery codes")?;
        let codes = new_recovery_codes(conn, actor.user_id)?;
        audit::record(conn, Entry::by(actor, "second_factor.recovery_codes_replaced", "user", actor.user_id), at)?;
        crate::service::access::security_notice::tell(
            conn,
            actor.org_id,
            actor.user_id,
            "New recovery codes were made; the old ones no longer work.",
            actor.ip.as_deref(),
            at,
        )?;
        Ok(codes)
    })
}

/// The second step of signing in: a code from the authenticator or an unused recovery code.
/// Each try counts toward the account's lockout as a wrong password does, and only a right code
/// ends the run of failures.
pub fn verify_sign_in(
    conn: &mut DbConnection,
    session: &SessionUser,
    key: &[u8],
    input: &str,
    ip: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let wrong = Refusal { field: "code", message: WRONG_CODE, noun: "second-factor code" };
    sign_in_with(conn, session, ip, wrong, at, |conn, user, at| {
        if totp_accepts(conn, key, user, input, at)? {
            return Ok(Some("an authenticator code".into()));
        }
        match normalize_recovery_code(input) {
            Some(code) if db::factors::use_recovery_code(conn, user.id, &crypto::sha256_hex(code.as_bytes()), at)? => {
                Ok(Some("a recovery code".into()))
            }
            _ => Ok(None),
        }
    })
}

/// How a refused proof is reported: the form field, what the person reads, and what the audit
/// log calls it.
pub(super) struct Refusal {
    pub field: &'static str,
    pub message: &'static str,
    pub noun: &'static str,
}

/// The second step of signing in with one proof: `check` says how the user proved it (for the
/// audit log), or None. The try is counted toward the lockout before `check` runs (in its own
/// transaction), and only a right proof ends the run of failures and completes the session.
pub(super) fn sign_in_with(
    conn: &mut DbConnection,
    session: &SessionUser,
    ip: Option<&str>,
    wrong: Refusal,
    at: NaiveDateTime,
    check: impl FnOnce(&mut DbConnection, &UserRow, NaiveDateTime) -> Result<Option<String>, AppError>,
) -> Result<(), AppError> {
    let user = db::users::find(conn, session.user_id)?;
    let attempt = claim_attempt(conn, &user, at)?;
    let method = match attempt {
        Some(_) => db::write_tx(conn, |conn| check(conn, &user, at))?,
        None => None,
    };
    let entry = |action, detail: String| Entry {
        org_id: Some(user.org_id),
        actor_user_id: Some(user.id),
        action,
        object_type: "user",
        object_id: Some(user.id.to_string()),
        detail,
        ip,
    };
    match method {
        Some(method) => db::write_tx(conn, |conn| -> Result<(), AppError> {
            db::factors::session_second_factor(conn, session.session_id, at)?;
            db::users::record_successful_login(conn, user.id, at)?;
            audit::record(conn, entry("login.second_factor", format!("with {method}")), at)?;
            Ok(())
        }),
        None => {
            let detail = match attempt {
                Some(n) => format!("wrong {}, {n} in a row", wrong.noun),
                None => format!("{} while locked", wrong.noun),
            };
            audit::record(conn, entry("login.failed", detail), at)?;
            Err(FieldErrors::single(wrong.field, wrong.message).into())
        }
    }
}

/// A fresh code for a step-up (the `otp` field of a form, or the API's `X-OTP` header): true when
/// accepted, and the session (when there is one) is stepped up until five minutes from now.
/// Wrong codes count toward the lockout.
pub fn step_up_with_code(
    conn: &mut DbConnection,
    user_id: i64,
    session_id: Option<i64>,
    key: &[u8],
    code: &str,
    at: NaiveDateTime,
) -> Result<NaiveDateTime, AppError> {
    let user = db::users::find(conn, user_id)?;
    if user.totp_enabled_at.is_none() {
        return Err(FieldErrors::single("otp", "You have no authenticator set up, so there is no code to give.").into());
    }
    step_up_with(conn, &user, session_id, at, |conn, at| totp_accepts(conn, key, &user, code, at))?
        .ok_or_else(|| FieldErrors::single("otp", WRONG_STEP_UP_CODE).into())
}

/// A step-up with one proof: the try counts toward the lockout, a right one clears the run of
/// failures and steps the session up. None when `check` refused the proof.
pub(super) fn step_up_with(
    conn: &mut DbConnection,
    user: &UserRow,
    session_id: Option<i64>,
    at: NaiveDateTime,
    check: impl FnOnce(&mut DbConnection, NaiveDateTime) -> Result<bool, AppError>,
) -> Result<Option<NaiveDateTime>, AppError> {
    let accepted = match claim_attempt(conn, user, at)? {
        Some(_) => db::write_tx(conn, |conn| check(conn, at))?,
        None => false,
    };
    if !accepted {
        return Ok(None);
    }
    db::write_tx(conn, |conn| -> Result<(), AppError> {
        db::users::clear_failures(conn, user.id)?;
        if let Some(id) = session_id {
            db::factors::session_step_up(conn, id, at)?;
        }
        Ok(())
    })?;
    Ok(Some(at))
}

/// The organization's rules for second factors.
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    pub factors: FactorPolicy,
    /// Every approval and rejection asks for a fresh proof, whatever its amount.
    pub every_approval: bool,
    /// Per asset: approving, rejecting or confirming a payout of at least this asks for one.
    pub thresholds: Vec<(&'static Asset, Amount)>,
}

pub fn policy(conn: &mut DbConnection, org_id: i64) -> Result<SecurityPolicy, AppError> {
    let org = db::orgs::find(conn, org_id)?;
    Ok(SecurityPolicy {
        factors: FactorPolicy { staff: org.second_factor_staff, accountants: org.second_factor_accountants },
        every_approval: org.step_up_every_approval,
        thresholds: crate::domain::threshold::stored(db::factors::thresholds(conn, org_id)?),
    })
}

/// Settings → Security: `staff`, `accountants`, `every_approval` checkboxes and
/// `threshold_<ASSET>` amounts.
pub fn set_policy(
    conn: &mut DbConnection,
    actor: &Actor,
    fields: &[(String, String)],
) -> Result<SecurityPolicy, AppError> {
    actor.require(Role::can_administer)?;
    let on = |name: &str| fields.iter().any(|(k, v)| k == name && !v.trim().is_empty());
    let mut errors = FieldErrors::new();
    let thresholds = crate::domain::threshold::typed(fields, &mut errors);
    errors.into_result(())?;
    let (staff, accountants, every) = (on("staff"), on("accountants"), on("every_approval"));
    let at = actor.now();
    db::write_tx(conn, |conn| {
        require_fresh(conn, actor, "Changing the security policy")?;
        let before = policy(conn, actor.org_id)?;
        db::factors::set_org_policy(conn, actor.org_id, staff, accountants, every)?;
        for a in ASSETS.iter() {
            let t = thresholds.iter().find(|(x, _)| x.code == a.code).map(|(_, t)| t.to_string());
            db::factors::set_threshold(conn, actor.org_id, a.code, t.as_deref())?;
        }
        let after = policy(conn, actor.org_id)?;
        audit::record(
            conn,
            Entry::by(actor, "security_policy.changed", "organization", actor.org_id).detail(format!(
                "{} → {}",
                describe(&before),
                describe(&after)
            )),
            at,
        )?;
        Ok(after)
    })
}

fn describe(p: &SecurityPolicy) -> String {
    let who = match (p.factors.staff, p.factors.accountants) {
        (true, true) => "second factor required for admins, managers and accountants",
        (true, false) => "second factor required for admins and managers",
        (false, true) => "second factor required for accountants",
        (false, false) => "second factor optional",
    };
    let t: Vec<String> = p.thresholds.iter().map(|(a, v)| format!("{} from {v}", a.code)).collect();
    format!(
        "{who}{}{}",
        if p.every_approval { ", fresh code for every approval" } else { "" },
        if t.is_empty() { String::new() } else { format!(", fresh code for payouts of {}", t.join(", ")) }
    )
}

fn is_fresh(actor: &Actor, at: NaiveDateTime) -> bool {
    actor.stepped_up_at.is_some_and(|t| at - t <= step_up_valid())
}

/// Changing settings that move or direct money (fees, approval policy, webhooks, API keys, payee
/// addresses, this policy) asks a person who has a second factor for a fresh proof. Read inside
/// the caller's transaction. A person without a factor is not asked: the policy decides who
/// must have one.
pub fn require_fresh(conn: &mut DbConnection, actor: &Actor, what: &str) -> Result<(), AppError> {
    // An API key is a standing credential an admin created after a step-up of their own; its
    // calls (payee addresses) are not asked again.
    if actor.via_api || is_fresh(actor, actor.now()) {
        return Ok(());
    }
    let user = db::users::find(conn, actor.user_id)?;
    let has_keys = db::factors::key_count(conn, user.id)? > 0;
    if user.totp_enabled_at.is_none() && !has_keys {
        return Ok(());
    }
    Err(step_up_error(what, user.totp_enabled_at.is_some(), actor.via_api))
}

fn step_up_error(what: &str, totp: bool, via_api: bool) -> AppError {
    let how = if via_api {
        "Send a current code from the key owner's authenticator in the X-OTP header."
    } else if totp {
        "Type the code your authenticator shows now in the form's code field, or confirm it's you on the Confirm it's \
         you page (/step-up), then try again."
    } else {
        "Confirm it's you with your security key on the Confirm it's you page (/step-up), then try again."
    };
    AppError::StepUpRequired(format!("{what} needs a fresh second factor (valid five minutes). {how}"))
}

/// Deciding on or confirming a payout of `total` asks for a fresh proof when it reaches the
/// organization's step-up threshold for its asset, or, for approvals and rejections
/// (`deciding`), when the policy asks it every time. Someone without a factor cannot give one and
/// is refused. Read inside the caller's transaction. Payouts created through an API key are not
/// asked: no person is there to give a code, and approval guards them.
pub fn require_for_payout(
    conn: &mut DbConnection,
    actor: &Actor,
    total: Amount,
    deciding: bool,
) -> Result<(), AppError> {
    if actor.via_api && !deciding {
        return Ok(());
    }
    let p = policy(conn, actor.org_id)?;
    let over = p.thresholds.iter().find(|(a, t)| a.code == total.asset().code && total >= *t);
    if over.is_none() && !(deciding && p.every_approval) {
        return Ok(());
    }
    if is_fresh(actor, actor.now()) {
        return Ok(());
    }
    let what = match over {
        Some((a, t)) => {
            format!("{} a payout of {t} {} or more", if deciding { "Deciding on" } else { "Confirming" }, a.code)
        }
        None => "Approving or rejecting a payout".into(),
    };
    let user = db::users::find(conn, actor.user_id)?;
    let has_keys = db::factors::key_count(conn, user.id)? > 0;
    if user.totp_enabled_at.is_none() && !has_keys {
        return Err(AppError::StepUpRequired(format!(
            "{what} needs a fresh second factor, and you have none: set up an authenticator on your Security page \
             (/account/security) first."
        )));
    }
    if actor.via_api && user.totp_enabled_at.is_none() {
        return Err(AppError::StepUpRequired(format!(
            "{what} needs a fresh second factor, and the API can only take an authenticator code (X-OTP): the key's \
             owner has none. Decide on the dashboard instead."
        )));
    }
    Err(step_up_error(&what, user.totp_enabled_at.is_some(), actor.via_api))
}

/// Who has which factor, for the admin's users page: (user id, factors).
pub fn factors_in_org(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<(i64, Factors)>, AppError> {
    actor.require(Role::can_administer)?;
    let keys = db::factors::key_counts_in_org(conn, actor.org_id)?;
    Ok(db::users::list_in_org(conn, actor.org_id)?
        .into_iter()
        .map(|u| {
            let n = keys.iter().find(|(id, _)| *id == u.id).map_or(0, |(_, n)| *n);
            (u.id, Factors { totp: u.totp_enabled_at.is_some(), keys: n, recovery_codes_left: 0 })
        })
        .collect())
}

fn clear_factors(conn: &mut DbConnection, user_id: i64) -> Result<(), AppError> {
    db::factors::clear_totp(conn, user_id)?;
    db::factors::delete_keys(conn, user_id)?;
    db::factors::delete_recovery_codes(conn, user_id)?;
    db::sessions::delete_for_user(conn, user_id)?;
    Ok(())
}

/// An admin removes every factor of a user of the organization (a lost phone): their sessions
/// end, and they set up a factor again at their next sign-in where the policy requires one.
pub fn reset(conn: &mut DbConnection, actor: &Actor, user_id: i64) -> Result<String, AppError> {
    actor.require(Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        require_fresh(conn, actor, "Resetting a user's second factors")?;
        let user = db::users::find_in_org(conn, actor.org_id, user_id)?.ok_or(AppError::NotFound)?;
        clear_factors(conn, user.id)?;
        audit::record(
            conn,
            Entry::by(actor, "second_factor.reset", "user", user.id).detail(format!("all factors of {}", user.email)),
            at,
        )?;
        crate::service::access::security_notice::tell(
            conn,
            user.org_id,
            user.id,
            &format!("Every second factor of your account was removed by {}.", actor.email),
            actor.ip.as_deref(),
            at,
        )?;
        Ok(user.email)
    })
}

/// `payouts user reset-2fa --email …`: for the last admin locked out. Audited as done from the
/// command line.
pub fn reset_from_cli(conn: &mut DbConnection, email: &str) -> Result<(), AppError> {
    let email = crate::domain::account::normalize_email(email).map_err(|m| FieldErrors::single("--email", m))?;
    // The first start and the command line run on the system's clock.
    let at = crate::clock::Clock::real().now();
    db::write_tx(conn, |conn| {
        let user = db::users::find_by_email(conn, &email)?
            .ok_or_else(|| FieldErrors::single("--email", format!("no user has the email {email}")))?;
        clear_factors(conn, user.id)?;
        audit::record(
            conn,
            Entry {
                org_id: Some(user.org_id),
                actor_user_id: None,
                action: "second_factor.reset",
                object_type: "user",
                object_id: Some(user.id.to_string()),
                detail: format!("all factors of {} from the command line", user.email),
                ip: None,
            },
            at,
        )?;
        crate::service::access::security_notice::tell(
            conn,
            user.org_id,
            user.id,
            "Every second factor of your account was removed from the server's command line.",
            None,
            at,
        )?;
        Ok(())
    })
}
