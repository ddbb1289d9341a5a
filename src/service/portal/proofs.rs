//! A payee gives an address and proves they control it: the address is checked as every address
//! is, a challenge naming the organization, the payee, the address, a nonce and an expiry is
//! made, the payee's wallet signs it, and the signature is checked by the address family's own
//! method (`domain::proof`). A proven address, or an unproven one where the organization allows
//! it, enters the book's change control: cooling-off, a manager's approval, lookalike and
//! sanctions checks. The approved address stays payable until a new one is approved.

use chrono::NaiveDateTime;

use super::PayeeActor;
use crate::crypto;
use crate::db::portal::{ChallengeRow, NewChallenge};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::asset::{self, Asset};
use crate::domain::proof::{self, Challenge, Method};
use crate::error::AppError;
use crate::service::payees::addresses::{EnteredBy, check_address, enter_address_by};

/// How long a payee has to sign a challenge.
pub const CHALLENGE_MINUTES: i64 = 30;
/// Challenges one payee may ask for in an hour.
const CHALLENGES_PER_HOUR: i64 = 20;

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AddressForm {
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub address: String,
}

/// A challenge as the payee's page shows it.
#[derive(Debug, Clone)]
pub struct ChallengeView {
    pub id: i64,
    pub asset: &'static Asset,
    pub address: String,
    pub message: String,
    pub method: Method,
    pub expires_at: NaiveDateTime,
    /// The organization lets payees submit an address without a signature.
    pub may_skip: bool,
}

/// The assets a payee may give an address for: those their organization pays out.
pub fn assets(conn: &mut DbConnection, who: &PayeeActor) -> Result<Vec<&'static Asset>, AppError> {
    crate::service::access::org_settings::enabled_assets(conn, who.org_id)
}

fn view(conn: &mut DbConnection, who: &PayeeActor, row: ChallengeRow) -> Result<ChallengeView, AppError> {
    let asset = asset::find(&row.asset).ok_or_else(|| AppError::Internal(format!("unknown asset {}", row.asset)))?;
    let may_skip = db::orgs::find(conn, who.org_id)?.payees_may_skip_proof;
    Ok(ChallengeView {
        id: row.id,
        asset,
        address: row.address,
        message: row.message,
        method: Method::of(asset.family),
        expires_at: row.expires_at,
        may_skip,
    })
}

const REFUSED: &str =
    "This address cannot be accepted. Give another address, or contact the organization that pays you.";

/// An admin lets payees submit addresses without a signature, or stops it: a weaker guard, so
/// after a fresh second factor, audited.
pub fn set_skip_allowed(
    conn: &mut DbConnection,
    actor: &crate::service::access::Actor,
    allowed: bool,
) -> Result<(), AppError> {
    actor.require(crate::domain::account::Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Changing how payees prove their addresses")?;
        let before = db::orgs::find(conn, actor.org_id)?.payees_may_skip_proof;
        if before != allowed {
            db::orgs::set_payees_may_skip_proof(conn, actor.org_id, allowed)?;
            let detail = if allowed { "addresses without a signature accepted" } else { "a signature required" };
            crate::service::access::audit::record(
                conn,
                crate::service::access::audit::Entry::by(actor, "settings.payee_proof", "organization", actor.org_id)
                    .detail(detail),
                at,
            )?;
        }
        Ok(())
    })
}

/// An admin turns receipts to payees on or off (audited).
pub fn set_receipts(conn: &mut DbConnection, actor: &crate::service::access::Actor, on: bool) -> Result<(), AppError> {
    actor.require(crate::domain::account::Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        if db::orgs::find(conn, actor.org_id)?.payee_receipts != on {
            db::orgs::set_payee_receipts(conn, actor.org_id, on)?;
            crate::service::access::audit::record(
                conn,
                crate::service::access::audit::Entry::by(
                    actor,
                    "settings.payee_receipts",
                    "organization",
                    actor.org_id,
                )
                .detail(if on { "on" } else { "off" }),
                at,
            )?;
        }
        Ok(())
    })
}

