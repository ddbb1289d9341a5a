use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use clap::{Parser, Subcommand};
use payouts::config::{DbArgs, ServeArgs};
use payouts::domain::registry::Limits;
use payouts::rails::simulated::{SimConfig, SimulatedRail};
use payouts::rails::{Rail, family};
use payouts::service::access::sessions;
use payouts::service::payouts::bootstrap::{self, Initialized};
use payouts::service::payouts::demo;
use payouts::service::payouts::processor::{self, ProcessorConfig};
use payouts::{AppState, Config, cli, configure, crypto, db};
use tracing_subscriber::EnvFilter;

// glibc's malloc showed up as a quarter of the server's CPU under load, most of it arena locks
// taken when a blocking-pool thread frees what a worker thread allocated (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Single and mass cryptocurrency payouts: a web dashboard and a JSON API.
#[derive(Parser)]
#[command(name = "payouts", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    db: DbArgs,
    /// With no subcommand, `payouts` serves with these options.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard (the default when no subcommand is given).
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Check a CSV registry offline. Exit code 0: every row valid; 1: some row invalid;
    /// 2: the file cannot be read as a registry.
    CheckRegistry {
        /// The asset the registry pays, e.g. USDT_TRC20.
        #[arg(long)]
        asset: String,
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: cli::Format,
        /// Most recipients a registry may have.
        #[arg(long, default_value_t = 10_000)]
        max_rows: usize,
        /// Largest registry file, in bytes.
        #[arg(long, default_value_t = 5 * 1024 * 1024)]
        max_bytes: u64,
        /// Also compare each address with the addresses this organization knows (its payee
        /// book and the rows it paid, read from the database) and warn of lookalikes. Without
        /// it the check is offline.
        #[arg(long)]
        org: Option<String>,
    },
    /// EVM chains.
    #[command(subcommand)]
    Evm(EvmCommand),
    /// Sanctions lists: no payout pays an address a list holds.
    #[command(subcommand)]
    Sanctions(SanctionsCommand),
    /// Recompute every balance from the ledger and check the books' invariants (available +
    /// reserved + paid = credited, reserved = the open rows, no row paid twice). Prints each
    /// problem with its ids. Exit code 0: whole; 1: problems; 2: the database cannot be read.
    /// Reads one snapshot, so it may run beside the server; it never migrates or writes.
    #[command(name = "verify-ledger")]
    VerifyLedger,
    /// Copy the database to a new file while the server runs: SQLite's VACUUM INTO (one
    /// consistent snapshot), or pg_dump's custom format on PostgreSQL.
    Backup {
        /// The backup file to create; an existing file is never overwritten.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into an empty data directory (or an empty PostgreSQL database), migrate
    /// it to this version and verify its ledger. Exit codes as verify-ledger's.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Check one address offline. Exit code 0: valid; 1: invalid.
    CheckAddress {
        #[arg(long)]
        asset: String,
        address: String,
        #[arg(long, value_enum, default_value = "text")]
        format: cli::Format,
    },
}

#[derive(Subcommand)]
enum SanctionsCommand {
    /// Import a list file as the named list, replacing what it held: OFAC's SDN.XML or
    /// SDN_ADVANCED.XML, a CSV (address,reason) or one address a line (# comments). A file that
    /// cannot be read whole changes nothing.
    Import {
        /// The list's name, e.g. "OFAC SDN" or "our denylist".
        #[arg(long)]
        list: String,
        #[arg(long)]
        file: PathBuf,
        /// Where the file came from, kept with the list (default: the file's path).
        #[arg(long)]
        source: Option<String>,
    },
    /// Each list: its version, addresses, publication date and when it was imported.
    List,
}

