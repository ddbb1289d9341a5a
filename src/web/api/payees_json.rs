//! The JSON API's payee book and address approvals: the dashboard's services with
//! JSON shapes. Keys need `create` to change the book (their user must be an accountant or an
//! admin) and `approve` to decide on addresses (a manager other than the one who entered it).

use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::domain::FieldErrors;
use crate::domain::account::Scope;
use crate::error::AppError;
use crate::service::access::api_keys::ApiCaller;
use crate::service::access::idempotency::{Answer, once};
use crate::service::payees::{self, PayeeForm};
use crate::service::views::payees::{PayeeAddressJson, PayeeJson, address_json, payee_json, payees_json};

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct AddressRequest {
    #[serde(default)]
    #[schema(schema_with = crate::service::views::schema::asset, required = true)]
    pub asset: String,
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 100)]
    pub address: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "Alice Martin", "external_id": "E-1001", "email": "alice@example.com",
    "tags": ["employees"], "addresses": [{"asset": "USDT_TRC20", "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}]}))]
pub struct PayeeRequest {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 254)]
    pub email: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub external_id: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub notes: String,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub tags: Vec<String>,
    /// On create only: addresses entered with the payee, each pending a manager's approval.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub addresses: Vec<AddressRequest>,
}

impl PayeeRequest {
    fn form(&self) -> Result<PayeeForm, FieldErrors> {
        if self.tags.iter().any(|t| t.contains(',')) {
            return Err(FieldErrors::single("tags", "A tag cannot contain a comma."));
        }
        Ok(PayeeForm {
            name: self.name.clone(),
            email: self.email.clone(),
            external_id: self.external_id.clone(),
            notes: self.notes.clone(),
            tags: self.tags.join(","),
        })
    }
}

/// Creates a payee, and its addresses pending approval, once per Idempotency-Key.
pub fn create(conn: &mut DbConnection, caller: &ApiCaller, key: &str, req: &PayeeRequest) -> Result<Answer, AppError> {
    caller.require(Scope::Create)?;
    caller.actor.require(payees::can_manage)?;
    let form = req.form()?;
    let mut errors = FieldErrors::new();
    if req.addresses.len() > 20 {
        errors.add("addresses", "At most 20 addresses.");
    }
    let mut checked = Vec::new();
    for (n, a) in req.addresses.iter().enumerate() {
        match payees::check_address(&a.asset, &a.address) {
            Ok(c) => {
                if checked.iter().any(|(asset, _): &(&crate::domain::Asset, String)| asset.network == c.0.network) {
                    errors.add(format!("addresses[{n}].asset"), "One address per network.");
                }
                checked.push(c)
            }
            Err(e) => {
                for (field, m) in e.iter() {
                    errors.add(format!("addresses[{n}].{field}"), m);
                }
            }
        }
    }
    if let Err(e) = form.check() {
        for (field, m) in e.iter() {
            errors.add(field, m);
        }
    }
    errors.into_result(())?;
    once(conn, caller.actor.org_id, "payees:", key, req, caller.actor.now(), |conn, at| {
        let payee = payees::create_in_tx(conn, &caller.actor, &form, at)?;
        for (asset, address) in &checked {
            payees::enter_checked_address(conn, &caller.actor, &payee, asset, address, at)?;
        }
        let body = serde_json::to_string(&payee_json(conn, payee, caller.actor.now())?)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((201, body))
    })
}

pub fn get(conn: &mut DbConnection, caller: &ApiCaller, id: i64) -> Result<PayeeJson, AppError> {
    caller.require(Scope::Read)?;
    let p = payees::find(conn, &caller.actor, id)?;
    payee_json(conn, p, caller.actor.now())
}

/// Replaces the payee's name, email, external id, notes and tags (addresses change through
/// [`enter_address`], under change control).
pub fn update(conn: &mut DbConnection, caller: &ApiCaller, id: i64, req: &PayeeRequest) -> Result<PayeeJson, AppError> {
    caller.require(Scope::Create)?;
    if !req.addresses.is_empty() {
        return Err(FieldErrors::single(
            "addresses",
            "Addresses change through POST /api/v1/payees/{id}/addresses, each approved by a manager.",
        )
        .into());
    }
    let p = payees::update(conn, &caller.actor, id, &req.form()?)?;
    payee_json(conn, p, caller.actor.now())
}

