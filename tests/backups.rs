//! Backups and restores are all or nothing, on both databases: of several backups to one path at
//! once exactly one wins and the others say the file exists; a leftover `X.partial` is never
//! deleted; a backup carries its checksum and a changed byte is refused; a restore whose books
//! are not whole leaves nothing behind (SQLite: no file; PostgreSQL: the database as empty as it
//! was).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{TestApp, TestDb, backends, url_string};
use diesel::prelude::*;
use payouts::db::Backend;
use payouts::db::schema::balances;

fn cli(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_payouts"));
    c.args(args).env_remove("DATABASE_URL").env_remove("PAYOUTS_DATA_DIR").env("RUST_LOG", "warn");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The files in `dir`, by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Does a PostgreSQL database hold anything of its own in `public`?
fn pg_objects(url: &payouts::db::DatabaseUrl) -> usize {
    let mut conn = payouts::db::connect(url, 1).unwrap().get().unwrap();
    payouts::db::objects::public_objects(&mut conn).unwrap().len()
}

#[actix_web::test]
async fn backups_racing_to_one_path_leave_exactly_one_winner_and_never_touch_a_partial_file() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let url = url_string(backend, &app.url);
        let dir = tempfile::tempdir().unwrap();
        for trial in 0..5 {
            let target = dir.path().join(format!("race-{trial}.backup"));
            let target_arg = target.to_str().unwrap().to_owned();
            let outs: Vec<Output> = std::thread::scope(|s| {
                let runs: Vec<_> = (0..4)
                    .map(|_| {
                        let (url, target) = (url.clone(), target_arg.clone());
                        s.spawn(move || cli(&["backup", "--to", &target], &[("DATABASE_URL", &url)]))
                    })
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let won: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
            assert_eq!(won.len(), 1, "[{backend:?}] trial {trial}: {:#?}", outs.iter().map(text).collect::<Vec<_>>());
            for lost in outs.iter().filter(|o| !o.status.success()) {
                assert!(text(lost).contains("already exists"), "[{backend:?}] trial {trial}: {}", text(lost));
            }
            // Only the backup itself remains: no temporary file of any of the four.
            assert_eq!(
                files_in(dir.path()).iter().filter(|n| n.contains(&format!("race-{trial}"))).count(),
                1,
                "[{backend:?}] {:?}",
                files_in(dir.path())
            );
            // And it restores.
            let (_db, restored) = TestDb::create(backend);
            let out = cli(&["restore", "--from", &target_arg], &[("DATABASE_URL", &url_string(backend, &restored))]);
            assert_eq!(out.status.code(), Some(0), "[{backend:?}] trial {trial}: {}", text(&out));
        }

        // An X.partial left by another program (or an older version) is never deleted.
        let target = dir.path().join("kept.backup");
        let partial = dir.path().join("kept.backup.partial");
        std::fs::write(&partial, b"someone else's bytes").unwrap();
        let out = cli(&["backup", "--to", target.to_str().unwrap()], &[("DATABASE_URL", &url)]);
        assert_ne!(out.status.code(), Some(0), "[{backend:?}]");
        assert!(text(&out).contains("kept.backup.partial exists"), "[{backend:?}] {}", text(&out));
        assert_eq!(std::fs::read(&partial).unwrap(), b"someone else's bytes", "[{backend:?}] untouched");
        assert!(!target.exists(), "[{backend:?}]");
    }
}

/// A payout whose description carries digits, so that one can be changed in the file.
fn a_payout(app: &TestApp) {
    let accountant = common::actor(app, "accountant@demo.local");
    let form = payouts::service::payouts::SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: "12".into(),
        description: "Invoice 2026-114, design work".into(),
        address: common::TRON_ADDRESS.into(),
        ..Default::default()
    };
    let draft = payouts::service::payouts::check_single(&mut app.conn(), &accountant, &form).unwrap();
    payouts::service::payouts::create(&mut app.conn(), &accountant, &draft, "invoice").unwrap();
}

