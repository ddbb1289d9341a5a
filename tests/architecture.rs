//! The house keeps its shape: each context has one room under `src/service/`, and arrows run one
//! way (ARCHITECTURE.md). Fails when a room uses one it may not, when an unknown room appears,
//! when a lower layer (`domain`, `db`, `rails`, `config`) reaches up, when anything but the clock
//! reads the system time, when the API reaches the database, or when the web layer's own modules
//! import each other in a circle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each room and the rooms it may use. `views` (the JSON shapes) uses none.
const ROOMS: [(&str, &[&str]); 8] = [
    ("access", &["views"]),
    ("valuation", &["access"]),
    ("compliance", &["access"]),
    ("payees", &["compliance", "valuation", "access", "views"]),
    ("payouts", &["payees", "compliance", "valuation", "access", "views"]),
    ("portal", &["payees", "compliance", "access", "views"]),
    ("outbound", &["payouts", "payees", "portal", "compliance", "valuation", "access", "views"]),
    ("views", &[]),
];

/// Layers below the services and what they must not name.
const LAYERS: [(&str, &[&str]); 6] = [
    ("src/domain", &["crate::db", "crate::service", "crate::web", "crate::rails", "crate::clock::now"]),
    ("src/db", &["crate::service", "crate::web", "crate::rails"]),
    ("src/rails", &["crate::service", "crate::web", "crate::clock::now"]),
    ("src/service", &["crate::web"]),
    ("src/clock.rs", &["crate::service", "crate::web"]),
    // Configuration is plain parsed settings below every service: the services and `main` build
    // workers from it, never the other way round.
    ("src/config", &["crate::service", "crate::web"]),
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return out;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The code of a file without its comments, so that prose naming a path is not an import.
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every room named after `crate::service::` in `code`.
fn rooms_named(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::service::") {
        rest = &rest[i + "crate::service::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        named.insert(name);
    }
    named
}

/// What is wrong with the source tree at `root`, one line each.
fn check(root: &Path) -> Vec<String> {
    let mut wrong = Vec::new();
    let service = root.join("src/service");
    let known: BTreeSet<&str> = ROOMS.iter().map(|(r, _)| *r).collect();
    for e in std::fs::read_dir(&service).expect("src/service").flatten() {
        let name = e.file_name().to_string_lossy().trim_end_matches(".rs").to_owned();
        if name != "mod" && !known.contains(name.as_str()) {
            wrong.push(format!("src/service/{name}: not a room; put it in the room that owns it (ARCHITECTURE.md)"));
        }
    }
    for (room, may_use) in ROOMS {
        for file in rust_files(&service.join(room)) {
            let code = code_of(&file);
            if code.contains("super::super::") {
                wrong.push(format!("{}: reaches out of its room with super::super", file.display()));
            }
            for other in rooms_named(&code) {
                if other != room && !may_use.contains(&other.as_str()) {
                    wrong.push(format!("{}: room {room} uses room {other}, an arrow it may not have", file.display()));
                }
            }
        }
    }
    for (layer, forbidden) in LAYERS {
        for file in rust_files(&root.join(layer)) {
            let code = code_of(&file);
            for f in forbidden {
                if code.contains(f) {
                    wrong.push(format!(
                        "{}: {layer} must not name {f} (an arrow back up, or time not from the Clock)",
                        file.display()
                    ));
                }
            }
        }
    }
    // Time comes from the app's Clock: only src/clock.rs reads the system's.
    for file in rust_files(&root.join("src")) {
        if file.ends_with("src/clock.rs") {
            continue;
        }
        let code = code_of(&file);
        for reads in ["clock::now(", "Utc::now(", "Local::now(", "SystemTime::now("] {
            if code.contains(reads) {
                wrong.push(format!("{}: reads the system time ({reads}); take the app's Clock", file.display()));
            }
        }
    }
    wrong.extend(web_circles(&root.join("src/web")));
    // The API is a face: JSON shapes and problem+json, the same services as the pages.
    for file in rust_files(&root.join("src/web/api")) {
        for line in code_of(&file).lines() {
            if line.contains("db::") && !line.trim_start().starts_with("use ") {
                wrong.push(format!(
                    "{}: the API reaches the database ({}); call a service",
                    file.display(),
                    line.trim()
                ));
            }
        }
    }
    wrong
}

/// Circles among the web layer's own modules (`src/web/*.rs`, and the folders `pages`, `api`
/// as one module each): a module that names another through `super::` or `crate::web::` uses it.
fn web_circles(web: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(web) else { return Vec::new() };
    let mut modules: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .filter(|(name, _)| name != "mod")
        .collect();
    modules.sort();
    let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
    let uses: Vec<BTreeSet<usize>> = modules
        .iter()
        .map(|(me, path)| {
            let code: String = rust_files(path).iter().map(|f| code_of(f)).collect::<Vec<_>>().join("\n");
            names
                .iter()
                .enumerate()
                .filter(|(_, other)| **other != me.as_str())
                .filter(|(_, other)| {
                    ["super::", "crate::web::", "super::super::"].iter().any(|p| {
                        code.match_indices(&format!("{p}{other}")).any(|(i, m)| {
                            let next = code[i + m.len()..].chars().next();
                            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                        })
                    })
                })
                .map(|(n, _)| n)
                .collect()
        })
        .collect();
    // A module on a circle reaches itself again.
    let mut wrong = Vec::new();
    for start in 0..names.len() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = uses[start].iter().copied().collect();
        while let Some(m) = stack.pop() {
            if m == start {
                wrong.push(format!("src/web/{}: on a circle of web modules importing each other", names[start]));
                break;
            }
            if seen.insert(m) {
                stack.extend(uses[m].iter().copied());
            }
        }
    }
    wrong
}

