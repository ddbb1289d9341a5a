//! Security keys and passkeys (WebAuthn, `webauthn-rs`) as a second factor beside the
//! authenticator app: registering, naming and removing them, and a key touch for the second step
//! of signing in or for a step-up.
//!
//! Each ceremony is two requests: the server's challenge, then the browser's signed answer. The
//! challenge's state is kept in the session row (not in one process's memory, as several server
//! processes share the database) and taken once, so an answer cannot be replayed.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::crypto;
use crate::db::security_keys::KeyRow;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::access::second_factor::{
    self, Refusal, new_recovery_codes, policy, require_fresh, sign_in_with, step_up_with,
};
use crate::service::access::sessions::SessionUser;

/// A person may register this many keys (each is checked on every key sign-in).
pub const MAX_KEYS: usize = 10;
const NAME_MAX: usize = 60;
/// How long the browser has to answer a challenge (the WebAuthn default timeout).
fn ceremony_valid() -> chrono::Duration {
    chrono::Duration::minutes(5)
}

const WRONG_KEY: &str = "The security key's answer was not accepted (another key, a cancelled prompt, or an answer \
     that came too late). Try again.";

/// The relying party: the dashboard's host name and origin, from `--public-url`.
pub fn relying_party(public_url: &Url) -> Result<Webauthn, String> {
    let host = public_url.host_str().ok_or("the public URL has no host")?;
    WebauthnBuilder::new(host, public_url)
        .and_then(|b| b.rp_name("Payouts").build())
        .map_err(|e| format!("security keys cannot be set up for {public_url}: {e}"))
}

#[derive(Serialize, Deserialize)]
enum Ceremony {
    Register(SecurityKeyRegistration),
    Authenticate(SecurityKeyAuthentication),
}

#[derive(Serialize, Deserialize)]
struct Stored {
    started_at: NaiveDateTime,
    ceremony: Ceremony,
}

fn keep(conn: &mut DbConnection, session_id: i64, ceremony: Ceremony, at: NaiveDateTime) -> Result<(), AppError> {
    let stored = serde_json::to_string(&Stored { started_at: at, ceremony })
        .map_err(|e| AppError::Internal(format!("ceremony state: {e}")))?;
    Ok(db::security_keys::put_ceremony(conn, session_id, &stored)?)
}

/// The session's ceremony under way, taken once; None when there is none, it has expired, or
/// it is not readable (a state written by another version).
fn take(conn: &mut DbConnection, session_id: i64, at: NaiveDateTime) -> Result<Option<Ceremony>, AppError> {
    let Some(text) = db::security_keys::take_ceremony(conn, session_id)? else {
        return Ok(None);
    };
    Ok(serde_json::from_str::<Stored>(&text).ok().filter(|s| at - s.started_at <= ceremony_valid()).map(|s| s.ceremony))
}

/// The opaque user handle a key stores: derived from the user id with the instance secret, so it
/// does not give the id away.
fn user_handle(secret: &[u8], user_id: i64) -> Uuid {
    let digest = crypto::hmac_sha256_hex(secret, format!("webauthn-user:{user_id}").as_bytes());
    let bytes = hex::decode(&digest[..32]).unwrap_or_default();
    Uuid::from_slice(&bytes).unwrap_or_default()
}

fn credential_of(row: &KeyRow) -> Option<SecurityKey> {
    serde_json::from_str(&row.credential).ok()
}

pub fn list(conn: &mut DbConnection, user_id: i64) -> Result<Vec<KeyRow>, AppError> {
    Ok(db::security_keys::list(conn, user_id)?)
}

/// Starts registering a key: the options for `navigator.credentials.create`. Someone who has a
/// factor already proves it is them first (a step-up), as for any change to their factors.
pub fn begin_registration(
    conn: &mut DbConnection,
    webauthn: &Webauthn,
    actor: &Actor,
    session_id: i64,
    secret: &[u8],
) -> Result<CreationChallengeResponse, AppError> {
    db::write_tx(conn, |conn| {
        require_fresh(conn, actor, "Adding a security key")?;
        let user = db::users::find(conn, actor.user_id)?;
        let keys = db::security_keys::list(conn, user.id)?;
        if keys.len() >= MAX_KEYS {
            return Err(AppError::Conflict(format!(
                "You have {MAX_KEYS} security keys, the most one person may have. Remove one you no longer use first."
            )));
        }
        let exclude = keys.iter().filter_map(credential_of).map(|k| k.cred_id().clone()).collect();
        let (challenge, state) = webauthn
            .start_securitykey_registration(
                user_handle(secret, user.id),
                &user.email,
                &user.email,
                Some(exclude),
                None,
                None,
            )
            .map_err(|e| AppError::Internal(format!("security key registration: {e}")))?;
        keep(conn, session_id, Ceremony::Register(state), actor.now())?;
        Ok(challenge)
    })
}

