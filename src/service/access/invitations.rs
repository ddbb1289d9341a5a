//! Invitations: an admin names an email and a role; the invited person opens a one-time link
//! (72 hours, kept only as its SHA-256) and chooses their password. The email itself is the
//! outbound room's to send.

use chrono::NaiveDateTime;

use crate::crypto;
use crate::db::invitations::{InvitationRow, NewInvitation};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::{Role, check_chosen_password, normalize_email};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::access::users::{NewUser, insert_user};

pub const VALID_HOURS: i64 = 72;

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
}

/// A new invitation and the one-time token its link carries (shown or sent once, never stored).
pub struct Issued {
    pub invitation: InvitationRow,
    pub token: String,
    pub org_name: String,
    pub invited_by: String,
}

fn parse(form: &InviteForm) -> Result<(String, Role), FieldErrors> {
    let mut errors = FieldErrors::new();
    let email = normalize_email(&form.email).map_err(|m| errors.add("email", m)).ok();
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.add("role", "Choose a role: admin, manager, accountant or viewer.");
    }
    errors.into_result(())?;
    Ok((email.expect("checked"), role.expect("checked")))
}

/// Invites `email` as `role` into the actor's organization (an admin), or, from the command line,
/// into `org_id`. Any earlier open invitation for the address ends. The caller holds the
/// transaction and queues the email in it.
pub fn invite_in_tx(
    conn: &mut DbConnection,
    org_id: i64,
    by: Option<&Actor>,
    form: &InviteForm,
    at: NaiveDateTime,
) -> Result<Issued, AppError> {
    if let Some(actor) = by {
        actor.require(Role::can_administer)?;
    }
    let (email, role) = parse(form)?;
    if db::users::find_by_email(conn, &email)?.is_some() {
        return Err(FieldErrors::single("email", "A user with this email already exists.").into());
    }
    db::invitations::revoke_for_email(conn, &email, at)?;
    let token = crypto::random_hex(32);
    let row = db::invitations::insert(
        conn,
        &NewInvitation {
            org_id,
            email: &email,
            role: role.as_str(),
            token_hash: &crypto::sha256_hex(token.as_bytes()),
            invited_by: by.map(|a| a.user_id),
            created_at: at,
            expires_at: at + chrono::Duration::hours(VALID_HOURS),
        },
    )?;
    let entry = match by {
        Some(actor) => Entry::by(actor, "user.invited", "invitation", row.id),
        None => Entry {
            org_id: Some(org_id),
            actor_user_id: None,
            action: "user.invited",
            object_type: "invitation",
            object_id: Some(row.id.to_string()),
            detail: String::new(),
            ip: None,
        },
    };
    audit::record(conn, entry.detail(format!("{email} as {}", role.as_str())), at)?;
    let org_name = db::orgs::find(conn, org_id)?.name;
    Ok(Issued {
        invitation: row,
        token,
        org_name,
        invited_by: by.map_or_else(|| "the server's administrator".into(), |a| a.email.clone()),
    })
}

/// Open invitations of the actor's organization (admins).
pub fn pending(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<InvitationRow>, AppError> {
    actor.require(Role::can_administer)?;
    Ok(db::invitations::open_in_org(conn, actor.org_id, actor.now())?)
}

pub fn revoke(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        if !db::invitations::revoke(conn, actor.org_id, id, at)? {
            return Err(AppError::NotFound);
        }
        audit::record(conn, Entry::by(actor, "user.invitation_revoked", "invitation", id), at)?;
        Ok(())
    })
}

/// The invitation a link opens, while it is open (the page asks for a password).
pub fn open(conn: &mut DbConnection, token: &str, at: NaiveDateTime) -> Result<InvitationRow, AppError> {
    let row = db::invitations::by_token_hash(conn, &crypto::sha256_hex(token.as_bytes()))?.ok_or(AppError::NotFound)?;
    if row.accepted_at.is_some() || row.revoked_at.is_some() || row.expires_at <= at {
        return Err(AppError::Conflict(
            "This invitation link was used, revoked or has expired; ask an admin for a new one.".into(),
        ));
    }
    Ok(row)
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub password_again: String,
}

/// Uses the link: the account is made with the chosen password. Works once, however many tabs
/// submit at the same instant.
pub fn accept(conn: &mut DbConnection, token: &str, form: &AcceptForm, at: NaiveDateTime) -> Result<String, AppError> {
    let row = open(conn, token, at)?;
    check_chosen_password(&form.password, &form.password_again)?;
    let hash = crypto::hash_password(&form.password);
    let role = Role::parse(&row.role).ok_or_else(|| AppError::Internal(format!("invitation {}: role", row.id)))?;
    db::write_tx(conn, |conn| {
        if !db::invitations::accept(conn, row.id, at)? {
            return Err(AppError::Conflict("This invitation link was just used; sign in instead.".into()));
        }
        let user = NewUser { email: row.email.clone(), role, password: String::new() };
        let created = insert_user(conn, row.org_id, &user, &hash, at).map_err(|e| match e {
            // Someone added this address meanwhile (an admin with a password, another invitation).
            AppError::Validation(_) => {
                AppError::Conflict("An account with this email exists already; sign in instead.".into())
            }
            other => other,
        })?;
        audit::record(
            conn,
            Entry {
                org_id: Some(row.org_id),
                actor_user_id: Some(created.id),
                action: "user.added",
                object_type: "user",
                object_id: Some(created.id.to_string()),
                detail: format!("{} as {} by invitation {}", created.email, created.role, row.id),
                ip: None,
            },
            at,
        )?;
        Ok(created.email)
    })
}
