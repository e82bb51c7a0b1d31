//! The dashboard's words, in Vietnamese (the default) and English
//! (`?lang=en`). Every label a person reads comes from [`TEXTS`]; a test
//! checks each key used has both.

use crate::monitor::State;

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

/// (key, Vietnamese, English).
pub const TEXTS: &[(&str, &str, &str)] = &[
    (
        "title",
        "Theo dõi đồng bộ hộ tịch",
        "Civil registry sync monitor",
    ),
    ("national", "Toàn quốc", "Nationwide"),
    ("province", "Tỉnh/thành phố", "Province"),
    ("area", "Khu vực", "Area"),
    ("all", "Tất cả", "All"),
    ("state", "Trạng thái", "State"),
    ("search", "Tìm mã hoặc tên xã", "Search code or name"),
    ("filter", "Lọc", "Filter"),
    ("commune", "Xã/phường", "Commune"),
    ("code", "Mã", "Code"),
    ("waiting", "Đang chờ gửi", "Waiting"),
    ("oldest", "Chờ lâu nhất", "Oldest waiting"),
    ("last-contact", "Liên lạc gần nhất", "Last contact"),
    ("last-error", "Lỗi gần nhất", "Last error"),
    ("stored", "Hồ sơ đã lưu", "Records stored"),
    ("refused", "Bị từ chối", "Refused"),
    ("missing-scans", "hồ sơ thiếu ảnh", "records missing scans"),
    (
        "missing-scans-title",
        "Hồ sơ thiếu ảnh trang sổ",
        "Records missing page scans",
    ),
    ("alerts", "Cảnh báo", "Alerts"),
    ("since", "từ", "since"),
    ("updated", "Cập nhật lúc", "Updated at"),
    (
        "no-communes",
        "Không có xã nào khớp.",
        "No commune matches.",
    ),
    ("logout", "Đăng xuất", "Log out"),
    ("login", "Đăng nhập", "Log in"),
    ("login-name", "Tên đăng nhập", "User name"),
    ("password", "Mật khẩu", "Password"),
    (
        "login-failed",
        "Sai tên đăng nhập hoặc mật khẩu.",
        "Wrong user name or password.",
    ),
    (
        "login-throttled",
        "Đăng nhập sai quá nhiều lần. Hãy thử lại sau vài phút.",
        "Too many failed logins. Try again in a few minutes.",
    ),
    ("back", "Quay lại danh sách", "Back to the list"),
    ("agents", "Máy trạm", "Agents"),
    ("agent", "Máy", "Agent"),
    ("version", "Phiên bản", "Version"),
    ("device", "Mã nhật ký", "Journal id"),
    ("clock-skew", "Lệch đồng hồ", "Clock skew"),
    ("free-disk", "Đĩa còn trống", "Free disk"),
    ("journal-size", "Dung lượng nhật ký", "Journal size"),
    ("sent", "Đã gửi", "Sent"),
    ("last-success", "Gửi được lần cuối", "Last success"),
    ("server-seq", "Máy chủ đã có đến", "Server holds up to"),
    ("journal-seq", "Nhật ký đến", "Journal up to"),
    (
        "warnings",
        "Cảnh báo trong nhật ký máy",
        "Warnings from its log",
    ),
    ("history", "Lịch sử liên lạc", "Contact history"),
    ("integrity", "Cảnh báo toàn vẹn", "Integrity alerts"),
    (
        "books",
        "Sổ: đã nhập, còn thiếu, đối chiếu",
        "Books: captured, missing, checked",
    ),
    ("declared", "Số khai báo khi khóa sổ", "Declared on closing"),
    ("never-captured", "Số chưa nhập", "Never captured"),
    ("declared-lost", "Khai mất (lý do)", "Declared lost (why)"),
    ("verified", "Đối chiếu khớp", "Verified"),
    ("discrepancies", "Sai khác", "Discrepancies"),
    ("corrected", "Cải chính", "Corrected"),
    ("kind", "Loại", "Register"),
    ("year", "Năm", "Year"),
    ("book", "Quyển", "Book"),
    ("count", "Số hồ sơ", "Records"),
    ("time", "Thời gian", "Time"),
    ("what", "Nội dung", "What"),
    ("none", "Không có.", "None."),
    ("never", "chưa bao giờ", "never"),
    ("manage-agents", "Quản lý máy trạm", "Manage agents"),
    ("add-agent", "Đăng ký máy trạm mới", "Register a new agent"),
    ("name", "Tên", "Name"),
    ("add", "Đăng ký", "Register"),
    ("revoke", "Thu hồi", "Revoke"),
    ("revoked", "Đã thu hồi", "Revoked"),
    ("created", "Đăng ký lúc", "Registered"),
    (
        "token-once",
        "Mã khóa của máy mới (chỉ hiện một lần; hãy chép ngay vào máy của xã bằng hotich-agent init):",
        "The new agent's token (shown once only; copy it now into the commune PC with hotich-agent init):",
    ),
    (
        "not-allowed",
        "Bạn không có quyền xem trang này.",
        "You may not see this page.",
    ),
    ("not-found", "Không tìm thấy.", "Not found."),
    ("bad-input", "Dữ liệu không hợp lệ", "Invalid input"),
    ("ago", "trước", "ago"),
    ("min", "phút", "min"),
    ("hour", "giờ", "h"),
    ("day", "ngày", "d"),
    ("just-now", "vừa xong", "just now"),
    ("seconds", "giây", "s"),
    (
        "revoke-confirm",
        "Thu hồi mã khóa của máy này?",
        "Revoke this agent's token?",
    ),
    ("state-alert", "Cảnh báo toàn vẹn", "Integrity alert"),
    ("state-failing", "Đang lỗi", "Failing"),
    ("state-silent", "Mất liên lạc", "Silent"),
    ("state-behind", "Chậm gửi", "Behind"),
    ("state-never_seen", "Chưa kết nối", "Never seen"),
    ("state-in_sync", "Đã đồng bộ", "In sync"),
    ("contact-contact", "Liên lạc", "Contact"),
    ("contact-error", "Lỗi", "Error"),
    ("contact-recovered", "Gửi lại được", "Recovered"),
    (
        "contact-dismissed",
        "Hồ sơ bị từ chối đã được hủy",
        "Refused record dismissed",
    ),
    (
        "contact-device",
        "Máy khác dùng chung mã khóa",
        "Another PC uses the token",
    ),
    ("kind-birth", "Khai sinh", "Birth"),
    ("kind-marriage", "Kết hôn", "Marriage"),
    ("kind-death", "Khai tử", "Death"),
    // Integrity alerts, worded in the viewer's language from their kind and
    // entry number (the stored detail is English, for logs and the API).
    ("alert-kind-rewrite", "Gửi lại khác nội dung", "Rewrite"),
    ("alert-kind-fork", "Rẽ nhánh", "Fork"),
    ("alert-kind-gap", "Đến không theo thứ tự", "Gap"),
    ("alert-kind-more", "Còn nữa", "More"),
    (
        "alert-kind-two-devices",
        "Hai máy dùng chung một mã",
        "Two devices",
    ),
    (
        "history-contact",
        "{waiting} đang chờ, {refused} bị từ chối",
        "{waiting} waiting, {refused} refused",
    ),
    ("history-recovered", "gửi lại được", "sending again"),
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
        "alert-more",
        "thêm {n} cảnh báo trong cùng lô",
        "{n} more alerts in the same batch",
    ),
    (
        "alert-more-range",
        ", mục #{low} đến #{high}",
        ", entries #{low} to #{high}",
    ),
];

