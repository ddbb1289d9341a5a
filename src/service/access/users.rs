//! Users of an organization: adding them, their roles, disabling them.

use chrono::NaiveDateTime;

use crate::crypto;
use crate::db::models::{NewUserRow, UserRow};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::{Role, check_new_password, normalize_email};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

#[derive(Debug, Clone)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl From<UserRow> for UserView {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            role: Role::parse(&r.role).unwrap_or(Role::Viewer),
            email: r.email,
            disabled: r.disabled,
            last_login_at: r.last_login_at,
            created_at: r.created_at,
        }
    }
}

/// What an admin types to add a user; strings as typed, checked by [`NewUser::parse`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
}

pub struct NewUser {
    pub email: String,
    pub role: Role,
    pub password: String,
}

impl NewUser {
    pub fn parse(form: &NewUserForm) -> Result<NewUser, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = normalize_email(&form.email).map_err(|m| errors.add("email", m)).ok();
        let role = Role::parse(&form.role);
        if role.is_none() {
            errors.add("role", "Choose a role: admin, manager, accountant or viewer.");
        }
        if let Err(m) = check_new_password(&form.password) {
            errors.add("password", m);
        }
        errors.into_result(())?;
        Ok(NewUser { email: email.expect("checked"), role: role.expect("checked"), password: form.password.clone() })
    }
}

pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<UserView>, AppError> {
    actor.require(Role::can_administer)?;
    Ok(db::users::list_in_org(conn, actor.org_id)?.into_iter().map(UserView::from).collect())
}

/// Emails of the enabled users of the organization who hold one of `roles`, so a page that
/// refuses someone can say whom to ask.
pub fn who_can_any(conn: &mut DbConnection, org_id: i64, roles: &[Role]) -> Result<Vec<String>, AppError> {
    Ok(db::users::list_in_org(conn, org_id)?
        .into_iter()
        .filter(|u| !u.disabled && Role::parse(&u.role).is_some_and(|r| roles.contains(&r)))
        .map(|u| u.email)
        .collect())
}

/// Inserts a user, turning a taken email into a field error. The caller holds the transaction
/// and has hashed the password before opening it (argon2 must not hold SQLite's write lock).
pub(crate) fn insert_user(
    conn: &mut DbConnection,
    org_id: i64,
    user: &NewUser,
    password_hash: &str,
    at: NaiveDateTime,
) -> Result<UserRow, AppError> {
    db::users::insert(
        conn,
        &NewUserRow {
            org_id,
            email: &user.email,
            password_hash,
            role: user.role.as_str(),
            disabled: false,
            failed_logins: 0,
            created_at: at,
        },
    )
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            FieldErrors::single("email", "A user with this email already exists.").into()
        } else {
            AppError::from(e)
        }
    })
}

pub fn add(conn: &mut DbConnection, actor: &Actor, form: &NewUserForm) -> Result<UserView, AppError> {
    actor.require(Role::can_administer)?;
    let new_user = NewUser::parse(form)?;
    let hash = crypto::hash_password(&new_user.password);
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let row = insert_user(conn, actor.org_id, &new_user, &hash, at)?;
        audit::record(
            conn,
            Entry::by(actor, "user.added", "user", row.id).detail(format!("{} as {}", row.email, row.role)),
            at,
        )?;
        Ok(UserView::from(row))
    })
}

/// Loads a user of the actor's organization for a change by an admin, refusing changes to
/// oneself: an admin who demotes or disables themself by mistake cannot undo it.
fn load_other_user(conn: &mut DbConnection, actor: &Actor, user_id: i64) -> Result<UserRow, AppError> {
    actor.require(Role::can_administer)?;
    let user = db::users::find_in_org(conn, actor.org_id, user_id)?.ok_or(AppError::NotFound)?;
    if user.id == actor.user_id {
        return Err(AppError::Conflict(
            "You cannot change your own role or disable yourself; ask another admin.".into(),
        ));
    }
    Ok(user)
}

pub fn change_role(conn: &mut DbConnection, actor: &Actor, user_id: i64, role: &str) -> Result<UserView, AppError> {
    let role = Role::parse(role)
        .ok_or_else(|| FieldErrors::single("role", "Choose a role: admin, manager, accountant or viewer."))?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let user = load_other_user(conn, actor, user_id)?;
        if user.role == role.as_str() {
            return Ok(UserView::from(user));
        }
        db::users::set_role(conn, user.id, role.as_str())?;
        audit::record(
            conn,
            Entry::by(actor, "user.role_changed", "user", user.id).detail(format!(
                "{}: {} → {}",
                user.email,
                user.role,
                role.as_str()
            )),
            at,
        )?;
        let updated = db::users::find_in_org(conn, actor.org_id, user.id)?.ok_or(AppError::NotFound)?;
        Ok(UserView::from(updated))
    })
}

/// Disabling ends the user's sessions at once.
pub fn set_disabled(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    disabled: bool,
) -> Result<UserView, AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let user = load_other_user(conn, actor, user_id)?;
        if user.disabled == disabled {
            return Ok(UserView::from(user));
        }
        db::users::set_disabled(conn, user.id, disabled)?;
        if disabled {
            db::sessions::delete_for_user(conn, user.id)?;
            db::invitations::void_resets(conn, user.id, &user.email, at)?;
        }
        let action = if disabled { "user.disabled" } else { "user.enabled" };
        audit::record(conn, Entry::by(actor, action, "user", user.id).detail(user.email.clone()), at)?;
        let updated = db::users::find_in_org(conn, actor.org_id, user.id)?.ok_or(AppError::NotFound)?;
        Ok(UserView::from(updated))
    })
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    pub current_password: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub password_again: String,
}

/// A person changes their own password, giving the current one: every other session of theirs
/// ends, and they are told by a security notice.
pub fn change_password(
    conn: &mut DbConnection,
    actor: &Actor,
    session_id: i64,
    form: &PasswordForm,
) -> Result<(), AppError> {
    let user = db::users::find(conn, actor.user_id)?;
    if !crypto::verify_password(&form.current_password, &user.password_hash) {
        return Err(FieldErrors::single("current_password", "This is not your current password.").into());
    }
    crate::domain::account::check_chosen_password(&form.password, &form.password_again)?;
    let hash = crypto::hash_password(&form.password);
    let at = actor.now();
    db::write_tx(conn, |conn| {
        db::users::set_password(conn, user.id, &hash)?;
        db::invitations::void_resets(conn, user.id, &user.email, at)?;
        let ended = db::sessions::delete_others(conn, user.id, session_id)?;
        audit::record(
            conn,
            Entry::by(actor, "user.password_changed", "user", user.id).detail(format!("{ended} other sessions ended")),
            at,
        )?;
        crate::service::access::security_notice::tell(
            conn,
            user.org_id,
            user.id,
            "Your password was changed, and your other sessions were ended.",
            actor.ip.as_deref(),
            at,
        )
    })
}
