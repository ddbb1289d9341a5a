//! What an empty database gets on first start, the instance secret, and users added from the CLI.

use crate::crypto;
use crate::db::models::NewOrgRow;
use crate::db::{self, DbConnection};
use crate::domain::account::{Role, check_new_password, normalize_email};
use crate::domain::asset;
use crate::domain::ledger::Movement;
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::service::access::audit::{self, Entry};
use crate::service::access::users::{NewUser, insert_user};
use crate::service::payouts::ledger::{MoveContext, move_funds};

pub const DEMO_PASSWORD: &str = "demo";
pub const DEMO_ORG: &str = "Demo Company";
/// Demo balances: (asset, amount).
pub const DEMO_BALANCES: [(&str, &str); 6] = [
    ("USDT_TRC20", "50000"),
    ("USDT_ERC20", "20000"),
    ("BTC", "1.5"),
    ("ETH", "12.5"),
    ("TRX", "100000"),
    ("USDC_ERC20", "8000"),
];

pub const DEMO_USERS: [(&str, Role); 5] = [
    ("admin@demo.local", Role::Admin),
    ("manager@demo.local", Role::Manager),
    ("manager2@demo.local", Role::Manager),
    ("accountant@demo.local", Role::Accountant),
    ("viewer@demo.local", Role::Viewer),
];

#[derive(Debug, PartialEq, Eq)]
pub enum Initialized {
    /// The database already had an organization; nothing was added.
    Existing,
    DemoSeeded,
    /// The first administrator; the password is shown once and stored only as a hash.
    AdminCreated {
        email: String,
        password: String,
    },
}

/// Seeds an empty database: the demo organization in demo mode, else one organization with an
/// administrator whose random password the caller prints once.
pub fn initialize(
    conn: &mut DbConnection,
    demo: bool,
    org_name: &str,
    admin_email: &str,
) -> Result<Initialized, AppError> {
    if db::orgs::count(conn)? > 0 {
        return Ok(Initialized::Existing);
    }
    let (org_name, users, outcome) = if demo {
        let users = DEMO_USERS
            .iter()
            .map(|(email, role)| NewUser { email: (*email).into(), role: *role, password: DEMO_PASSWORD.into() })
            .collect();
        (DEMO_ORG, users, Initialized::DemoSeeded)
    } else {
        let email = normalize_email(admin_email).map_err(|m| AppError::Internal(format!("admin email: {m}")))?;
        let password = crypto::random_password();
        let users = vec![NewUser { email: email.clone(), role: Role::Admin, password: password.clone() }];
        (org_name, users, Initialized::AdminCreated { email, password })
    };
    let hashes: Vec<String> = users.iter().map(|u| crypto::hash_password(&u.password)).collect();
    // The first start and the command line run on the system's clock.
    let at = crate::clock::Clock::real().now();
    let result = db::write_tx(conn, |conn| -> Result<(), AppError> {
        if db::orgs::count(conn)? > 0 {
            return Err(AppError::Conflict("initialized by another process".into()));
        }
        let org = db::orgs::insert(conn, &NewOrgRow { name: org_name, created_at: at, second_factor_staff: !demo })?;
        let mut first_user = None;
        for (user, hash) in users.iter().zip(&hashes) {
            let row = insert_user(conn, org.id, user, hash, at)?;
            first_user.get_or_insert(row.id);
            audit::record(conn, added_without_actor(&row, "at first start"), at)?;
        }
        if demo {
            let ctx =
                MoveContext { org_id: org.id, payout_id: None, note: "Demo top-up", actor_user_id: first_user, at };
            for (code, amount) in DEMO_BALANCES {
                let asset = asset::find(code).expect("demo assets exist");
                let amount = Amount::parse(asset, amount).expect("valid demo amount");
                move_funds(conn, Movement::Deposit, amount, &ctx)?;
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(outcome),
        // Another server process seeded the same empty database a moment earlier.
        Err(AppError::Conflict(_)) | Err(AppError::Validation(_)) => Ok(Initialized::Existing),
        Err(e) => Err(e),
    }
}

const SECRET_KEY_SETTING: &str = "secret_key";

/// The key that signs pre-session CSRF tokens: the configured one, else one generated once and
/// kept in the database so that every process on it agrees.
pub fn secret_key(conn: &mut DbConnection, configured: Option<&str>) -> Result<Vec<u8>, AppError> {
    if let Some(key) = configured {
        return Ok(key.as_bytes().to_vec());
    }
    let stored = db::settings::get_or_insert(conn, SECRET_KEY_SETTING, &crypto::random_hex(32))?;
    Ok(stored.into_bytes())
}

/// `payouts user add`: adds a user to the named organization (created if new) or, with no name,
/// to the only organization there is. Returns the organization's name.
pub fn add_user_from_cli(
    conn: &mut DbConnection,
    email: &str,
    role: &str,
    password: &str,
    org_name: Option<&str>,
) -> Result<String, AppError> {
    let mut errors = FieldErrors::new();
    let email = normalize_email(email).map_err(|m| errors.add("--email", m)).ok();
    let role = Role::parse(role);
    if role.is_none() {
        errors.add("--role", "use admin, manager, accountant or viewer");
    }
    if let Err(m) = check_new_password(password) {
        errors.add("password", m);
    }
    errors.into_result(())?;
    let user = NewUser { email: email.expect("checked"), role: role.expect("checked"), password: password.to_owned() };
    let hash = crypto::hash_password(password);
    // The first start and the command line run on the system's clock.
    let at = crate::clock::Clock::real().now();
    db::write_tx(conn, |conn| {
        let org = match org_name {
            Some(name) => match db::orgs::find_by_name(conn, name)? {
                Some(org) => org,
                None => db::orgs::insert(conn, &NewOrgRow { name, created_at: at, second_factor_staff: true })?,
            },
            None => match db::orgs::list(conn)?.as_slice() {
                [only] => only.clone(),
                _ => return Err(FieldErrors::single("--org", "name the organization: there is not exactly one").into()),
            },
        };
        let row = insert_user(conn, org.id, &user, &hash, at)?;
        audit::record(conn, added_without_actor(&row, "from the command line"), at)?;
        Ok(org.name)
    })
}

/// The audit entry of a user added with nobody signed in (first start, the command line).
fn added_without_actor(row: &crate::db::models::UserRow, how: &str) -> Entry<'static> {
    Entry {
        org_id: Some(row.org_id),
        actor_user_id: None,
        action: "user.added",
        object_type: "user",
        object_id: Some(row.id.to_string()),
        detail: format!("{} as {} {how}", row.email, row.role),
        ip: None,
    }
}