/// The text for `key`; the key itself if it is missing (a test forbids that).
pub fn t(lang: Lang, key: &str) -> &'static str {
    TEXTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or("?", |(_, vi, en)| match lang {
            Lang::Vi => vi,
            Lang::En => en,
        })
}

pub fn state_label(lang: Lang, state: State) -> &'static str {
    t(lang, &format!("state-{}", state.as_str()))
}

/// An integrity alert in `lang`: rebuilt from its kind and entry number
/// where the kind is known, else the detail as stored.
pub fn alert_text(lang: Lang, kind: &str, seq: Option<u64>, detail: &str) -> String {
    let entry = |key: &str, seq: u64| {
        t(lang, key)
            .replace("{seq}", &seq.to_string())
            .replace("{prev}", &seq.saturating_sub(1).to_string())
    };
    match (kind, seq) {
        ("rewrite", Some(seq)) => entry("alert-rewrite", seq),
        ("fork", Some(1)) => entry("alert-fork-first", 1),
        ("fork", Some(seq)) => entry("alert-fork", seq),
        ("gap", Some(seq)) => entry("alert-gap", seq),
        ("two-devices", _) => history_text(lang, "device", detail),
        // "N more alerts in the same batch (…), entries #A to #B": the
        // count leads it, the range of entries ends it.
        ("more", _) => match detail.split(' ').next().map(str::parse::<u64>) {
            Some(Ok(n)) => {
                let mut text = t(lang, "alert-more").replace("{n}", &n.to_string());
                let range = detail.rsplit_once(", entries #").and_then(|(_, r)| {
                    let (low, high) = r.split_once(" to #")?;
                    Some((low.parse::<u64>().ok()?, high.parse::<u64>().ok()?))
                });
                if let Some((low, high)) = range {
                    text.push_str(
                        &t(lang, "alert-more-range")
                            .replace("{low}", &low.to_string())
                            .replace("{high}", &high.to_string()),
                    );
                }
                text
            }
            _ => detail.to_string(),
        },
        _ => detail.to_string(),
    }
}

