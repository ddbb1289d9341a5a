//! The database layer: the only place that knows SQLite from PostgreSQL.

pub mod address_keys;
pub mod api;
pub mod approvals;
pub mod audit;
pub mod claims;
pub mod drafts;
pub mod events;
pub mod evm;
pub mod factors;
pub mod figures;
pub mod invitations;
pub mod ledger;
pub mod limits;
pub mod locks;
pub mod models;
pub mod notices;
pub mod objects;
pub mod org_settings;
pub mod orgs;
pub mod outbox;
pub mod paid_addresses;
pub mod paid_totals;
pub mod payees;
pub mod payouts;
pub mod portal;
pub mod processor;
pub mod rates;
pub mod sanctions;
pub mod schedules;
pub mod schema;
pub mod security_keys;
pub mod sent;
pub mod sessions;
pub mod settings;
pub mod sim;
pub mod solana;
pub mod stamp;
pub mod users;
pub mod utxo;
pub mod values;
pub mod verify;
pub mod webhooks;

use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Serializes concurrent `migrate` runs of several server processes on one PostgreSQL database.
const MIGRATION_LOCK_KEY: i64 = 0x7061_796f_7574;

/// Runs `$body` with `$c` bound to the concrete connection, compiled once per backend: for the
/// queries diesel's multi-connection backend cannot express (upserts, `ON CONFLICT`, locking).
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Postgres(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;
pub use diesel::result::Error as DbError;
pub type DbResult<T> = Result<T, DbError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL whose backend was chosen from its scheme, never by trial: diesel's derived
/// `establish` tries each backend in turn and would hide PostgreSQL's real error.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) {
            if rest.is_empty() {
                return Err("the PostgreSQL URL names no server: use postgres://USER@HOST/DATABASE".into());
            }
            return Ok(Self { backend: Backend::Postgres, target: url.to_owned() });
        }
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err("the SQLite URL needs a file path, e.g. sqlite://data/payouts.sqlite3 \
                            (an in-memory database would differ in every pooled connection)"
                    .into());
            }
            return Ok(Self { backend: Backend::Sqlite, target: path.to_owned() });
        }
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or(url);
        Err(format!("unsupported database URL scheme `{scheme}`: use sqlite://PATH or postgres://USER@HOST/DATABASE"))
    }

    pub fn sqlite_path(path: &std::path::Path) -> Self {
        Self { backend: Backend::Sqlite, target: path.display().to_string() }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file path, or the whole PostgreSQL URL.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// For logs: the URL without its password.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => match (self.target.find("://"), self.target.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let userinfo = &self.target[s + 3..at];
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{}{}:***{}", &self.target[..s + 3], user, &self.target[at..])
                }
                _ => self.target.clone(),
            },
        }
    }
}

pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

/// A pooled connection and when the server last answered on it.
pub struct Pooled {
    conn: DbConnection,
    verified_at: Instant,
}

impl std::ops::Deref for Pooled {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// A connection the server answered on this recently is lent again without asking it (`SELECT
/// 1`): on PostgreSQL the ping was two of a list page's seven statements (BENCHMARKS.md). The
/// window is counted from the last answered ping, not from the last use: diesel does not mark a
/// PostgreSQL connection cut by the server as broken, so a connection kept busy would otherwise
/// never be checked again. After a database restart, statements fail for at most this long.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        self.open().map(|conn| Pooled { conn, verified_at: Instant::now() })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        if conn.verified_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        conn.conn.ping().map_err(r2d2::Error::QueryError)?;
        conn.verified_at = Instant::now();
        Ok(())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        // A panic in the middle of a transaction must not hand that connection to the next request.
        std::thread::panicking() || conn.conn.is_broken()
    }
}