pub fn set_archived(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    id: i64,
    archived: bool,
) -> Result<PayeeJson, AppError> {
    caller.require(Scope::Create)?;
    let p = payees::set_archived(conn, &caller.actor, id, archived)?;
    payee_json(conn, p, caller.actor.now())
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayeeListParams {
    /// The start of a name, an exact external id, or a whole tag.
    #[serde(default)]
    #[param(max_length = 200)]
    pub search: String,
    /// List archived payees instead.
    #[serde(default)]
    pub archived: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PayeeListResponse {
    /// At most 500 payees, by name.
    pub data: Vec<PayeeJson>,
}

pub fn list(conn: &mut DbConnection, caller: &ApiCaller, p: &PayeeListParams) -> Result<PayeeListResponse, AppError> {
    caller.require(Scope::Read)?;
    if p.search.chars().count() > 200 {
        return Err(FieldErrors::single("search", "At most 200 characters.").into());
    }
    let rows = payees::list(conn, &caller.actor, &p.search, p.archived.unwrap_or(false))?;
    Ok(PayeeListResponse { data: payees_json(conn, rows, caller.actor.now())? })
}

/// Enters an address for the payee on the asset's network: pending until a manager other than
/// the key's user approves it. The payee's current address, entered again, changes nothing.
pub fn enter_address(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    payee_id: i64,
    req: &AddressRequest,
) -> Result<PayeeAddressJson, AppError> {
    caller.require(Scope::Create)?;
    let id = payees::enter_address(conn, &caller.actor, payee_id, &req.asset, &req.address)?;
    Ok(address_json(&payees::find_address(conn, &caller.actor, id)?, caller.actor.now()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PendingAddressJson {
    #[serde(flatten)]
    pub address: PayeeAddressJson,
    pub payee_name: String,
    pub entered_by: String,
    /// The approved address it would replace.
    pub replaces: Option<String>,
    /// A known address it looks like (address poisoning); its `line` is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookalike: Option<crate::service::views::payouts::LookalikeJson>,
}

pub fn pending(conn: &mut DbConnection, caller: &ApiCaller) -> Result<Vec<PendingAddressJson>, AppError> {
    caller.require(Scope::Read)?;
    let at = caller.actor.now();
    Ok(payees::pending(conn, &caller.actor)?
        .into_iter()
        .map(|p| PendingAddressJson {
            address: address_json(&p.row, at),
            payee_name: p.payee_name,
            entered_by: p.entered_by,
            replaces: p.replaces,
            lookalike: p.lookalike.map(|l| l.json()),
        })
        .collect())
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct DecisionRequest {
    /// Required to reject: the person who entered the address sees it.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
    /// To approve an address that looks like a known one (its `lookalike` on the pending list):
    /// true once it was checked with the payee by another channel. Two different managers must
    /// approve it; after the first the address stays pending.
    #[serde(default)]
    pub acknowledge_lookalike: bool,
}

pub fn decide(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    address_id: i64,
    approve: bool,
    request: &DecisionRequest,
) -> Result<PayeeAddressJson, AppError> {
    caller.require(Scope::Approve)?;
    let a = payees::decide_address(
        conn,
        &caller.actor,
        address_id,
        approve,
        request.acknowledge_lookalike,
        &request.reason,
    )?;
    Ok(address_json(&a, caller.actor.now()))
}

/// A payee invited to their own page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationJson {
    pub payee_id: i64,
    /// Where the link went: the payee's email.
    pub email: String,
    /// The link was emailed (the server sends email).
    pub emailed: bool,
    /// Only when this server sends no email: the one-time link, to pass on privately.
    pub link: Option<String>,
    /// RFC 3339 UTC; the link works once until then (72 hours).
    pub expires_at: String,
}

pub fn invite(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    n: &crate::service::outbound::tell::Notifier,
    payee_id: i64,
) -> Result<InvitationJson, AppError> {
    caller.require(Scope::Create)?;
    let linked = crate::service::outbound::links::invite_payee(conn, n, &caller.actor, payee_id)?;
    Ok(InvitationJson {
        payee_id: linked.payee_id,
        email: linked.email,
        emailed: linked.emailed,
        link: (!linked.emailed).then_some(linked.link),
        expires_at: crate::service::views::rfc3339(linked.expires_at),
    })
}