#[actix_web::test]
async fn a_backup_changed_after_it_was_written_is_refused_and_nothing_is_created() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        a_payout(&app);
        let url = url_string(backend, &app.url);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("payouts.backup");
        let out = cli(&["backup", "--to", file.to_str().unwrap()], &[("DATABASE_URL", &url)]);
        assert_eq!(out.status.code(), Some(0), "[{backend:?}] {}", text(&out));
        assert!(text(&out).contains("SHA-256"), "[{backend:?}] {}", text(&out));
        let original = std::fs::read(&file).unwrap();
        let header_end = original.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
        assert!(original.starts_with(b"PAYOUTS-BACKUP 1\nproduct: payouts "), "[{backend:?}]");

        let mut changed = original.clone();
        match backend {
            // One digit of a payout description.
            Backend::Sqlite => {
                let needle = b"Invoice 2026-114";
                let at = changed[header_end..].windows(needle.len()).position(|w| w == needle).expect("a description")
                    + header_end;
                let digit = changed[at..].iter().position(u8::is_ascii_digit).expect("a digit") + at;
                changed[digit] = if changed[digit] == b'9' { b'8' } else { changed[digit] + 1 };
            }
            // pg_dump compresses its data: one byte in the middle of it.
            Backend::Postgres => {
                let at = header_end + (changed.len() - header_end) / 2;
                changed[at] ^= 0x01;
            }
        }
        std::fs::write(&file, &changed).unwrap();
        let data = dir.path().join("fresh-data");
        let (_db, target) = TestDb::create(backend);
        let envs: Vec<(&str, String)> = match backend {
            Backend::Sqlite => vec![("PAYOUTS_DATA_DIR", data.to_str().unwrap().to_owned())],
            Backend::Postgres => vec![("DATABASE_URL", url_string(backend, &target))],
        };
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = cli(&["restore", "--from", file.to_str().unwrap()], &envs);
        assert_eq!(out.status.code(), Some(2), "[{backend:?}] {}", text(&out));
        assert!(text(&out).contains("does not match its checksum"), "[{backend:?}] {}", text(&out));
        match backend {
            Backend::Sqlite => assert!(!data.exists(), "[{backend:?}] {:?}", files_in(&data)),
            Backend::Postgres => assert_eq!(pg_objects(&target), 0, "[{backend:?}]"),
        }
    }
}

#[actix_web::test]
async fn a_restore_whose_books_are_not_whole_leaves_nothing_behind() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        app.books_broken_on_purpose.store(true, std::sync::atomic::Ordering::SeqCst);
        // A balance changed in place: the books are not whole, the backup is faithful to that.
        diesel::update(balances::table.filter(balances::asset.eq("USDT_TRC20")))
            .set(balances::available.eq("123456789"))
            .execute(&mut **app.conn())
            .unwrap();
        let url = url_string(backend, &app.url);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.backup");
        let out = cli(&["backup", "--to", file.to_str().unwrap()], &[("DATABASE_URL", &url)]);
        assert_eq!(out.status.code(), Some(0), "[{backend:?}] {}", text(&out));

        match backend {
            Backend::Sqlite => {
                // Into an empty data directory: none before, none after.
                let data = dir.path().join("data");
                let out = cli(
                    &["restore", "--from", file.to_str().unwrap()],
                    &[("PAYOUTS_DATA_DIR", data.to_str().unwrap())],
                );
                assert_eq!(out.status.code(), Some(1), "[{backend:?}] {}", text(&out));
                assert!(text(&out).contains("problem:"), "[{backend:?}] {}", text(&out));
                assert!(text(&out).contains("nothing was restored"), "[{backend:?}] {}", text(&out));
                assert!(!data.exists(), "[{backend:?}] {:?}", files_in(&data));
                // Into an existing empty one: it stays empty.
                std::fs::create_dir(&data).unwrap();
                let out = cli(
                    &["restore", "--from", file.to_str().unwrap()],
                    &[("PAYOUTS_DATA_DIR", data.to_str().unwrap())],
                );
                assert_eq!(out.status.code(), Some(1), "[{backend:?}] {}", text(&out));
                assert_eq!(files_in(&data), Vec::<String>::new(), "[{backend:?}]");
                // The next start does not find a half-restored database.
                assert!(!data.join("payouts.sqlite3").exists());
            }
            Backend::Postgres => {
                let (_db, target) = TestDb::create(backend);
                let before = pg_objects(&target);
                let out = cli(
                    &["restore", "--from", file.to_str().unwrap()],
                    &[("DATABASE_URL", &url_string(backend, &target))],
                );
                assert_eq!(out.status.code(), Some(1), "[{backend:?}] {}", text(&out));
                assert!(text(&out).contains("the database is empty again"), "[{backend:?}] {}", text(&out));
                assert_eq!(pg_objects(&target), before, "[{backend:?}] as empty as it was");
            }
        }
    }
}