/// A line of an agent's contact history in `lang`, rebuilt from the figures
/// of its stored (English) detail where the kind is known; an error keeps
/// the agent's own words.
pub fn history_text(lang: Lang, kind: &str, detail: &str) -> String {
    let worded = match kind {
        "contact" => detail.split_once(" waiting, ").and_then(|(waiting, rest)| {
            let refused = rest.strip_suffix(" refused")?;
            waiting.parse::<u64>().ok()?;
            refused.parse::<u64>().ok()?;
            Some(
                t(lang, "history-contact")
                    .replace("{waiting}", waiting)
                    .replace("{refused}", refused),
            )
        }),
        "recovered" => Some(t(lang, "history-recovered").to_string()),
        "device" => detail
            .strip_prefix("journal ")
            .and_then(|rest| rest.split_once(" before, journal "))
            .and_then(|(old, rest)| {
                let (new, _) = rest.split_once(" now: ")?;
                Some(
                    t(lang, "history-device")
                        .replace("{old}", old)
                        .replace("{new}", new),
                )
            }),
        _ => None,
    };
    worded.unwrap_or_else(|| detail.to_string())
}

/// The label of an alert's kind in `lang` (the kind itself if unknown).
pub fn alert_kind_label(lang: Lang, kind: &str) -> String {
    match t(lang, &format!("alert-kind-{kind}")) {
        "?" => kind.to_string(),
        label => label.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_pages_use_has_both_languages() {
        let sources = [
            include_str!("pages.rs"),
            include_str!("mod.rs"),
            include_str!("admin.rs"),
        ];
        for source in sources {
            let pattern = "t(lang, \"";
            for (i, _) in source.match_indices(pattern) {
                let rest = &source[i + pattern.len()..];
                let key = &rest[..rest.find('"').unwrap()];
                assert!(
                    TEXTS.iter().any(|(k, _, _)| *k == key),
                    "no text for key {key}"
                );
            }
        }
        for state in State::ALL {
            assert_ne!(state_label(Lang::Vi, state), "?");
            assert_ne!(state_label(Lang::En, state), "?");
        }
        let mut keys: Vec<&str> = TEXTS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "a key is listed twice");
    }

    #[test]
    fn alerts_and_contact_history_read_in_vietnamese_and_as_stored_in_english() {
        let stored = [
            (
                "rewrite",
                Some(12),
                "entry #12 was received before with different content; the first version is kept",
            ),
            ("fork", Some(1), "entry #1 does not start a new chain"),
            (
                "fork",
                Some(7),
                "entry #7 does not link to the entry #6 received earlier",
            ),
            ("gap", Some(9), "entry #9 arrived before entry #8"),
            (
                "more",
                Some(3),
                "40 more alerts in the same batch (40 gap), entries #3 to #42",
            ),
        ];
        for (kind, seq, detail) in stored {
            let vi = alert_text(Lang::Vi, kind, seq, detail);
            assert!(!vi.contains("entry") && !vi.contains('{'), "{vi}");
            assert_ne!(alert_kind_label(Lang::Vi, kind), kind);
            if kind != "more" {
                assert_eq!(alert_text(Lang::En, kind, seq, detail), detail);
            }
        }
        assert_eq!(
            alert_text(Lang::Vi, "fork", Some(7), ""),
            "mục #7 không nối tiếp mục #6 đã nhận trước đó"
        );
        assert_eq!(
            alert_text(
                Lang::Vi,
                "more",
                Some(3),
                "40 more alerts in the same batch (40 gap), entries #3 to #42"
            ),
            "thêm 40 cảnh báo trong cùng lô, mục #3 đến #42"
        );
        assert_eq!(
            alert_text(Lang::Vi, "more", None, "40 more alerts in the same batch"),
            "thêm 40 cảnh báo trong cùng lô"
        );
        let device = "journal pc-1 before, journal pc-2 now: two PCs may share one token";
        assert_eq!(
            alert_text(Lang::Vi, "two-devices", None, device),
            "nhật ký pc-1 trước đây, nhật ký pc-2 bây giờ: có thể hai máy đang dùng chung một mã"
        );
        assert_eq!(alert_text(Lang::En, "two-devices", None, device), device);
        assert_eq!(
            history_text(Lang::Vi, "contact", "12 waiting, 3 refused"),
            "12 đang chờ, 3 bị từ chối"
        );
        assert_eq!(
            history_text(Lang::En, "contact", "12 waiting, 3 refused"),
            "12 waiting, 3 refused"
        );
        assert_eq!(
            history_text(Lang::Vi, "recovered", "sending again"),
            "gửi lại được"
        );
        // An error keeps the agent's words; a detail of another shape too.
        assert_eq!(
            history_text(Lang::Vi, "error", "unauthorized: token refused"),
            "unauthorized: token refused"
        );
        assert_eq!(history_text(Lang::Vi, "contact", "garbled"), "garbled");
        // An alert of a kind this page does not know keeps its words.
        assert_eq!(
            alert_text(Lang::Vi, "new-kind", Some(1), "as sent"),
            "as sent"
        );
        assert_eq!(alert_kind_label(Lang::Vi, "new-kind"), "new-kind");
    }
}