/// Checks the address and makes the challenge its wallet signs.
pub fn start(conn: &mut DbConnection, who: &PayeeActor, form: &AddressForm) -> Result<ChallengeView, AppError> {
    let (asset, address) = check_address(&form.asset, &form.address)?;
    let at = who.now();
    db::write_tx(conn, |conn| {
        if !assets(conn, who)?.iter().any(|a| a.code == asset.code) {
            return Err(
                FieldErrors::single("asset", "Your organization does not pay out this asset; choose another.").into()
            );
        }
        // A listed address is refused without saying which list (nothing to tip anyone off).
        if let Err(AppError::Validation(_)) =
            crate::service::compliance::refuse_listed(conn, &[(1, address.as_str())], at)
        {
            return Err(FieldErrors::single("address", REFUSED).into());
        }
        let payee = db::payees::lock_in_org(conn, who.org_id, who.payee_id)?.ok_or(AppError::NotFound)?;
        if db::portal::challenges_since(conn, payee.id, at - chrono::Duration::hours(1))? >= CHALLENGES_PER_HOUR {
            return Err(AppError::Conflict("Too many addresses started in the last hour; try again later.".into()));
        }
        let org = db::orgs::find(conn, who.org_id)?;
        let nonce = crypto::random_hex(16);
        let expires_at = at + chrono::Duration::minutes(CHALLENGE_MINUTES);
        let message = proof::message(&Challenge {
            org_id: org.id,
            org_name: &org.name,
            payee_id: payee.id,
            payee_name: &payee.name,
            network: asset.network,
            address: &address,
            nonce: &nonce,
            expires_at,
        });
        let row = db::portal::insert_challenge(
            conn,
            &NewChallenge {
                org_id: who.org_id,
                payee_id: payee.id,
                asset: asset.code,
                address: &address,
                nonce: &nonce,
                message: &message,
                created_at: at,
                expires_at,
            },
        )?;
        view(conn, who, row)
    })
}

/// One of the payee's own challenges (another payee's answers 404).
pub fn find(conn: &mut DbConnection, who: &PayeeActor, id: i64) -> Result<ChallengeView, AppError> {
    let row = db::portal::challenge_of(conn, who.payee_id, id)?.ok_or(AppError::NotFound)?;
    view(conn, who, row)
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ProofForm {
    #[serde(default)]
    pub signature: String,
    /// "yes": submit without a signature, where the organization allows it.
    #[serde(default)]
    pub unproven: String,
}

/// The proof kept with an address, as evidence for the managers who decide on it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub method: String,
    pub message: String,
    pub signature: String,
    pub at: String,
}

/// What became of a submitted address.
#[derive(Debug)]
pub struct Submitted {
    pub address_id: i64,
    pub proven: bool,
    pub asset: &'static Asset,
    pub address: String,
}

/// Checks the signature against the stored challenge and enters the address, once: an expired
/// or used challenge is refused, a wrong signature is named and the challenge stays open.
pub fn submit(conn: &mut DbConnection, who: &PayeeActor, id: i64, form: &ProofForm) -> Result<Submitted, AppError> {
    let at = who.now();
    let unproven = form.unproven == "yes";
    db::write_tx(conn, |conn| {
        let payee = db::payees::lock_in_org(conn, who.org_id, who.payee_id)?.ok_or(AppError::NotFound)?;
        let row = db::portal::challenge_of(conn, payee.id, id)?.ok_or(AppError::NotFound)?;
        if row.used_at.is_some() {
            return Err(AppError::Conflict("This address was submitted already; see it on your page.".into()));
        }
        if row.expires_at <= at {
            return Err(AppError::Conflict(format!(
                "This request expired after {CHALLENGE_MINUTES} minutes; start again to get a new message to sign."
            )));
        }
        let asset =
            asset::find(&row.asset).ok_or_else(|| AppError::Internal(format!("unknown asset {}", row.asset)))?;
        let evidence = if unproven {
            if !db::orgs::find(conn, who.org_id)?.payees_may_skip_proof {
                return Err(FieldErrors::single(
                    "signature",
                    "Your organization asks for a signature: sign the message with the wallet of this address.",
                )
                .into());
            }
            None
        } else {
            let method = proof::verify(asset.family, &row.address, &row.message, &form.signature)
                .map_err(|m| FieldErrors::single("signature", m))?;
            let evidence = Evidence {
                method: method.as_str().into(),
                message: row.message.clone(),
                signature: form.signature.trim().into(),
                at: at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            };
            Some(serde_json::to_string(&evidence).map_err(|e| AppError::Internal(e.to_string()))?)
        };
        if !db::portal::use_challenge(conn, row.id, at)? {
            return Err(AppError::Conflict("This address was submitted already; see it on your page.".into()));
        }
        let entered =
            enter_address_by(conn, EnteredBy::Payee { proof: evidence.as_deref() }, &payee, asset, &row.address, at);
        let (address_id, new) = match entered {
            // Listed since the challenge was made: refused in the same words as at the start.
            Err(AppError::Validation(e)) if e.get("address").is_some() => {
                return Err(FieldErrors::single("signature", REFUSED).into());
            }
            other => other?,
        };
        // The address they already have (the organization typed it): the proof is kept with it.
        if let (false, Some(evidence)) = (new, evidence.as_deref())
            && db::payees::attach_proof(conn, address_id, evidence)?
        {
            let entry = crate::service::access::audit::Entry {
                org_id: Some(payee.org_id),
                actor_user_id: None,
                action: "payee.address_proven",
                object_type: "payee",
                object_id: Some(payee.id.to_string()),
                detail: format!("{} on {}: {}, ownership proven by the payee", payee.name, asset.network, row.address),
                ip: None,
            };
            crate::service::access::audit::record(conn, entry, at)?;
        }
        Ok(Submitted { address_id, proven: evidence.is_some(), asset, address: row.address })
    })
}
