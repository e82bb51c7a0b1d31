use super::*;

fn keys(source: &str) -> std::collections::BTreeSet<String> {
    source
        .lines()
        .filter_map(|l| l.split_once(" ="))
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('#') && !k.contains(' '))
        .collect()
}

#[test]
fn both_catalogs_parse_and_hold_the_same_messages() {
    for (name, source) in [("vi.ftl", VI), ("en.ftl", EN)] {
        if let Err((_, errors)) = FluentResource::try_new(source.to_string()) {
            panic!("{name}: {errors:?}");
        }
    }
    let (vi, en) = (keys(VI), keys(EN));
    let only_vi: Vec<_> = vi.difference(&en).collect();
    let only_en: Vec<_> = en.difference(&vi).collect();
    assert!(
        only_vi.is_empty() && only_en.is_empty(),
        "only in vi: {only_vi:?}; only in en: {only_en:?}"
    );
}

/// Every message the code asks for by name is in the catalogs (the code is
/// read as text: `tr!("id"` and `message("id"`).
#[test]
fn every_message_the_code_uses_is_in_the_catalogs() {
    let vi = keys(VI);
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut missing = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            if path.parent().is_some_and(|p| p.ends_with("i18n")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for marker in ["tr!(", "message("] {
                for (i, _) in text.match_indices(marker) {
                    let Some(rest) = text[i + marker.len()..].trim_start().strip_prefix('"') else {
                        continue;
                    };
                    let id: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                        .collect();
                    let closed = rest[id.len()..].starts_with('"');
                    if closed && !id.is_empty() && !vi.contains(&id) {
                        missing.push(format!("{}: {id}", path.display()));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn every_problem_code_and_error_kind_has_words() {
    let (vi, en) = (keys(VI), keys(EN));
    let agent_codes = [
        "id-scientific",
        "no-kind",
        "cells-count",
        "foreign-column",
        "other-commune",
        "legacy-encoding",
        "conflict-new",
        "conflict-stale",
        "hash-mismatch",
    ];
    for code in hotich_protocol::validate::CODES
        .iter()
        .chain(agent_codes.iter())
    {
        let id = format!("problem-{code}");
        assert!(vi.contains(&id) && en.contains(&id), "{id}");
    }
    let kinds = [
        "connect",
        "timeout",
        "transport",
        "unavailable",
        "unauthorized",
        "forbidden",
        "too-large",
        "refused",
        "bad-answer",
        "setup",
        "journal-behind",
        "journal-differs",
        "internal",
    ];
    for kind in kinds {
        let id = format!("api-error-{kind}");
        assert!(vi.contains(&id) && en.contains(&id), "{id}");
    }
    for v in ["null", "boolean", "number", "text", "list", "object"] {
        assert!(vi.contains(&format!("type-{v}")), "type-{v}");
    }
}

#[test]
fn messages_are_worded_with_their_values() {
    let args = [
        ("stored", Arg::from(3u64)),
        ("refused", Arg::from(1u64)),
        ("pending", Arg::from(0u64)),
    ];
    let vi = message_in(Lang::Vi, "sync-complete", &args);
    assert_eq!(
        vi,
        "Đồng bộ xong: 3 hồ sơ đã lưu ở máy chủ, 1 bị từ chối, còn 0 chờ."
    );
    let en = message_in(Lang::En, "sync-complete", &args);
    assert_eq!(
        en,
        "Sync complete: 3 record(s) stored centrally, 1 refused, 0 waiting."
    );
    assert!(message_in(Lang::Vi, "no-such-message", &[]).starts_with("[no-such-message]"));
}