#[derive(Subcommand)]
enum EvmCommand {
    /// Deploy the PayoutBatch contract (contracts/PayoutBatch.sol) from the hot wallet of the
    /// config file and print its address; put it in the file as `batch_contract` to pay mass
    /// payouts many rows per transaction. The wallet's nonce is reserved in the database, so a
    /// running server may keep paying meanwhile.
    #[command(name = "deploy-batch")]
    DeployBatch {
        #[arg(long)]
        evm_config: PathBuf,
    },
    /// Generate the hot wallet's secp256k1 key inside a PKCS#11 token (an HSM; SoftHSM2 for
    /// trials): sensitive and never extractable, so it never leaves the token. Prints its address;
    /// name the same module, token and key label under `signer.pkcs11` in the --evm-config file.
    /// The user PIN comes from --pin-file or PAYOUTS_PKCS11_PIN.
    Keygen {
        /// The vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
        #[arg(long)]
        pkcs11_module: PathBuf,
        #[arg(long)]
        token_label: String,
        #[arg(long)]
        key_label: String,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key for an existing user; prints only the key.
    Create {
        #[arg(long)]
        email: String,
        /// Comma-separated: read, create, approve (approve needs a manager, create an accountant).
        #[arg(long)]
        scopes: String,
        #[arg(long, default_value = "API key")]
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. Prints a generated password unless --password-stdin is given.
    Add {
        #[arg(long)]
        email: String,
        /// admin, manager, accountant or viewer.
        #[arg(long)]
        role: String,
        /// Organization name; created if new. May be left out when there is only one.
        #[arg(long)]
        org: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Invite someone by email: they get a one-time link (72 hours) to choose their password.
    /// The link is printed too, for when the server sends no email.
    Invite {
        #[arg(long)]
        email: String,
        /// admin, manager, accountant or viewer.
        #[arg(long)]
        role: String,
        /// Organization name; may be left out when there is only one.
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Remove every second factor of a user (a lost phone, the last admin locked out) and end
    /// their sessions; they set up a factor again at their next sign-in. Audited.
    #[command(name = "reset-2fa")]
    Reset2fa {
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn")))
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::CheckRegistry { asset, file, format, max_rows, max_bytes, org }) => {
            let limits = Limits { max_rows, max_bytes };
            let mut known = org.map(|name| {
                let url = cli.db.database_url();
                move |rows: &[(u64, &str)]| {
                    let mut conn = payouts::ops::open_existing(url.as_ref().map_err(Clone::clone)?)?;
                    let lookalikes = payouts::service::payees::lookalike::in_org_named(&mut conn, &name, rows)?
                        .into_iter()
                        .map(|l| (l.line, l.sentence()))
                        .collect();
                    let addresses: Vec<&str> = rows.iter().map(|(_, a)| *a).collect();
                    let listed = payouts::service::compliance::listed(&mut conn, &addresses)
                        .map_err(|e| e.to_string())?
                        .into_iter()
                        .zip(rows)
                        .filter_map(|(hit, (line, _))| hit.map(|h| (*line, h.message())))
                        .collect();
                    Ok(cli::OrgFindings { lookalikes, listed })
                }
            });
            let check = known.as_mut().map(|k| k as cli::LookalikeCheck);
            let out = &mut std::io::stdout().lock();
            return ExitCode::from(cli::check_registry(out, &asset, &file, format, &limits, check));
        }
        Some(Command::CheckAddress { asset, address, format }) => {
            return ExitCode::from(cli::check_address(&mut std::io::stdout().lock(), &asset, &address, format));
        }
        Some(Command::VerifyLedger) => {
            let code = match cli.db.database_url() {
                Ok(url) => payouts::ops::verify_ledger(&mut std::io::stdout().lock(), &url),
                Err(e) => {
                    eprintln!("error: {e}");
                    payouts::ops::EXIT_UNREADABLE
                }
            };
            return ExitCode::from(code);
        }
        Some(Command::Backup { to }) => {
            cli.db.database_url().and_then(|url| payouts::ops::backup(&url, &to)).map(|done| println!("{done}"))
        }
        Some(Command::Restore { from }) => {
            let code = match cli.db.database_url() {
                Ok(url) => payouts::ops::restore(&mut std::io::stdout().lock(), &from, &url),
                Err(e) => {
                    eprintln!("error: {e}");
                    payouts::ops::EXIT_UNREADABLE
                }
            };
            return ExitCode::from(code);
        }
        None => serve(cli.db, cli.serve),
        Some(Command::Serve(args)) => serve(cli.db, *args),
        Some(Command::Migrate) => migrate(&cli.db),
        Some(Command::Sanctions(SanctionsCommand::Import { list, file, source })) => {
            import_sanctions(&cli.db, &list, &file, source.as_deref())
        }
        Some(Command::Sanctions(SanctionsCommand::List)) => open_db(&cli.db).and_then(|mut conn| {
            for l in db::sanctions::lists(&mut conn).map_err(|e| e.to_string())? {
                let published = l.published_at.map_or("no date".into(), |d| d.format("%Y-%m-%d").to_string());
                println!(
                    "{}\tversion {}\t{} addresses\tpublished {published}\timported {} by {}\t{}",
                    l.name,
                    l.version,
                    l.entries,
                    l.imported_at.format("%Y-%m-%d %H:%M UTC"),
                    l.imported_by,
                    l.source
                );
            }
            Ok(())
        }),
        Some(Command::Evm(EvmCommand::DeployBatch { evm_config })) => deploy_batch(&cli.db, &evm_config),
        Some(Command::Evm(EvmCommand::Keygen { pkcs11_module, token_label, key_label, pin_file })) => {
            keygen(pkcs11_module, token_label, key_label, pin_file)
        }
        Some(Command::ApiKey(ApiKeyCommand::Create { email, scopes, name })) => {
            open_db(&cli.db).and_then(|mut conn| {
                let key = payouts::service::access::api_keys::create_from_cli(&mut conn, &email, &scopes, &name)
                    .map_err(|e| e.to_string())?;
                println!("{key}");
                Ok(())
            })
        }
        Some(Command::User(UserCommand::Add { email, role, org, password_stdin })) => {
            add_user(&cli.db, &email, &role, org.as_deref(), password_stdin)
        }
        Some(Command::User(UserCommand::Invite { email, role, org, serve })) => {
            invite(&cli.db, &serve, &email, &role, org.as_deref())
        }
        Some(Command::User(UserCommand::Reset2fa { email })) => open_db(&cli.db).and_then(|mut conn| {
            payouts::service::access::second_factor::reset_from_cli(&mut conn, &email).map_err(|e| e.to_string())?;
            println!("every second factor of {} is removed and their sessions ended", email.trim().to_lowercase());
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_db(db_args: &DbArgs) -> Result<db::PooledConn, String> {
    let url = db_args.database_url()?;
    payouts::config::prepare_sqlite_dir(&url)?;
    let pool = db::connect(&url, 1)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    db::migrate(&mut conn)?;
    Ok(conn)
}

#[cfg(feature = "evm")]
fn deploy_batch(db_args: &DbArgs, file: &std::path::Path) -> Result<(), String> {
    use payouts::rails::evm::{EvmRail, config};
    let url = db_args.database_url()?;
    payouts::config::prepare_sqlite_dir(&url)?;
    let pool = db::connect(&url, 1)?;
    db::migrate(&mut *pool.get().map_err(|e| e.to_string())?)?;
    let rail = EvmRail::connect(config::EvmConfig::load(file, std::env::var(config::KEY_ENV).ok())?, pool)?;
    let address = rail.deploy_batch()?;
    println!("{}", address.to_checksum(None));
    Ok(())
}

#[cfg(not(feature = "evm"))]
fn deploy_batch(_: &DbArgs, file: &std::path::Path) -> Result<(), String> {
    Err(format!("{}: this build has no EVM rail (cargo feature `evm`)", file.display()))
}

#[cfg(feature = "evm")]
fn keygen(module: PathBuf, token_label: String, key_label: String, pin_file: Option<PathBuf>) -> Result<(), String> {
    use payouts::rails::evm::signer::{self, PIN_ENV, Pkcs11Settings};
    let pin = match &pin_file {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("--pin-file {}: {e}", p.display()))?,
        None => std::env::var(PIN_ENV).map_err(|_| format!("no PIN: give --pin-file or set {PIN_ENV}"))?,
    };
    let settings = Pkcs11Settings { module, token_label, key_label, pin: pin.trim().to_owned() };
    let address = signer::generate(&settings)?;
    println!("{}", address.to_checksum(None));
    Ok(())
}

#[cfg(not(feature = "evm"))]
fn keygen(_: PathBuf, _: String, _: String, _: Option<PathBuf>) -> Result<(), String> {
    Err("this build has no EVM rail (cargo feature `evm`)".into())
}

/// Largest list file read: OFAC's SDN_ADVANCED.XML is over 100 MB.
const MAX_LIST_BYTES: u64 = 1 << 30;

fn import_sanctions(db_args: &DbArgs, list: &str, file: &std::path::Path, source: Option<&str>) -> Result<(), String> {
    use payouts::service::compliance::lists::{Importer, import};
    let size = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
    if size > MAX_LIST_BYTES {
        return Err(format!("{}: {size} bytes; a list file is at most {MAX_LIST_BYTES}", file.display()));
    }
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut conn = open_db(db_args)?;
    let source = source.map_or_else(|| file.display().to_string(), str::to_owned);
    let at = payouts::clock::Clock::real().now();
    let done =
        import(&mut conn, Importer::System("command line"), list, &source, &bytes, at).map_err(|e| e.to_string())?;
    let published = done.published.map_or("no publication date".into(), |d| format!("published {d}"));
    if done.stood {
        println!(
            "{}: {} addresses from {} ({published}), version {}",
            done.list, done.entries, done.shape, done.version
        );
        Ok(())
    } else {
        Err(format!("{}: another import of this list started after this one and stands instead", done.list))
    }
}

fn migrate(db_args: &DbArgs) -> Result<(), String> {
    open_db(db_args)?;
    println!("migrations applied");
    Ok(())
}

fn invite(db_args: &DbArgs, serve: &ServeArgs, email: &str, role: &str, org: Option<&str>) -> Result<(), String> {
    let config = Config::from_args(serve)?;
    let notifier = payouts::service::outbound::tell::Notifier {
        public_url: config.public_url.clone(),
        mail: config.smtp.is_some(),
        stuck_after: config.stuck_after,
    };
    let mut conn = open_db(db_args)?;
    let form = payouts::service::access::invitations::InviteForm { email: email.into(), role: role.into() };
    let at = payouts::clock::Clock::real().now();
    let invited = payouts::service::outbound::links::invite_from_cli(&mut conn, &notifier, org, &form, at)
        .map_err(|e| e.to_string())?;
    if invited.emailed {
        println!("invited {}; the server emails the link", invited.email);
    } else {
        println!("invited {}; no SMTP server is configured, so pass them this link yourself:", invited.email);
    }
    println!("{}", invited.link);
    Ok(())
}

fn add_user(db_args: &DbArgs, email: &str, role: &str, org: Option<&str>, password_stdin: bool) -> Result<(), String> {
    let (password, generated) = if password_stdin {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).map_err(|e| format!("reading the password: {e}"))?;
        (input.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (crypto::random_password(), true)
    };
    let mut conn = open_db(db_args)?;
    let org_name = bootstrap::add_user_from_cli(&mut conn, email, role, &password, org).map_err(|e| e.to_string())?;
    println!("added {} as {role} to {org_name}", email.trim().to_lowercase());
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

/// Resolves at the first SIGTERM or SIGINT. Registered when called: from then on such a signal
/// no longer kills the process, it asks for a graceful stop.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot listen for SIGINT: {e}"))?;
    Ok(async move {
        futures_util::future::select(Box::pin(term.recv()), Box::pin(int.recv())).await;
    })
}

#[actix_web::main]
async fn serve(db_args: DbArgs, args: ServeArgs) -> Result<(), String> {
    // Before any worker starts: a stop that arrives while the server is still starting (the
    // processor already holding leases) is a graceful stop, not a kill. actix installs its own
    // handlers only once its server runs, which left that window open.
    let stop = stop_signal()?;
    let url = db_args.database_url()?;
    let config = Config::from_args(&args)?;
    let public_url = config.public_url.clone();
    let state = AppState::open(&url, db_args.db_pool_size, config, args.secret_key.as_deref())?;
    tracing::info!(database = %url.redacted(), "database ready");
    {
        let mut conn = state.pool.get().map_err(|e| e.to_string())?;
        match bootstrap::initialize(&mut conn, args.demo, &args.org_name, &args.admin_email)
            .map_err(|e| e.to_string())?
        {
            Initialized::Existing => {}
            Initialized::DemoSeeded => {
                let seed_rail = SimulatedRail::new(
                    state.pool.clone(),
                    SimConfig {
                        confirm_after: Duration::ZERO,
                        fail_addresses: vec![demo::DEMO_FAIL_ADDRESS.into()],
                        ..SimConfig::default()
                    },
                )
                .with_clock(state.clock.clone());
                demo::seed_payouts(&mut conn, &seed_rail).map_err(|e| e.to_string())?;
                demo::seed_sanctions(&mut conn, state.clock.now()).map_err(|e| e.to_string())?;
                tracing::info!("demo organization seeded; every demo account's password is `demo`")
            }
            Initialized::AdminCreated { email, password } => {
                println!("\n  First start: created the administrator account");
                println!("    email:    {email}\n    password: {password}");
                println!("  This password is shown only once. Sign in and add your team in Settings.\n");
            }
        }
    }
    let setup = family::Setup { pool: state.pool.clone(), clock: state.clock.clone() };
    let chains = family::connect_all(&args.chain_configs(), &setup)?;
    let mut explorers = std::collections::HashMap::new();
    for chain in &chains {
        tracing::info!(rail = chain.rail.label(), wallet = %chain.wallet, assets = ?chain.assets, "rail ready");
        for code in &chain.assets {
            if let (Some(template), Some(asset)) = (&chain.explorer_tx, payouts::domain::asset::find(code)) {
                explorers.insert(asset.code, template.clone());
            }
        }
    }
    payouts::domain::asset::set_explorers(explorers);
    let mut state = state;
    state.rails = Arc::new(chains.iter().map(|c| c.rail.clone()).collect());
    spawn_session_purge(state.clone());
    let shutdown = payouts::shutdown::Shutdown::default();
    let mut notifier = None;
    payouts::service::payouts::verify::spawn_daily(state.pool.clone(), state.clock.clone());
    if !args.no_processor {
        let mut fail_addresses = args.sim_fail_addresses.clone();
        if args.demo {
            fail_addresses.push(demo::DEMO_FAIL_ADDRESS.into());
        }
        let sim = SimConfig {
            confirm_after: Duration::from_secs(args.sim_confirm_seconds),
            fail_addresses,
            failure_per_mille: args.sim_failure_per_mille,
            ..SimConfig::default()
        };
        let processor_config = |assets| ProcessorConfig {
            lease: chrono::Duration::seconds(args.processor_lease_seconds.max(1).into()),
            assets,
            clock: state.clock.clone(),
            ..ProcessorConfig::default()
        };
        let interval = Duration::from_millis(args.processor_interval_ms.max(50));
        let mut on_chain: Vec<String> = Vec::new();
        for chain in chains {
            on_chain.extend(chain.assets.iter().cloned());
            processor::spawn(state.pool.clone(), chain.rail, processor_config(Some(chain.assets)), interval, &shutdown);
        }
        let elsewhere: Vec<String> = payouts::domain::asset::ASSETS
            .iter()
            .map(|a| a.code.to_owned())
            .filter(|c| !on_chain.contains(c))
            .collect();
        if on_chain.is_empty() || args.demo {
            // Without a real chain (or in demo mode) the simulated network pays the rest.
            let rail: Arc<dyn Rail> =
                Arc::new(SimulatedRail::new(state.pool.clone(), sim).with_clock(state.clock.clone()));
            let assets = (!on_chain.is_empty()).then_some(elsewhere);
            processor::spawn(state.pool.clone(), rail, processor_config(assets), interval, &shutdown);
        } else {
            // Once real money moves, a simulated "payment" would be a lie in the ledger: payouts
            // in assets without a chain wait until one is configured.
            tracing::warn!(assets = ?elsewhere, "no rail pays these assets; disable them in Settings → Assets");
        }
        payouts::service::outbound::webhooks::spawn(
            state.pool.clone(),
            Duration::from_secs(1),
            state.config.webhooks,
            state.clock.clone(),
            &shutdown,
        );
        if let Some(feed) = state.config.rates.clone() {
            payouts::service::outbound::rates_feed::spawn(state.pool.clone(), feed, state.clock.clone());
        }
        notifier = Some(payouts::service::outbound::sender::spawn(
            state.pool.clone(),
            state.delivery(),
            Duration::from_secs(1),
        ));
        payouts::service::payouts::schedules::spawn(state.pool.clone(), state.clock.clone(), Duration::from_secs(20));
        payouts::service::payouts::claims::spawn(state.pool.clone(), state.clock.clone(), Duration::from_secs(10));
        payouts::service::compliance::refresh::spawn(
            state.pool.clone(),
            state.config.sanctions_sources.clone(),
            Duration::from_secs(60),
            state.clock.clone(),
        );
        payouts::service::outbound::gas_watch::spawn(
            state.pool.clone(),
            state.rails.clone(),
            Duration::from_secs(60),
            state.clock.clone(),
        );
    }
    let connections = state.pool.max_size() as usize;
    let data = web::Data::new(state);
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Database work runs on each worker's blocking threads (actix's default: 512 per process,
    // which under load only queue on the pool and switch contexts). SQLite work is CPU in this
    // process, so the pool's connections are shared among the workers; PostgreSQL work mostly
    // waits on the server, so each worker may keep every connection busy (BENCHMARKS.md).
    let blocking = match url.backend() {
        db::Backend::Sqlite => connections.div_ceil(workers),
        db::Backend::Postgres => connections,
    }
    .max(1);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(configure))
        .workers(workers)
        .worker_max_blocking_threads(blocking)
        .disable_signals();
    let server = server.bind(&args.bind).map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    tracing::info!("listening on {}; open {}", args.bind, public_url);
    // SIGTERM (or Ctrl-C): actix stops accepting and lets requests in flight finish; then the
    // workers end their rounds and the processors give back their leases.
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(async move {
        stop.await;
        tracing::info!("stop asked: finishing the requests in flight");
        handle.stop(true).await;
    });
    let served = running.await.map_err(|e| e.to_string());
    tracing::info!("stopping the background workers");
    if let Some(n) = notifier {
        n.stop();
    }
    let left =
        actix_web::rt::task::spawn_blocking(move || shutdown.stop(Duration::from_secs(30))).await.unwrap_or_default();
    if left > 0 {
        tracing::warn!(left, "some workers had not finished after 30 s; their leases run out on their own");
    } else {
        tracing::info!("stopped");
    }
    served
}

/// Deletes sessions that can no longer be used and forgotten idempotency answers, every ten
/// minutes.
fn spawn_session_purge(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let (config, at) = (state.config.clone(), state.clock.now());
            let purged = state
                .run(move |conn| {
                    sessions::purge_expired(conn, &config, at)?;
                    payouts::service::access::idempotency::purge_old_answers(conn, at)
                })
                .await;
            if let Err(e) = purged {
                tracing::warn!(error = %e, "purging expired sessions and old idempotency answers failed");
            }
        }
    });
}
