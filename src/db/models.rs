//! Row structs. They stay in db/; services convert them to domain types.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_log, organizations, sessions, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct OrgRow {
    pub id: i64,
    pub name: String,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub created_at: NaiveDateTime,
    pub approval_required: bool,
    pub approvals_needed: i32,
    pub payee_cooling_off_minutes: i32,
    pub extra_approval_for_new_addresses: bool,
    pub time_zone: String,
    pub second_factor_staff: bool,
    pub second_factor_accountants: bool,
    pub step_up_every_approval: bool,
    /// The Solana rail creates recipients' missing token accounts for this organization's rows.
    pub create_token_accounts: bool,
    /// A sanctions list older than this many days is named to admins as stale.
    pub sanctions_max_age_days: i32,
    /// Payees may submit an address without a signature (marked "not proven").
    pub payees_may_skip_proof: bool,
    /// Payees with an email are sent a receipt for each row paid to them.
    pub payee_receipts: bool,
    /// Days a payee has to give an address for a claim before it is cancelled and released.
    pub claim_days: i32,
}

#[derive(Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrgRow<'a> {
    pub name: &'a str,
    pub created_at: NaiveDateTime,
    /// Admins and managers must have a second factor: on for new organizations, off in demo mode.
    pub second_factor_staff: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub org_id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub created_at: NaiveDateTime,
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<NaiveDateTime>,
    pub totp_last_step: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub org_id: i64,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub disabled: bool,
    pub failed_logins: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i64,
    pub token_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub ip: Option<String>,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub last_seen_at: NaiveDateTime,
    pub second_factor_at: Option<NaiveDateTime>,
    pub step_up_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSessionRow<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub ip: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub org_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub detail: String,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditRow<'a> {
    pub org_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: Option<&'a str>,
    pub detail: &'a str,
    pub ip: Option<&'a str>,
    pub created_at: NaiveDateTime,
}
