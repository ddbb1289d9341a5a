//! `payouts check-registry` and `payouts check-address`: reports and exit codes.

use std::process::{Command, Output};

use serde_json::Value;

const EVM: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const EVM2: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payouts")).args(args).env_remove("DATABASE_URL").output().unwrap()
}

fn registry_file(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, content).unwrap();
    f
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn valid_registry_exits_zero_with_a_summary() {
    let f = registry_file(format!("address,amount,comment\n{EVM},100,May salary\n{EVM2},250.5,\n").as_bytes());
    let out = run(&["check-registry", "--asset", "USDT_ERC20", "--format", "json", f.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["amount"], "100");
    assert_eq!(lines[1]["address"], EVM2);
    assert_eq!(lines[2]["summary"]["rows"], 2);
    assert_eq!(lines[2]["summary"]["valid"], 2);
    assert_eq!(lines[2]["summary"]["total"], "350.5");
    // 0.25 % of each row, at least 0.3: 0.3 + 0.62625 rounded up to 0.626250.
    assert_eq!(lines[2]["summary"]["fee"], "0.92625");
}

#[test]
fn invalid_rows_exit_one_and_name_line_and_column() {
    let f = registry_file(
        format!("address,amount\n{EVM},1e3\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,5\n{EVM2},5\n").as_bytes(),
    );
    let out = run(&["check-registry", "--asset", "USDT_ERC20", "--format", "json", f.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["ok"], false);
    assert_eq!(lines[0]["errors"][0]["column"], "amount");
    assert!(lines[0]["errors"][0]["message"].as_str().unwrap().contains("scientific notation"));
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[1]["errors"][0]["column"], "address");
    assert_eq!(lines[3]["summary"]["invalid"], 2);

    let text = run(&["check-registry", "--asset", "USDT_ERC20", f.path().to_str().unwrap()]);
    assert_eq!(text.status.code(), Some(1));
    let report = String::from_utf8_lossy(&text.stdout);
    assert!(
        report.contains("line 3, column address: error: This is a TRON address, but USDT_ERC20 pays on Ethereum."),
        "{report}"
    );
    assert!(report.contains("3 rows: 1 valid, 2 invalid."), "{report}");
}

#[test]
fn unreadable_files_exit_two() {
    let gzip = registry_file(&[0x1F, 0x8B, 8, 0, 0, 0, 0, 0]);
    let out = run(&["check-registry", "--asset", "ETH", gzip.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("compressed (gzip)"));

    let header_only = registry_file(b"address,amount\n");
    let out = run(&["check-registry", "--asset", "ETH", "--format", "json", header_only.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(json_lines(&out)[0]["error"].as_str().unwrap().contains("no recipients"));

    let out = run(&["check-registry", "--asset", "ETH", "/nonexistent/registry.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["check-registry", "--asset", "XRP", header_only.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown asset"));
}

#[test]
fn too_many_rows_is_one_clear_error() {
    let f = registry_file(format!("address,amount\n{}", format!("{EVM},1\n").repeat(6)).as_bytes());
    let out = run(&["check-registry", "--asset", "USDT_ERC20", "--max-rows", "5", f.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("more than 5 recipients"));
}

#[test]
fn check_address_reports_validity() {
    let out = run(&["check-address", "--asset", "BTC", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["check-address", "--asset", "USDT_TRC20", "--format", "json", EVM]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let message = v["errors"][0].as_str().unwrap();
    assert!(
        message.starts_with("This is an EVM address") && message.ends_with("but USDT_TRC20 pays on TRON."),
        "{message}"
    );
}