fn key_name(name: &str, count: usize) -> Result<String, FieldErrors> {
    let name = name.trim();
    if name.chars().count() > NAME_MAX {
        return Err(FieldErrors::single("name", format!("Name the key in at most {NAME_MAX} characters.")));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldErrors::single("name", "The name cannot contain control characters."));
    }
    Ok(if name.is_empty() { format!("Security key {}", count + 1) } else { name.to_owned() })
}

fn answer<T: serde::de::DeserializeOwned>(credential: &str, field: &str) -> Result<T, AppError> {
    if credential.trim().is_empty() {
        return Err(FieldErrors::single(
            field,
            "Your browser sent no answer from a security key. Security keys need JavaScript and a browser that \
             supports them; touch the key when the browser asks.",
        )
        .into());
    }
    serde_json::from_str(credential).map_err(|_| {
        FieldErrors::single(field, "The browser's answer from the security key is not readable. Try again.").into()
    })
}

/// What registering a key gave: its name, and recovery codes when it is the person's first factor
/// (shown once).
pub struct Registered {
    pub name: String,
    pub recovery_codes: Vec<String>,
}

/// Finishes registering a key with the browser's answer. The session that registered a first
/// factor counts as having passed it, as after confirming an authenticator.
pub fn finish_registration(
    conn: &mut DbConnection,
    webauthn: &Webauthn,
    actor: &Actor,
    session_id: i64,
    name: &str,
    credential: &str,
) -> Result<Registered, AppError> {
    let at = actor.now();
    let existing = db::security_keys::list(conn, actor.user_id)?.len();
    let name = key_name(name, existing)?;
    let answer: RegisterPublicKeyCredential = answer(credential, "credential")?;
    db::write_tx(conn, |conn| {
        let Some(Ceremony::Register(state)) = take(conn, session_id, actor.now())? else {
            return Err(FieldErrors::single(
                "credential",
                "No key registration was under way, or it took longer than five minutes. Start again.",
            )
            .into());
        };
        let key = webauthn.finish_securitykey_registration(&answer, &state).map_err(|e| {
            tracing::info!(user = actor.user_id, "security key registration refused: {e}");
            FieldErrors::single("credential", "The security key's answer could not be verified. Try again.")
        })?;
        let first = !second_factor::factors(conn, actor.user_id)?.any();
        let stored = serde_json::to_string(&key).map_err(|e| AppError::Internal(format!("credential: {e}")))?;
        if !db::security_keys::insert(conn, actor.user_id, &name, &hex::encode(key.cred_id()), &stored, at)? {
            return Err(FieldErrors::single("credential", "This security key is registered already.").into());
        }
        let recovery_codes = if first {
            db::factors::session_second_factor(conn, session_id, at)?;
            new_recovery_codes(conn, actor.user_id)?
        } else {
            Vec::new()
        };
        audit::record(conn, Entry::by(actor, "second_factor.key_added", "user", actor.user_id).detail(&name), at)?;
        let what = format!("A security key ({name}) was added to your account.");
        crate::service::access::security_notice::tell(
            conn,
            actor.org_id,
            actor.user_id,
            &what,
            actor.ip.as_deref(),
            at,
        )?;
        Ok(Registered { name, recovery_codes })
    })
}

/// Starts a key touch (sign-in or step-up): the options for `navigator.credentials.get`.
pub fn begin_authentication(
    conn: &mut DbConnection,
    webauthn: &Webauthn,
    user_id: i64,
    session_id: i64,
    at: NaiveDateTime,
) -> Result<RequestChallengeResponse, AppError> {
    let keys: Vec<SecurityKey> = db::security_keys::list(conn, user_id)?.iter().filter_map(credential_of).collect();
    if keys.is_empty() {
        return Err(AppError::Conflict("You have no security key.".into()));
    }
    let (challenge, state) = webauthn
        .start_securitykey_authentication(&keys)
        .map_err(|e| AppError::Internal(format!("security key authentication: {e}")))?;
    keep(conn, session_id, Ceremony::Authenticate(state), at)?;
    Ok(challenge)
}

