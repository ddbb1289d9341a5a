//! Payees and their addresses as JSON.

use serde::Serialize;

use super::rfc3339;
use crate::db::payees::{PayeeAddressRow, PayeeRow};
use crate::db::{self, DbConnection};
use crate::domain::payee::AddressState;
use crate::error::AppError;
use chrono::NaiveDateTime;

#[derive(Serialize, utoipa::ToSchema)]
pub struct PayeeAddressJson {
    pub id: i64,
    pub payee_id: i64,
    pub network: String,
    pub address: String,
    /// pending (awaiting a manager), cooling_off (approved, not payable yet), payable,
    /// rejected or replaced.
    #[schema(schema_with = address_state)]
    pub state: &'static str,
    pub entered_at: String,
    /// From when a payout may pay it (RFC 3339 UTC), once approved.
    pub payable_from: Option<String>,
    pub reason: String,
    /// The payee gave it on their own page (not a staff member).
    pub submitted_by_payee: bool,
    /// The payee's proof of control: their wallet's signature of a challenge, kept as evidence;
    /// null when not proven (entered by staff, or accepted unproven).
    pub ownership_proof: Option<ProofJson>,
}

/// A wallet's signature proving control of an address.
#[derive(Serialize, serde::Deserialize, Clone, utoipa::ToSchema)]
pub struct ProofJson {
    /// eip191 (EVM personal_sign), tip191 (TRON), signed_message (Bitcoin family, BIP-137
    /// headers) or ed25519 (Solana).
    #[schema(schema_with = proof_method)]
    pub method: String,
    /// The challenge signed: organization, payee, network, address, nonce, expiry.
    pub message: String,
    pub signature: String,
    /// When it was checked (RFC 3339 UTC).
    pub at: String,
}

fn proof_method() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["eip191", "tip191", "signed_message", "ed25519"]))
        .build()
}

/// The proof kept with an address, as JSON.
pub fn proof_json(a: &PayeeAddressRow) -> Option<ProofJson> {
    serde_json::from_str(a.proof.as_deref()?).ok()
}

fn address_state() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["pending", "cooling_off", "payable", "rejected", "replaced"]))
        .build()
}

pub fn state_code(s: AddressState) -> &'static str {
    match s {
        AddressState::Pending => "pending",
        AddressState::CoolingOff => "cooling_off",
        AddressState::Payable => "payable",
        AddressState::Rejected => "rejected",
        AddressState::Replaced => "replaced",
    }
}

pub fn address_json(a: &PayeeAddressRow, at: NaiveDateTime) -> PayeeAddressJson {
    PayeeAddressJson {
        id: a.id,
        payee_id: a.payee_id,
        network: a.network.clone(),
        address: a.address.clone(),
        state: state_code(AddressState::of(a.status, a.payable_from, at)),
        entered_at: rfc3339(a.entered_at),
        payable_from: a.payable_from.map(rfc3339),
        reason: a.reason.clone(),
        submitted_by_payee: a.submitted_by_payee,
        ownership_proof: proof_json(a),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PayeeJson {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub external_id: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Every address the payee has had, newest first.
    pub addresses: Vec<PayeeAddressJson>,
}

/// A payee with every address it has had, each as it stands `at`.
pub fn payee_json(conn: &mut DbConnection, p: PayeeRow, at: NaiveDateTime) -> Result<PayeeJson, AppError> {
    let addresses = db::payees::addresses_of(conn, p.id)?;
    Ok(payee_with(p, &addresses, at))
}

/// Payees with their addresses, read in one query.
pub fn payees_json(
    conn: &mut DbConnection,
    rows: Vec<PayeeRow>,
    at: NaiveDateTime,
) -> Result<Vec<PayeeJson>, AppError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let addresses = db::payees::addresses_of_many(conn, &ids)?;
    Ok(rows.into_iter().map(|r| payee_with(r, &addresses, at)).collect())
}

pub fn payee_with(p: PayeeRow, addresses: &[PayeeAddressRow], at: NaiveDateTime) -> PayeeJson {
    let addresses = addresses.iter().filter(|a| a.payee_id == p.id).map(|a| address_json(a, at)).collect();
    PayeeJson {
        id: p.id,
        tags: crate::domain::payee::tag_list(&p.tags).into_iter().map(str::to_owned).collect(),
        name: p.name,
        email: p.email,
        external_id: p.external_id,
        notes: p.notes,
        archived: p.archived,
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
        addresses,
    }
}

/// What `payee.address_changed` tells: the payee, the address as it stands now, and the address
/// it replaces, if any.
pub fn address_event_json(payee: &PayeeRow, a: &PayeeAddressRow, previous: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "payee": { "id": payee.id, "name": payee.name, "external_id": payee.external_id },
        "address": { "id": a.id, "network": a.network, "address": a.address, "status": a.status.as_str(),
                     "payable_from": a.payable_from.map(rfc3339), "reason": a.reason,
                     "submitted_by_payee": a.submitted_by_payee, "ownership_proof": proof_json(a) },
        "previous_address": previous,
    })
}