#[test]
fn rooms_use_only_the_rooms_below_them_and_no_layer_reaches_up() {
    let wrong = check(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(wrong.is_empty(), "the house lost its shape:\n{}", wrong.join("\n"));
}

#[test]
fn rooms_form_no_circle() {
    // The table itself: a room may use only rooms listed before it is settled (a topological order).
    let mut settled: Vec<&str> = Vec::new();
    let mut left: Vec<(&str, &[&str])> = ROOMS.to_vec();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|(room, uses)| {
            if uses.iter().all(|u| settled.contains(u)) {
                settled.push(room);
                false
            } else {
                true
            }
        });
        assert!(left.len() < before, "the rooms' arrows form a circle: {left:?}");
    }
}

/// The check can fail: a tree shaped like the flat service folder of before, with a circle and an
/// arrow back up, is refused on every count.
#[test]
fn the_check_refuses_a_flat_service_folder_a_circle_and_an_arrow_back_up() {
    let dir = std::env::temp_dir().join(format!("payouts-arch-{}", std::process::id()));
    let write = |path: &str, text: &str| {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("src/service/mod.rs", "pub mod payouts;\npub mod webhooks;\n");
    write("src/service/webhooks.rs", "use crate::service::payouts::view;\n");
    write("src/service/access/mod.rs", "use crate::service::payouts::approvals; // the circle\n");
    write(
        "src/service/payouts/mod.rs",
        "use crate::service::access::Actor;\n// crate::service::outbound in prose is fine\n",
    );
    write("src/service/payees/mod.rs", "use crate::service::payouts::stored_amount;\n");
    write("src/rails/simulated.rs", "let t = crate::service::now();\n");
    write("src/domain/money.rs", "use crate::db::DbConnection;\n");
    write("src/service/payouts/create.rs", "use crate::service::access::Actor;\nlet at = crate::clock::now();\n");
    write("src/web/api/payouts.rs", "use crate::db::DbConnection;\nlet row = db::payouts::find(conn, id)?;\n");
    write("src/config/mod.rs", "use crate::service::outbound::rates_feed::Feed;\n");
    write("src/web/context.rs", "use super::error_page::render;\nuse super::contexts_elsewhere;\n");
    write("src/web/error_page.rs", "use super::layout::Layout;\n");
    write("src/web/layout.rs", "use super::context::RequestContext;\n");
    let wrong = check(&dir);
    std::fs::remove_dir_all(&dir).ok();
    let has = |needle: &str| wrong.iter().any(|w| w.contains(needle));
    assert!(has("src/service/webhooks: not a room"), "{wrong:#?}");
    assert!(has("room access uses room payouts"), "{wrong:#?}");
    assert!(has("room payees uses room payouts"), "{wrong:#?}");
    assert!(has("simulated.rs: src/rails must not name crate::service"), "{wrong:#?}");
    assert!(has("money.rs: src/domain must not name crate::db"), "{wrong:#?}");
    assert!(has("payouts/create.rs: reads the system time (clock::now("), "{wrong:#?}");
    assert!(has("the API reaches the database (let row = db::payouts::find"), "{wrong:#?}");
    assert!(has("src/config/mod.rs: src/config must not name crate::service"), "{wrong:#?}");
    for module in ["context", "error_page", "layout"] {
        assert!(has(&format!("src/web/{module}: on a circle")), "{wrong:#?}");
    }
    assert!(!has("src/web/api: on a circle"), "{wrong:#?}");
    assert!(!has("outbound"), "prose is not an import: {wrong:#?}");
    assert_eq!(wrong.len(), 11, "{wrong:#?}");
}
