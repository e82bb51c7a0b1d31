//! The sentences the server stores about an agent (integrity alerts and
//! contact history), in one place for both of their readers.
//!
//! The store writes each detail in English, filled from a template below:
//! logs, the JSON API and the `alerts` command show it as written. The
//! dashboard reads the figures back out of the same English template and
//! fills the viewer's language with them. Writing and reading share one
//! template, so a change of wording cannot strand the page on old text; a
//! detail that fits no template (written by an older server, say) is shown
//! as stored.

use std::fmt::Display;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn from_query(lang: Option<&str>) -> Lang {
        match lang.map(str::trim) {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

/// (key, Vietnamese, English). Placeholders are `{name}`; no two are
/// adjacent, so each one ends where the words after it begin.
pub const DETAILS: &[(&str, &str, &str)] = &[
    (
        "history-contact",
        "{waiting} đang chờ, {refused} bị từ chối",
        "{waiting} waiting, {refused} refused",
    ),
    ("history-recovered", "gửi lại được", "sending again"),
    // The agent's own words follow its kind of error, which is worded here.
    ("history-error", "{kind}: {message}", "{kind}: {message}"),
    (
        "history-device",
        "nhật ký {old} trước đây, nhật ký {new} bây giờ: có thể hai máy đang dùng chung một mã",
        "journal {old} before, journal {new} now: two PCs may share one token",
    ),
    (
        "alert-rewrite",
        "mục #{seq} đã được nhận trước đó với nội dung khác; giữ bản nhận đầu tiên",
        "entry #{seq} was received before with different content; the first version is kept",
    ),
    (
        "alert-fork-first",
        "mục #1 không mở đầu một nhật ký mới",
        "entry #1 does not start a new chain",
    ),
    (
        "alert-fork",
        "mục #{seq} không nối tiếp mục #{prev} đã nhận trước đó",
        "entry #{seq} does not link to the entry #{prev} received earlier",
    ),
    (
        "alert-gap",
        "mục #{seq} đến trước mục #{prev}",
        "entry #{seq} arrived before entry #{prev}",
    ),
    (
        "alert-more-range",
        "thêm {n} cảnh báo trong cùng lô ({counts}), mục #{low} đến #{high}",
        "{n} more alerts in the same batch ({counts}), entries #{low} to #{high}",
    ),
    (
        "alert-more",
        "thêm {n} cảnh báo trong cùng lô ({counts})",
        "{n} more alerts in the same batch ({counts})",
    ),
];

/// The labels of alert kinds, as the `more` alert's breakdown names them.
pub const ALERT_KINDS: &[(&str, &str, &str)] = &[
    ("rewrite", "Gửi lại khác nội dung", "Rewrite"),
    ("fork", "Rẽ nhánh", "Fork"),
    ("gap", "Đến không theo thứ tự", "Gap"),
    ("more", "Còn nữa", "More"),
    ("two-devices", "Hai máy dùng chung một mã", "Two devices"),
];

/// An agent's kinds of failure (`ApiError::kind` in the agent), as district
/// IT reads them; the agent's message (English) follows.
pub const ERROR_KINDS: &[(&str, &str, &str)] = &[
    (
        "connect",
        "Không kết nối được máy chủ",
        "Cannot reach the server",
    ),
    (
        "timeout",
        "Máy chủ không trả lời kịp",
        "The server did not answer in time",
    ),
    (
        "transport",
        "Kết nối bị đứt giữa chừng",
        "The connection broke",
    ),
    (
        "unavailable",
        "Máy chủ bận hoặc tạm ngừng",
        "The server was busy or paused",
    ),
    (
        "unauthorized",
        "Mã khóa của máy bị từ chối",
        "The PC's token was refused",
    ),
    (
        "forbidden",
        "Máy chủ từ chối máy này",
        "The server refuses this PC",
    ),
    (
        "too-large",
        "Yêu cầu quá lớn với máy chủ",
        "A request was too large for the server",
    ),
    (
        "refused",
        "Máy chủ từ chối yêu cầu",
        "The server refused a request",
    ),
    (
        "bad-answer",
        "Không đọc được câu trả lời của máy chủ",
        "The server's answer could not be read",
    ),
    (
        "setup",
        "Không thiết lập được kết nối",
        "The connection could not be set up",
    ),
    (
        "internal",
        "Lỗi bên trong chương trình",
        "An internal error of the agent",
    ),
    (
        "journal-behind",
        "Nhật ký trên máy ít hơn ở máy chủ, đã dừng gửi",
        "The PC's journal is behind the server's; sending stopped",
    ),
    (
        "journal-differs",
        "Nhật ký trên máy khác với máy chủ, đã dừng gửi",
        "The PC's journal differs from the server's; sending stopped",
    ),
    (
        "too-old",
        "Phiên bản hotich-agent quá cũ",
        "hotich-agent is too old",
    ),
];

fn label(table: &[(&str, &str, &str)], lang: Lang, key: &str) -> String {
    table.iter().find(|(k, _, _)| *k == key).map_or_else(
        || key.to_string(),
        |(_, vi, en)| match lang {
            Lang::Vi => vi.to_string(),
            Lang::En => en.to_string(),
        },
    )
}

/// An agent's error in `lang`: its kind worded, then its own message.
pub fn error_text(lang: Lang, kind: Option<&str>, message: &str) -> String {
    match kind {
        Some(kind) => format!("{}: {message}", label(ERROR_KINDS, lang, kind)),
        None => message.to_string(),
    }
}

fn template(lang: Lang, key: &str) -> Option<&'static str> {
    DETAILS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, vi, en)| match lang {
            Lang::Vi => *vi,
            Lang::En => *en,
        })
}

