//! Importing a sanctions list: the file read whole first (a broken file changes no list), its
//! addresses staged under a version of their own, then put in force at once; two imports of one
//! list at the same moment leave one version (the one handed out last).

use chrono::{NaiveDate, NaiveDateTime};

use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::sanctions;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

/// Longest list name.
const MAX_NAME_CHARS: usize = 60;

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub list: String,
    pub version: i32,
    pub entries: usize,
    pub shape: &'static str,
    pub published: Option<NaiveDate>,
    /// False when another import of the list, handed a version after this one, stands instead.
    pub stood: bool,
}

/// Who imports: a person (audited as them) or the command line / the daily refresh.
pub enum Importer<'a> {
    Person(&'a Actor),
    System(&'a str),
}

fn check_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(FieldErrors::single(
            "list",
            format!("A list's name is 1 to {MAX_NAME_CHARS} letters, digits, spaces, dots, dashes or underscores."),
        )
        .into())
    }
}

/// Reads `bytes` as a list (SDN.XML, SDN_ADVANCED.XML, CSV or plain) and puts it in force as
/// list `name`, replacing what it held; nothing changes when the file cannot be read whole.
pub fn import(
    conn: &mut DbConnection,
    by: Importer,
    name: &str,
    source: &str,
    bytes: &[u8],
    at: NaiveDateTime,
) -> Result<Imported, AppError> {
    if let Importer::Person(actor) = &by {
        actor.require(crate::domain::account::Role::can_administer)?;
        crate::service::access::second_factor::require_fresh(conn, actor, "Importing a sanctions list")?;
    }
    let name = name.trim();
    check_name(name)?;
    let parsed =
        sanctions::parse(bytes).map_err(|e| FieldErrors::single("file", format!("The list cannot be read: {e}.")))?;
    let version = db::sanctions::begin_import(conn, name, at)?;
    let rows: Vec<db::sanctions::NewListed> = parsed
        .entries
        .iter()
        .map(|e| db::sanctions::NewListed { list_name: name, version, address: &e.address, entity: &e.entity })
        .collect();
    if let Err(e) = db::sanctions::stage(conn, &rows) {
        let _ = db::sanctions::discard(conn, name, version, true);
        return Err(e.into());
    }
    let imported_by = match &by {
        Importer::Person(actor) => actor.email.clone(),
        Importer::System(who) => (*who).to_owned(),
    };
    let meta = db::sanctions::ListMeta {
        source,
        published_at: parsed.published.and_then(|d| d.and_hms_opt(0, 0, 0)),
        imported_at: at,
        entries: rows.len() as i64,
        imported_by: &imported_by,
    };
    let detail = format!("{name}: {} addresses ({}), version {version}", rows.len(), parsed.shape);
    let stood = db::sanctions::put_in_force(conn, name, version, &meta, |conn| -> Result<(), AppError> {
        let entry = match &by {
            Importer::Person(actor) => Entry::by(actor, "sanctions.imported", "sanctions_list", name),
            Importer::System(_) => Entry {
                org_id: None,
                actor_user_id: None,
                action: "sanctions.imported",
                object_type: "sanctions_list",
                object_id: Some(name.to_owned()),
                detail: String::new(),
                ip: None,
            },
        };
        audit::record(conn, entry.detail(detail.clone()), at)?;
        Ok(())
    });
    let stood = match stood {
        Ok(stood) => stood,
        Err(e) => {
            let _ = db::sanctions::discard(conn, name, version, true);
            return Err(e);
        }
    };
    // What no screening reads any more: the replaced versions, or this one if it did not stand.
    db::sanctions::discard(conn, name, version, !stood)?;
    Ok(Imported {
        list: name.to_owned(),
        version,
        entries: rows.len(),
        shape: parsed.shape,
        published: parsed.published,
        stood,
    })
}
