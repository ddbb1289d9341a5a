//! API keys: created by an admin (or the CLI) for an existing user, shown once, stored as a
//! SHA-256, revocable, with scopes the user's role allows.

use chrono::NaiveDateTime;

use crate::clock::Clock;
use crate::crypto;
use crate::db::api::{ApiKeyRow, NewApiKey};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::{Role, Scope};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

/// A signed-in API caller.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub actor: Actor,
    pub scopes: Vec<Scope>,
    pub key_id: i64,
}

impl ApiCaller {
    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AppError::NotAllowed(format!("This API key lacks the `{}` scope.", scope.as_str())))
        }
    }
}

const PREFIX_LEN: usize = 11;

/// Creates a key; returns it with the plaintext, which is never stored.
fn create(
    conn: &mut DbConnection,
    org_id: i64,
    user_id: i64,
    name: &str,
    scopes: &[Scope],
    created_by: Option<i64>,
    at: NaiveDateTime,
) -> Result<(ApiKeyRow, String), AppError> {
    let user = db::users::find_in_org(conn, org_id, user_id)?.ok_or(AppError::NotFound)?;
    let role = Role::parse(&user.role).unwrap_or(Role::Viewer);
    let mut errors = FieldErrors::new();
    if user.disabled {
        errors.add("user", "This user is disabled.");
    }
    if scopes.is_empty() {
        errors.add("scopes", "Choose at least one scope: read, create or approve.");
    }
    for s in scopes.iter().filter(|s| !s.allowed_for(role)) {
        errors.add("scopes", format!("A {} cannot hold the `{}` scope.", role.label().to_lowercase(), s.as_str()));
    }
    let name = name.trim();
    if name.chars().count() > 100 {
        errors.add("name", "At most 100 characters.");
    }
    errors.into_result(())?;
    let key = format!("pk_{}", crypto::random_hex(24));
    let scope_list: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let row = db::api::insert_key(
        conn,
        &NewApiKey {
            org_id,
            user_id,
            name: if name.is_empty() { "API key" } else { name },
            prefix: &key[..PREFIX_LEN],
            key_hash: &crypto::sha256_hex(key.as_bytes()),
            scopes: &scope_list.join(","),
            created_by,
            created_at: at,
        },
    )?;
    Ok((row, key))
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

pub fn create_by_admin(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    user_id: i64,
    scopes: &[String],
) -> Result<(ApiKeyRow, String), AppError> {
    actor.require(Role::can_administer)?;
    let scopes = Scope::parse_list(&scopes.join(","))
        .map_err(|n| FieldErrors::single("scopes", format!("Unknown scope {n}.")))?;
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Creating an API key")?;
        let (row, key) = create(conn, actor.org_id, user_id, name, &scopes, Some(actor.user_id), actor.now())?;
        let what =
            format!("An API key ({}, {}) was created for your account by {}.", row.prefix, row.scopes, actor.email);
        crate::service::access::security_notice::tell(
            conn,
            actor.org_id,
            user_id,
            &what,
            actor.ip.as_deref(),
            actor.now(),
        )?;
        audit::record(
            conn,
            Entry::by(actor, "api_key.created", "api_key", row.id)
                .detail(format!("{} ({}) for user {}", row.prefix, row.scopes, user_id)),
            actor.now(),
        )?;
        Ok((row, key))
    })
}

/// `payouts api-key create`: for an existing user, by email.
pub fn create_from_cli(conn: &mut DbConnection, email: &str, scopes: &str, name: &str) -> Result<String, AppError> {
    let scopes = Scope::parse_list(scopes)
        .map_err(|n| FieldErrors::single("--scopes", format!("unknown scope {n}; use read, create, approve")))?;
    let user = db::users::find_by_email(conn, &email.trim().to_lowercase())?
        .ok_or_else(|| FieldErrors::single("--email", "no user has this email"))?;
    // The command line runs on the system's clock.
    let at = Clock::real().now();
    db::write_tx(conn, |conn| {
        let (row, key) = create(conn, user.org_id, user.id, name, &scopes, None, at)?;
        let what = format!(
            "An API key ({}, {}) was created for your account from the server's command line.",
            row.prefix, row.scopes
        );
        crate::service::access::security_notice::tell(conn, user.org_id, user.id, &what, None, at)?;
        let entry = Entry {
            org_id: Some(user.org_id),
            actor_user_id: None,
            action: "api_key.created",
            object_type: "api_key",
            object_id: Some(row.id.to_string()),
            detail: format!("{} ({}) for {} from the command line", row.prefix, row.scopes, user.email),
            ip: None,
        };
        audit::record(conn, entry, at)?;
        Ok(key)
    })
}

pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<ApiKeyRow>, AppError> {
    actor.require(Role::can_administer)?;
    Ok(db::api::list(conn, actor.org_id)?)
}

pub fn revoke(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Revoking an API key")?;
        if !db::api::revoke(conn, actor.org_id, id, actor.now())? {
            return Err(AppError::NotFound);
        }
        audit::record(conn, Entry::by(actor, "api_key.revoked", "api_key", id), actor.now())?;
        Ok(())
    })
}

/// The caller a bearer key names, or None for an unknown, revoked or disabled one; it acts by
/// `clock` (the app's).
pub fn authenticate(conn: &mut DbConnection, key: &str, clock: &Clock) -> Result<Option<ApiCaller>, AppError> {
    let Some((row, user)) = db::api::find_with_user(conn, &crypto::sha256_hex(key.as_bytes()))? else {
        return Ok(None);
    };
    if row.revoked_at.is_some() {
        return Ok(None);
    }
    let Some(role) = Role::parse(&user.role).filter(|_| !user.disabled) else {
        return Ok(None);
    };
    let at = clock.now();
    // A write per minute at most: "last used" needs no finer clock.
    if row.last_used_at.is_none_or(|t| (at - t).num_seconds() >= 60) {
        db::api::touch(conn, row.id, at)?;
    }
    let scopes =
        Scope::parse_list(&row.scopes).unwrap_or_default().into_iter().filter(|s| s.allowed_for(role)).collect();
    let actor = Actor { via_api: true, ..Actor::of_user(user, role).with_clock(clock.clone()) };
    Ok(Some(ApiCaller { actor, scopes, key_id: row.id }))
}
