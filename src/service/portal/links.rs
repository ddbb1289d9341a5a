//! One-time links to a payee's page: an invitation a staff member sends (72 hours) and a sign-in
//! link the payee asks for with their email (15 minutes). Both are used once and kept only as
//! their SHA-256; opening one starts a payee session. The emails are the outbound room's.

use chrono::NaiveDateTime;

use crate::crypto;
use crate::db::payees::PayeeRow;
use crate::db::portal::NewPayeeLink;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::normalize_email;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

pub const INVITE_HOURS: i64 = 72;
pub const SIGN_IN_MINUTES: i64 = 15;
/// Sign-in links one payee may be sent in an hour: the form answers the same either way.
const SIGN_IN_LINKS_PER_HOUR: i64 = 5;
/// How long a payee stays signed in.
pub const SESSION_HOURS: i64 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    SignIn,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::SignIn => "sign_in",
        }
    }
}

/// A link made: the token its URL carries (sent once, never stored) and whom it is for.
pub struct Issued {
    pub token: String,
    pub purpose: Purpose,
    pub payee: PayeeRow,
    pub org_name: String,
    pub expires_at: NaiveDateTime,
}

fn issue(
    conn: &mut DbConnection,
    payee: PayeeRow,
    purpose: Purpose,
    by: Option<i64>,
    at: NaiveDateTime,
) -> Result<Issued, AppError> {
    let token = crypto::random_hex(32);
    let expires_at = at
        + match purpose {
            Purpose::Invite => chrono::Duration::hours(INVITE_HOURS),
            Purpose::SignIn => chrono::Duration::minutes(SIGN_IN_MINUTES),
        };
    db::portal::insert_link(
        conn,
        &NewPayeeLink {
            org_id: payee.org_id,
            payee_id: payee.id,
            purpose: purpose.as_str(),
            token_hash: &crypto::sha256_hex(token.as_bytes()),
            created_by: by,
            created_at: at,
            expires_at,
        },
    )?;
    let org_name = db::orgs::find(conn, payee.org_id)?.name;
    Ok(Issued { token, purpose, payee, org_name, expires_at })
}

/// A staff member who manages payees invites one to their page. Inside the caller's
/// transaction, which queues the email.
pub fn invite_in_tx(
    conn: &mut DbConnection,
    actor: &Actor,
    payee_id: i64,
    at: NaiveDateTime,
) -> Result<Issued, AppError> {
    actor.require(crate::service::payees::can_manage)?;
    let payee = db::payees::lock_in_org(conn, actor.org_id, payee_id)?.ok_or(AppError::NotFound)?;
    if payee.archived {
        return Err(AppError::Conflict("This payee is archived; restore them before inviting them.".into()));
    }
    if payee.email.is_empty() {
        return Err(FieldErrors::single("email", "Add the payee's email first: the invitation is sent there.").into());
    }
    let issued = issue(conn, payee, Purpose::Invite, Some(actor.user_id), at)?;
    audit::record(
        conn,
        Entry::by(actor, "payee.invited", "payee", payee_id)
            .detail(format!("{} <{}>, valid {INVITE_HOURS} hours", issued.payee.name, issued.payee.email)),
        at,
    )?;
    Ok(issued)
}

/// A link for the payee of a claim, sent with the claim's email and its reminders: an invitation
/// made by nobody (72 hours). None when the payee cannot be written to (archived, or no email).
pub fn claim_in_tx(
    conn: &mut DbConnection,
    org_id: i64,
    payee_id: i64,
    at: NaiveDateTime,
) -> Result<Option<Issued>, AppError> {
    let Some(payee) = db::payees::find_in_org(conn, org_id, payee_id)? else { return Ok(None) };
    if payee.archived || payee.email.is_empty() {
        return Ok(None);
    }
    Ok(Some(issue(conn, payee, Purpose::Invite, None, at)?))
}

/// Someone asks for a sign-in link for `email`: one link per payee with that email (in any
/// organization), at most a few an hour each. The answer is the same whether or not any payee
/// has the address; malformed input is named.
pub fn sign_in_links_in_tx(conn: &mut DbConnection, email: &str, at: NaiveDateTime) -> Result<Vec<Issued>, AppError> {
    let email = normalize_email(email).map_err(|m| FieldErrors::single("email", m))?;
    let mut out = Vec::new();
    for found in db::payees::with_email(conn, &email)? {
        // The payee's row is the lock under which links are counted: two requests at the same
        // instant take turns.
        let Some(payee) = db::payees::lock_in_org(conn, found.org_id, found.id)? else { continue };
        if db::portal::links_since(conn, payee.id, at - chrono::Duration::hours(1))? >= SIGN_IN_LINKS_PER_HOUR {
            continue;
        }
        out.push(issue(conn, payee, Purpose::SignIn, None, at)?);
    }
    Ok(out)
}

/// What opening a link gives: a new session's token (for the cookie) and whom it speaks for.
pub struct Opened {
    pub session_token: String,
    pub payee_name: String,
}

const LINK_REFUSED: &str =
    "This link has expired or was used already. Ask for a new sign-in link with your email below.";

/// Uses a link once and starts a session for its payee.
pub fn open(conn: &mut DbConnection, token: &str, at: NaiveDateTime) -> Result<Opened, AppError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::Conflict(LINK_REFUSED.into()));
    }
    let hash = crypto::sha256_hex(token.as_bytes());
    db::write_tx(conn, |conn| {
        let link = db::portal::find_link(conn, &hash)?.ok_or_else(|| AppError::Conflict(LINK_REFUSED.into()))?;
        if !db::portal::use_link(conn, link.id, at)? {
            return Err(AppError::Conflict(LINK_REFUSED.into()));
        }
        let payee = db::payees::find_in_org(conn, link.org_id, link.payee_id)?.ok_or(AppError::NotFound)?;
        if payee.archived {
            return Err(AppError::Conflict(LINK_REFUSED.into()));
        }
        let session_token = crypto::random_hex(32);
        db::portal::insert_session(
            conn,
            &crypto::sha256_hex(session_token.as_bytes()),
            payee.org_id,
            payee.id,
            at,
            at + chrono::Duration::hours(SESSION_HOURS),
        )?;
        Ok(Opened { session_token, payee_name: payee.name })
    })
}

/// Whether a link token names a link that can still be opened (the page before Continue).
pub fn is_open(conn: &mut DbConnection, token: &str, at: NaiveDateTime) -> Result<bool, AppError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let link = db::portal::find_link(conn, &crypto::sha256_hex(token.as_bytes()))?;
    Ok(link.is_some_and(|l| l.used_at.is_none() && l.expires_at > at))
}
