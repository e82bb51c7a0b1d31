//! Setup that checks itself: `init` asks the server who the token belongs
//! to before writing anything, and `doctor` runs the same checks later with
//! the disk, the journal and the service.

use std::process::Command;

use hotich_tests::harness::{Db, agent_cmd, run, server_bin, stderr, stdout};
use hotich_tests::{TestAgent, TestServer};
use serde_json::Value;

fn init(
    data: &std::path::Path,
    server: &str,
    token: &str,
    commune: &str,
    extra: &[&str],
) -> std::process::Output {
    run(agent_cmd()
        .arg("--data-dir")
        .arg(data)
        .args([
            "init",
            "--server",
            server,
            "--token",
            token,
            "--commune",
            commune,
        ])
        .args(extra))
}

fn doctor(agent: &TestAgent) -> (Option<i32>, Value) {
    let out = agent.cmd(&["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json: {e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code(), report)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {report}"))
}

#[test]
fn init_confirms_the_token_and_commune_with_the_server_before_writing_anything() {
    let server = TestServer::start();
    let token = server.add_agent_with(
        "00004",
        &["--province", "Dak Lak", "--name", "UBND xã Tân Lập"],
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agent");

    let wrong_token = init(&data, &server.url(), "hts_not_a_real_token", "00004", &[]);
    assert_eq!(wrong_token.status.code(), Some(2));
    let err = stderr(&wrong_token);
    assert!(
        err.contains("does not accept this token") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!data.join("config.toml").exists());

    let wrong_commune = init(&data, &server.url(), &token, "00005", &[]);
    assert_eq!(wrong_commune.status.code(), Some(2));
    let err = stderr(&wrong_commune);
    assert!(err.contains("belongs to commune 00004, not 00005"), "{err}");
    assert!(!data.join("config.toml").exists());

    let unreachable = init(&data, "http://127.0.0.1:9", &token, "00004", &[]);
    assert_eq!(unreachable.status.code(), Some(2));
    let err = stderr(&unreachable);
    assert!(
        err.contains("cannot check the setup") && err.contains("--offline"),
        "{err}"
    );
    assert!(!data.join("config.toml").exists());

    let ok = init(&data, &server.url(), &token, "00004", &[]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok)
            .contains("The server knows this token: commune 00004 (UBND xã Tân Lập, Đắk Lắk)"),
        "{}",
        stdout(&ok)
    );
    assert!(data.join("config.toml").exists());

    // No network at install time: --offline writes the setup and says so.
    let offline_dir = dir.path().join("offline");
    let offline = init(
        &offline_dir,
        "http://127.0.0.1:9",
        &token,
        "00004",
        &["--offline"],
    );
    assert!(offline.status.success(), "{}", stderr(&offline));
    assert!(stdout(&offline).contains("doctor"), "{}", stdout(&offline));
}

#[test]
fn init_checks_tls_against_the_given_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let server = TestServer::start_with(
        Db::Sqlite,
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    let token = server.add_agent("00004");
    let url = format!("https://localhost:{}", server.addr.port());
    let data = dir.path().join("agent");
    let untrusted = init(&data, &url, &token, "00004", &[]);
    assert_eq!(untrusted.status.code(), Some(2));
    let err = stderr(&untrusted);
    assert!(
        err.contains("cannot check the setup") && err.contains("invalid peer certificate"),
        "{err}"
    );
    // One line for the person, no log noise from the TLS library.
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!data.join("config.toml").exists());
    let trusted = init(
        &data,
        &url,
        &token,
        "00004",
        &["--ca-cert", cert_path.to_str().unwrap()],
    );
    assert!(trusted.status.success(), "{}", stderr(&trusted));
}

#[test]
fn doctor_reports_the_server_clock_disk_journal_and_service() {
    let server = TestServer::start();
    let token = server.add_agent("00004");
    let mut agent = TestAgent::init(&server.url(), &token, "00004");
    let (code, report) = doctor(&agent);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["ok"], true);
    for name in ["config", "server", "clock", "disk", "journal"] {
        assert_eq!(check(&report, name)["status"], "ok", "{report}");
    }
    assert!(
        check(&report, "clock")["detail"]
            .as_str()
            .unwrap()
            .contains("s off")
    );
    // No service yet: a warning, not a failure.
    assert_eq!(check(&report, "service")["status"], "warn");
    agent.start_service();
    let (_, report) = doctor(&agent);
    assert_eq!(check(&report, "service")["status"], "ok", "{report}");
    assert!(agent.stop_service());

    // The token revoked at the server: doctor says so and exits 1.
    let out = run(Command::new(server_bin()).args([
        "agent",
        "revoke",
        "--database",
        &server.database,
        "1",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let (code, report) = doctor(&agent);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["ok"], false);
    let server_check = check(&report, "server");
    assert_eq!(server_check["status"], "fail");
    assert!(
        server_check["detail"].as_str().unwrap().contains("token"),
        "{server_check}"
    );
    // Vietnamese by default.
    let out = run(agent.command().env("HOTICH_LANG", "vi").arg("doctor"));
    assert!(stdout(&out).contains("✗ Máy chủ"), "{}", stdout(&out));
}