/// `template` with each `{name}` replaced by its value.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

/// The values of `template`'s placeholders in `text`, if `text` has its shape.
fn read(template: &str, text: &str) -> Option<Vec<(String, String)>> {
    let mut values = Vec::new();
    let mut rest_template = template;
    let mut rest_text = text;
    loop {
        let Some(open) = rest_template.find('{') else {
            return (rest_template == rest_text).then_some(values);
        };
        let literal = &rest_template[..open];
        rest_text = rest_text.strip_prefix(literal)?;
        let close = open + rest_template[open..].find('}')?;
        let name = &rest_template[open + 1..close];
        rest_template = &rest_template[close + 1..];
        let next = rest_template.find('{').unwrap_or(rest_template.len());
        let following = &rest_template[..next];
        let end = if following.is_empty() {
            rest_text.len()
        } else {
            rest_text.find(following)?
        };
        values.push((name.to_string(), rest_text[..end].to_string()));
        rest_text = &rest_text[end..];
    }
}

/// The stored (English) sentence `key` with these values; the key itself
/// if there is no such sentence (a unit test checks every key the store
/// writes has one).
pub fn english(key: &str, values: &[(&str, &dyn Display)]) -> String {
    let owned: Vec<(&str, String)> = values.iter().map(|(n, v)| (*n, v.to_string())).collect();
    template(Lang::En, key).map_or_else(|| key.to_string(), |t| fill(t, &owned))
}

/// The stored sentence `detail` in `lang`, read with the first of `keys`
/// whose English template it fits; `None` if it fits none.
pub fn reword(lang: Lang, keys: &[&str], detail: &str) -> Option<String> {
    keys.iter().find_map(|key| {
        let mut values = read(template(Lang::En, key)?, detail)?;
        for (name, value) in &mut values {
            match name.as_str() {
                "counts" => *value = reword_counts(lang, value)?,
                "kind" => *value = label(ERROR_KINDS, lang, value),
                _ => {}
            }
        }
        let values: Vec<(&str, String)> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        Some(fill(template(lang, key)?, &values))
    })
}

/// "40 gap, 2 fork", as the `more` alert counts the alerts it stands for.
pub fn counts(kinds: &[(String, usize)]) -> String {
    let counted: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    counted.join(", ")
}

fn reword_counts(lang: Lang, counts: &str) -> Option<String> {
    let worded: Option<Vec<String>> = counts
        .split(", ")
        .map(|count| {
            let (n, kind) = count.split_once(' ')?;
            n.parse::<u64>().ok()?;
            Some(format!("{n} {}", kind_label(lang, kind).to_lowercase()))
        })
        .collect();
    Some(worded?.join(", "))
}