impl Manager {
    fn open(&self) -> Result<DbConnection, r2d2::Error> {
        match self.url.backend {
            Backend::Postgres => PgConnection::establish(&self.url.target)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // WAL is set once at migration time; these are per connection. The database file
                // is read through a memory map (shared by every connection through the OS's page
                // cache) rather than copied into each connection's 2 MB cache page by page: index
                // probes into a large history stay memory reads (BENCHMARKS.md, issue 38).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA mmap_size = 1073741824;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Opens one connection first so that a bad URL or an unreachable server gives its own error at
/// once, then builds the pool.
pub fn connect(url: &DatabaseUrl, max_size: u32) -> Result<Pool, String> {
    let manager = Manager::new(url.clone());
    manager.connect().map_err(|e| format!("cannot open the database {}: {e}", url.redacted()))?;
    let max_size = match url.backend {
        // One writer at a time on SQLite; a few readers beside it are enough.
        Backend::Sqlite => max_size.min(8),
        Backend::Postgres => max_size,
    };
    r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(15))
        .build(manager)
        .map_err(|e| format!("cannot open the database pool for {}: {e}", url.redacted()))
}

/// Applies the embedded migrations of the connection's backend; returns how many were applied.
pub fn migrate(conn: &mut DbConnection) -> Result<usize, String> {
    let result = match conn {
        DbConnection::Sqlite(c) => {
            c.batch_execute("PRAGMA journal_mode = WAL;").map_err(|e| e.to_string())?;
            c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len())
        }
        DbConnection::Postgres(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .execute(c)
                .map_err(|e| e.to_string())?;
            let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .execute(c)
                .map_err(|e| e.to_string())?;
            applied
        }
    };
    let applied = result.map_err(|e| format!("migration failed: {e}"))?;
    backfill(conn).map_err(|e| format!("migration's data step failed: {e}"))?;
    Ok(applied)
}

/// The data steps migrations leave to the program, each run once (in one transaction, which
/// also serializes two processes starting at once).
fn backfill(conn: &mut DbConnection) -> DbResult<()> {
    write_tx(conn, address_keys::backfill)?;
    write_tx(conn, paid_totals::backfill)
}

/// Held by the SQLite write transaction in progress in this process.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` in one write transaction. On SQLite it begins IMMEDIATE, taking the write lock up
/// front: a deferred transaction that reads and then writes can fail with SQLITE_BUSY instead
/// of waiting for the lock.
pub fn write_tx<T, E>(conn: &mut DbConnection, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
where
    E: From<DbError>,
{
    // SQLite has one writer: this process's writers queue here, woken in turn, instead of in
    // SQLite's busy handler, which polls with sleeps of up to 100 ms and lets a late writer
    // overtake one that waited long (BENCHMARKS.md: create API tail latency). The busy timeout
    // still covers writers in other processes (the CLI).
    let depth =
        <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth()?;
    let _writer = match conn {
        // Inside another write transaction (several creations committed together): a savepoint,
        // so this one's error undoes only its own work. The writer's lock is already held.
        _ if depth.is_some() => {
            <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?;
            None
        }
        DbConnection::Sqlite(c) => {
            let guard = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            Some(guard)
        }
        DbConnection::Postgres(c) => {
            AnsiTransactionManager::begin_transaction(c)?;
            None
        }
    };
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            // The caller's error matters more than a failed rollback, which also marks the
            // connection broken so the pool discards it.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Runs `f` in one read-only transaction that sees a single moment of the database while
/// others keep writing: REPEATABLE READ on PostgreSQL, a deferred read transaction on SQLite
/// (in WAL mode its first read fixes the snapshot). Always rolled back.
pub fn read_snapshot<T, E>(conn: &mut DbConnection, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
where
    E: From<DbError>,
{
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?,
        DbConnection::Postgres(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    }
    let result = f(conn);
    let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
    result
}

/// Writes a consistent copy of an SQLite database to `path` (a new file) from one read
/// snapshot, while other connections keep writing.
pub fn copy_sqlite_into(conn: &mut DbConnection, path: &str) -> DbResult<()> {
    match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query("VACUUM INTO ?").bind::<diesel::sql_types::Text, _>(path).execute(c).map(drop)
        }
        DbConnection::Postgres(_) => Err(DbError::QueryBuilderError("VACUUM INTO is SQLite's".into())),
    }
}

/// Folds SQLite's write-ahead log back into the database file and empties it, so the file alone
/// holds everything (before it is moved).
pub fn checkpoint_sqlite(conn: &mut DbConnection) -> DbResult<()> {
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);"),
        DbConnection::Postgres(_) => Ok(()),
    }
}

/// SQLite's own check of a database file: every page and index readable and consistent.
pub fn check_integrity(conn: &mut DbConnection) -> Result<(), String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let DbConnection::Sqlite(c) = conn else { return Ok(()) };
    let lines: Vec<Line> = diesel::sql_query("PRAGMA integrity_check").load(c).map_err(|e| e.to_string())?;
    match lines.first() {
        Some(l) if l.integrity_check == "ok" => Ok(()),
        _ => Err(format!(
            "the file is damaged: {}",
            lines.iter().take(5).map(|l| l.integrity_check.as_str()).collect::<Vec<_>>().join("; ")
        )),
    }
}

/// Does the database hold any table of its own (PostgreSQL's public schema)?
pub fn has_tables(conn: &mut DbConnection) -> DbResult<bool> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sql = match conn.backend() {
        Backend::Postgres => "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
        Backend::Sqlite => "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'",
    };
    let rows: Vec<Count> = diesel::sql_query(sql).load(conn)?;
    Ok(rows.first().is_some_and(|c| c.n > 0))
}

/// An always-true condition that keeps diesel from caching its statement as a prepared one, so
/// PostgreSQL plans it with the values of each call: an `= ANY` over a thousand keys is then
/// hashed, and the table's current size is used instead of its size when a generic plan was
/// made (a table that grew from empty by one mass payout was read with a sequential scan that
/// compared every row with every key, 350 ms per thousand keys; BENCHMARKS.md).
pub fn planned_each_time() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql("TRUE")
}

/// Is the database reachable and answering?
pub fn ping(conn: &mut DbConnection) -> bool {
    conn.ping().is_ok()
}

pub fn is_unique_violation(e: &DbError) -> bool {
    matches!(e, DbError::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
