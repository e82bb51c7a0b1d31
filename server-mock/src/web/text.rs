//! The dashboard's words, in Vietnamese (the default) and English
//! (`?lang=en`). Every label a person reads comes from [`TEXTS`]; a test
//! checks each key used has both.

use crate::monitor::State;

use crate::wording::reword;
pub use crate::wording::{Lang, kind_label as alert_kind_label};

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

/// An integrity alert in `lang`, reworded from its stored detail; the
/// detail as stored if it fits none of its kind's sentences.
pub fn alert_text(lang: Lang, kind: &str, detail: &str) -> String {
    let keys: &[&str] = match kind {
        "rewrite" => &["alert-rewrite"],
        "fork" => &["alert-fork-first", "alert-fork"],
        "gap" => &["alert-gap"],
        "two-devices" => &["history-device"],
        "more" => &["alert-more-range", "alert-more"],
        _ => &[],
    };
    reword(lang, keys, detail).unwrap_or_else(|| detail.to_string())
}

/// A line of an agent's contact history in `lang`, reworded from its stored
/// detail; an error's kind is worded, its message is the agent's own.
pub fn history_text(lang: Lang, kind: &str, detail: &str) -> String {
    let keys: &[&str] = match kind {
        "contact" => &["history-contact"],
        "error" => &["history-error"],
        "recovered" => &["history-recovered"],
        "device" => &["history-device"],
        _ => &[],
    };
    reword(lang, keys, detail).unwrap_or_else(|| detail.to_string())
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
        // The details exactly as the store writes them.
        let mut batch: Vec<crate::store::Alert> = (3..=52)
            .map(|seq| crate::store::Alert {
                seq: Some(seq),
                kind: if seq % 10 == 0 { "fork" } else { "gap" }.into(),
                detail: crate::wording::english(
                    "alert-gap",
                    &[("seq", &seq), ("prev", &(seq - 1))],
                ),
            })
            .collect();
        crate::store::cap_alerts(&mut batch);
        let more = batch.last().map(|a| a.detail.clone()).unwrap_or_default();
        let stored = [
            (
                "rewrite",
                "entry #12 was received before with different content; the first version is kept",
            ),
            ("fork", "entry #1 does not start a new chain"),
            (
                "fork",
                "entry #7 does not link to the entry #6 received earlier",
            ),
            ("gap", "entry #9 arrived before entry #8"),
            ("more", more.as_str()),
        ];
        for (kind, detail) in stored {
            let vi = alert_text(Lang::Vi, kind, detail);
            assert!(!vi.contains("entr") && !vi.contains('{'), "{vi}");
            assert_ne!(alert_kind_label(Lang::Vi, kind), kind);
            assert_eq!(alert_text(Lang::En, kind, detail), detail);
        }
        assert_eq!(
            alert_text(
                Lang::Vi,
                "fork",
                "entry #7 does not link to the entry #6 received earlier"
            ),
            "mục #7 không nối tiếp mục #6 đã nhận trước đó"
        );
        assert_eq!(
            more,
            "40 more alerts in the same batch (36 gap, 4 fork), entries #13 to #52"
        );
        assert_eq!(
            alert_text(Lang::Vi, "more", &more),
            "thêm 40 cảnh báo trong cùng lô (36 đến không theo thứ tự, 4 rẽ nhánh), mục #13 đến #52"
        );
        assert_eq!(
            alert_text(
                Lang::Vi,
                "more",
                "40 more alerts in the same batch (40 gap)"
            ),
            "thêm 40 cảnh báo trong cùng lô (40 đến không theo thứ tự)"
        );
        let device = "journal pc-1 before, journal pc-2 now: two PCs may share one token";
        assert_eq!(
            alert_text(Lang::Vi, "two-devices", device),
            "nhật ký pc-1 trước đây, nhật ký pc-2 bây giờ: có thể hai máy đang dùng chung một mã"
        );
        assert_eq!(alert_text(Lang::En, "two-devices", device), device);
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
        // An error's kind is worded, its message is the agent's; a kind
        // this server does not know, and a detail of another shape, as stored.
        assert_eq!(
            history_text(Lang::Vi, "error", "unauthorized: token refused"),
            "Mã khóa của máy bị từ chối: token refused"
        );
        assert_eq!(
            history_text(Lang::En, "error", "connect: connection refused"),
            "Cannot reach the server: connection refused"
        );
        assert_eq!(
            history_text(Lang::Vi, "error", "new-kind: as sent"),
            "new-kind: as sent"
        );
        assert_eq!(history_text(Lang::Vi, "contact", "garbled"), "garbled");
        // An alert of a kind this page does not know keeps its words.
        assert_eq!(alert_text(Lang::Vi, "new-kind", "as sent"), "as sent");
        assert_eq!(alert_kind_label(Lang::Vi, "new-kind"), "new-kind");
    }
}
