//! The README's demo, run in its short mode: it must end verified, with its
//! figures adding up.

use std::process::Command;

use serde_json::Value;

#[test]
fn the_demo_ends_verified_in_short_mode() {
    let out = Command::new(env!("CARGO_BIN_EXE_hotich-demo"))
        .args(["--short", "--json"])
        .output()
        .expect("run hotich-demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("Dashboard: http://127.0.0.1:"), "{stderr}");
    let summary: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("a JSON summary last");
    // 300 records in each of three communes, three bad rows in each.
    assert_eq!(summary["verified"], true, "{summary:#}");
    assert_eq!(summary["accepted"], 3 * 297, "{summary:#}");
    assert_eq!(summary["stored_centrally"], 3 * 297, "{summary:#}");
    assert_eq!(summary["duplicates"], 0);
    assert_eq!(summary["missing"], 0);
    let refused = summary["refused"].as_array().expect("refused");
    assert_eq!(refused.len(), 9, "{summary:#}");
    for r in refused {
        assert!(
            r["reason"].as_str().is_some_and(|s| !s.is_empty()) && r["line"].is_u64(),
            "{r}"
        );
    }
    // The flaky link was cut and the down one refused: many connections.
    assert!(summary["connections"].as_u64().unwrap() > 6, "{summary:#}");
}