/// The label of an alert's kind in `lang` (the kind itself if unknown).
pub fn kind_label(lang: Lang, kind: &str) -> String {
    label(ALERT_KINDS, lang, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dashboard words the kind of error an agent reports; the agent
    /// names those kinds (`ApiError::kind`). A kind missing here is shown
    /// as sent, in English: every one the agent can send must be listed.
    #[test]
    fn every_error_kind_the_agent_reports_is_worded() {
        use hotich_agent::client::ApiError;
        let text = String::new;
        let every = [
            ApiError::Connect(text()),
            ApiError::Timeout(3),
            ApiError::Transport(text()),
            ApiError::Unavailable {
                status: 503,
                message: text(),
                retry_after: None,
            },
            ApiError::Unauthorized(text()),
            ApiError::Forbidden(text()),
            ApiError::TooLarge(text()),
            ApiError::Refused {
                status: 400,
                message: text(),
            },
            ApiError::BadAnswer(text()),
            ApiError::Setup(text()),
            ApiError::JournalBehind {
                server: 2,
                local: 1,
            },
            ApiError::JournalDiffers { at: 1 },
            ApiError::TooOld {
                running: text(),
                required: text(),
            },
            ApiError::Internal(text()),
        ];
        // Fails to compile when the agent gains a kind of error, so that
        // it is added to the list above (and worded).
        for error in &every {
            match error {
                ApiError::Connect(_)
                | ApiError::Timeout(_)
                | ApiError::Transport(_)
                | ApiError::Unavailable { .. }
                | ApiError::Unauthorized(_)
                | ApiError::Forbidden(_)
                | ApiError::TooLarge(_)
                | ApiError::Refused { .. }
                | ApiError::BadAnswer(_)
                | ApiError::Setup(_)
                | ApiError::JournalBehind { .. }
                | ApiError::JournalDiffers { .. }
                | ApiError::TooOld { .. }
                | ApiError::Internal(_) => {}
            }
            let kind = error.kind();
            assert!(
                ERROR_KINDS.iter().any(|(k, _, _)| *k == kind),
                "the agent's error kind {kind:?} has no words on the dashboard"
            );
        }
    }

    #[test]
    fn every_detail_reads_back_what_it_was_filled_with() {
        for (key, vi, en) in DETAILS {
            let names: Vec<&str> = en
                .match_indices('{')
                .filter_map(|(i, _)| en[i + 1..].split_once('}').map(|(n, _)| n))
                .collect();
            let values: Vec<(&str, String)> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let value = if *n == "counts" {
                        format!("{} gap", i + 3)
                    } else {
                        format!("v{i} x")
                    };
                    (*n, value)
                })
                .collect();
            let stored = fill(en, &values);
            assert!(!stored.contains('{'), "{key}: {stored}");
            let read_back = read(en, &stored).unwrap_or_else(|| panic!("{key}: {stored}"));
            let expected: Vec<(String, String)> = values
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect();
            assert_eq!(read_back, expected, "{key}");
            // Both languages name the same placeholders.
            for n in &names {
                assert!(vi.contains(&format!("{{{n}}}")), "{key} (vi) lacks {{{n}}}");
            }
            let vi_text = reword(Lang::Vi, &[key], &stored).unwrap_or_else(|| panic!("{key}"));
            assert!(!vi_text.contains('{'), "{key}: {vi_text}");
            assert_eq!(reword(Lang::En, &[key], &stored).as_deref(), Some(&*stored));
        }
    }

    #[test]
    fn every_sentence_the_store_writes_has_a_template() {
        let sources = [
            include_str!("store/mod.rs"),
            include_str!("store/monitor.rs"),
        ];
        let mut used = 0;
        for source in sources {
            let pattern = "english(";
            for (i, _) in source.match_indices(pattern) {
                let rest = source[i + pattern.len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else {
                    continue;
                };
                let key = &rest[..rest.find('"').unwrap()];
                assert!(template(Lang::En, key).is_some(), "no sentence for {key}");
                used += 1;
            }
        }
        assert!(used >= 10, "only {used} sentences found in the store");
    }

    #[test]
    fn a_detail_of_another_shape_reads_as_nothing() {
        assert_eq!(reword(Lang::Vi, &["history-contact"], "garbled"), None);
        assert_eq!(
            reword(
                Lang::Vi,
                &["history-contact"],
                "12 waiting, 3 refused, 1 more"
            ),
            None
        );
        assert_eq!(reword(Lang::Vi, &["no-such-key"], "12 waiting"), None);
        // The breakdown names kinds with their counts; another shape is refused.
        assert_eq!(
            reword(
                Lang::Vi,
                &["alert-more"],
                "4 more alerts in the same batch (many)"
            ),
            None
        );
    }
}