/// Checks the browser's answer against the challenge the session took: the key's name when one of
/// the user's keys signed it. Its signature counter is stored, so a cloned key's stale counter is
/// refused next time.
fn key_accepts(
    conn: &mut DbConnection,
    webauthn: &Webauthn,
    user_id: i64,
    session_id: i64,
    answer: Option<&PublicKeyCredential>,
    at: NaiveDateTime,
) -> Result<Option<String>, AppError> {
    let Some(Ceremony::Authenticate(state)) = take(conn, session_id, at)? else {
        return Ok(None);
    };
    let Some(answer) = answer else {
        return Ok(None);
    };
    let result = match webauthn.finish_securitykey_authentication(answer, &state) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(user = user_id, "security key answer refused: {e}");
            return Ok(None);
        }
    };
    for row in db::security_keys::list(conn, user_id)? {
        let Some(mut key) = credential_of(&row) else { continue };
        if let Some(changed) = key.update_credential(&result) {
            let stored = changed.then(|| serde_json::to_string(&key)).transpose();
            let stored = stored.map_err(|e| AppError::Internal(format!("credential: {e}")))?;
            db::security_keys::used(conn, row.id, stored.as_deref(), at)?;
            return Ok(Some(row.name));
        }
    }
    Ok(None)
}

/// The second step of signing in with a key. Counts toward the lockout like a code.
pub fn sign_in(
    conn: &mut DbConnection,
    webauthn: &Webauthn,
    session: &SessionUser,
    credential: &str,
    ip: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let answer = serde_json::from_str::<PublicKeyCredential>(credential).ok();
    let wrong = Refusal { field: "key", message: WRONG_KEY, noun: "security key answer" };
    sign_in_with(conn, session, ip, wrong, at, |conn, user, at| {
        let name = key_accepts(conn, webauthn, user.id, session.session_id, answer.as_ref(), at)?;
        Ok(name.map(|n| format!("the security key {n}")))
    })
}

/// A step-up with a key touch: the session may approve and change settings for five minutes.
pub fn step_up(
    conn: &mut DbConnection,
    webauthn: &Webauthn,
    user_id: i64,
    session_id: i64,
    credential: &str,
    at: NaiveDateTime,
) -> Result<NaiveDateTime, AppError> {
    let answer = serde_json::from_str::<PublicKeyCredential>(credential).ok();
    let user = db::users::find(conn, user_id)?;
    step_up_with(conn, &user, Some(session_id), at, |conn, at| {
        Ok(key_accepts(conn, webauthn, user_id, session_id, answer.as_ref(), at)?.is_some())
    })?
    .ok_or_else(|| FieldErrors::single("key", WRONG_KEY).into())
}

/// Removes one of the person's keys after a step-up. Where the policy requires a factor, the
/// last one cannot be removed; with no factor left the recovery codes go too.
pub fn remove(conn: &mut DbConnection, actor: &Actor, key_id: i64) -> Result<String, AppError> {
    let at = actor.now();
    db::write_tx(conn, |conn| {
        require_fresh(conn, actor, "Removing a security key")?;
        let keys = db::security_keys::list(conn, actor.user_id)?;
        let key = keys.iter().find(|k| k.id == key_id).ok_or(AppError::NotFound)?;
        let user = db::users::find(conn, actor.user_id)?;
        let last = keys.len() == 1 && user.totp_enabled_at.is_none();
        if last && policy(conn, actor.org_id)?.factors.requires(actor.role) {
            return Err(AppError::NotAllowed(
                "Your organization requires a second factor for your role: set up an authenticator app or add \
                 another key before removing this one."
                    .into(),
            ));
        }
        db::security_keys::delete(conn, actor.user_id, key.id)?;
        if last {
            db::factors::delete_recovery_codes(conn, actor.user_id)?;
        }
        audit::record(
            conn,
            Entry::by(actor, "second_factor.key_removed", "user", actor.user_id).detail(&key.name),
            at,
        )?;
        let what = format!("The security key {} was removed from your account.", key.name);
        crate::service::access::security_notice::tell(
            conn,
            actor.org_id,
            actor.user_id,
            &what,
            actor.ip.as_deref(),
            at,
        )?;
        Ok(key.name.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_differ_by_user_and_secret_and_hide_the_id() {
        let a = user_handle(b"secret one", 1);
        assert_eq!(a, user_handle(b"secret one", 1));
        assert_ne!(a, user_handle(b"secret one", 2));
        assert_ne!(a, user_handle(b"secret two", 1));
        assert!(!a.as_bytes().iter().all(|b| *b == 0));
    }

    #[test]
    fn key_names_are_trimmed_bounded_and_default_to_a_number() {
        assert_eq!(key_name("  YubiKey 5C ", 0).unwrap(), "YubiKey 5C");
        assert_eq!(key_name("", 2).unwrap(), "Security key 3");
        assert!(key_name(&"x".repeat(61), 0).is_err());
        assert!(key_name("a\u{7}b", 0).is_err());
    }

    #[test]
    fn the_relying_party_is_the_public_host() {
        assert!(relying_party(&Url::parse("http://localhost:8080").unwrap()).is_ok());
        assert!(relying_party(&Url::parse("https://pay.example.com").unwrap()).is_ok());
    }
}
