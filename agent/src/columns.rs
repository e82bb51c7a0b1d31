//! The columns officials type in their spreadsheets, named as the paper
//! registers name them, and the record field each one fills. The import
//! matches headers against this table (after NFC, case folding and collapsed
//! spaces, with or without diacritics); `template` writes it; messages name
//! a field by its column, so the official finds it in their sheet.
//!
//! Some names mean different fields in different registers: "Họ và tên" is
//! the child in a birth register; "Giới tính" is the child's in a birth
//! register and the deceased's in a death register. A column that fits no
//! register is refused at the header, before anything is read.

use hotich_protocol::RecordKind;
use hotich_protocol::text::fold;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A record field, by its dotted path.
    Field(&'static str),
    /// The kind of register (Loại): Khai sinh, Kết hôn, Khai tử.
    Kind,
    /// The problems a rejects file adds (Lỗi); ignored when imported again.
    Problems,
    /// The header is itself a dotted field path (`child.full_name`,
    /// `scans.0.sha256`), as in files made by other programs.
    Dotted,
}

/// One column of the table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub target: Target,
    /// The registers it belongs to; empty for every register.
    pub kinds: &'static [RecordKind],
    /// Other names seen in officials' files.
    pub also: &'static [&'static str],
}

const B: &[RecordKind] = &[RecordKind::Birth];
const M: &[RecordKind] = &[RecordKind::Marriage];
const D: &[RecordKind] = &[RecordKind::Death];
const ALL: &[RecordKind] = &[];

const fn col(header: &'static str, path: &'static str, kinds: &'static [RecordKind]) -> Column {
    Column {
        header,
        target: Target::Field(path),
        kinds,
        also: &[],
    }
}

const fn col_also(
    header: &'static str,
    path: &'static str,
    kinds: &'static [RecordKind],
    also: &'static [&'static str],
) -> Column {
    Column {
        header,
        target: Target::Field(path),
        kinds,
        also,
    }
}

/// The header of the column a rejects file adds.
pub const PROBLEMS_HEADER: &str = "Lỗi";

/// Every column, in the order a template shows them.
pub const COLUMNS: &[Column] = &[
    Column {
        header: "Loại",
        target: Target::Kind,
        kinds: ALL,
        also: &["Loại sổ", "kind"],
    },
    col_also("Mã xã", "commune_code", ALL, &["Mã đơn vị"]),
    col_also(
        "Mã xã cũ",
        "register.former_commune_code",
        ALL,
        &["Mã xã trước sáp nhập"],
    ),
    col_also("Năm", "register.year", ALL, &["Năm đăng ký sổ"]),
    col("Quyển số", "register.book", ALL),
    col_also("Số", "register.entry", ALL, &["Số đăng ký", "Số thứ tự"]),
    col("Ngày đăng ký", "registered_on", ALL),
    col_also(
        "Cơ quan đăng ký",
        "register.authority",
        ALL,
        &["Nơi đăng ký"],
    ),
    // Birth: the child, the parents, the declarant.
    col_also("Họ và tên", "child.full_name", B, &["Họ tên"]),
    col("Giới tính", "child.sex", B),
    col("Ngày sinh", "child.date_of_birth", B),
    col("Nơi sinh", "child.place_of_birth", B),
    col("Dân tộc", "child.ethnicity", B),
    col("Quốc tịch", "child.nationality", B),
    col("Quê quán", "child.hometown", B),
    col_also(
        "Số định danh cá nhân",
        "child.personal_id",
        B,
        &["Số ĐDCN", "Mã định danh"],
    ),
    col_also("Họ và tên mẹ", "mother.full_name", B, &["Họ tên mẹ"]),
    col("Năm sinh mẹ", "mother.birth_year", B),
    col("Dân tộc mẹ", "mother.ethnicity", B),
    col("Quốc tịch mẹ", "mother.nationality", B),
    col("Nơi cư trú mẹ", "mother.residence", B),
    col("Số định danh cá nhân mẹ", "mother.personal_id", B),
    col_also("Họ và tên cha", "father.full_name", B, &["Họ tên cha"]),
    col("Năm sinh cha", "father.birth_year", B),
    col("Dân tộc cha", "father.ethnicity", B),
    col("Quốc tịch cha", "father.nationality", B),
    col("Nơi cư trú cha", "father.residence", B),
    col("Số định danh cá nhân cha", "father.personal_id", B),
    col("Người đi khai", "declarant.full_name", B),
    col(
        "Quan hệ với người được khai sinh",
        "declarant.relationship",
        B,
    ),
    col(
        "Số định danh cá nhân người đi khai",
        "declarant.personal_id",
        B,
    ),
    // Marriage: husband and wife.
    col_also("Họ và tên chồng", "husband.full_name", M, &["Họ tên chồng"]),
    col("Ngày sinh chồng", "husband.date_of_birth", M),
    col("Dân tộc chồng", "husband.ethnicity", M),
    col("Quốc tịch chồng", "husband.nationality", M),
    col("Nơi cư trú chồng", "husband.residence", M),
    col("Số định danh cá nhân chồng", "husband.personal_id", M),
    col_also("Họ và tên vợ", "wife.full_name", M, &["Họ tên vợ"]),
    col("Ngày sinh vợ", "wife.date_of_birth", M),
    col("Dân tộc vợ", "wife.ethnicity", M),
    col("Quốc tịch vợ", "wife.nationality", M),
    col("Nơi cư trú vợ", "wife.residence", M),
    col("Số định danh cá nhân vợ", "wife.personal_id", M),
    // Death: the deceased (columns bare or with "người chết"), the death.
    col_also(
        "Họ và tên người chết",
        "deceased.full_name",
        D,
        &["Họ tên người chết"],
    ),
    col_also("Giới tính", "deceased.sex", D, &["Giới tính người chết"]),
    col_also(
        "Ngày sinh",
        "deceased.date_of_birth",
        D,
        &["Ngày sinh người chết"],
    ),
    col_also("Dân tộc", "deceased.ethnicity", D, &["Dân tộc người chết"]),
    col_also(
        "Quốc tịch",
        "deceased.nationality",
        D,
        &["Quốc tịch người chết"],
    ),
    col_also(
        "Nơi cư trú",
        "deceased.residence",
        D,
        &["Nơi cư trú người chết"],
    ),
    col_also(
        "Số định danh cá nhân",
        "deceased.personal_id",
        D,
        &["Số định danh cá nhân người chết"],
    ),
    col("Ngày chết", "date_of_death", D),
    col("Nơi chết", "place_of_death", D),
    col("Nguyên nhân chết", "cause", D),
    col("Người đi khai", "declarant.full_name", D),
    col("Quan hệ với người chết", "declarant.relationship", D),
    col(
        "Số định danh cá nhân người đi khai",
        "declarant.personal_id",
        D,
    ),
    col("Ghi chú", "notes", ALL),
    col_also("Lý do cải chính", "correction_reason", ALL, &["Lý do"]),
    col_also(
        "Ảnh trang sổ",
        "scans",
        ALL,
        &["Ảnh", "Ảnh scan", "Tệp ảnh"],
    ),
    Column {
        header: PROBLEMS_HEADER,
        target: Target::Problems,
        kinds: ALL,
        also: &["errors"],
    },
];

impl Column {
    fn applies_to(&self, kind: RecordKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.header).chain(self.also.iter().copied())
    }
}

/// The register's Vietnamese name (also a sheet name).
pub fn kind_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Birth => "Khai sinh",
        RecordKind::Marriage => "Kết hôn",
        RecordKind::Death => "Khai tử",
    }
}

/// A kind as officials write it ("Khai sinh", "khai sinh", "Khai sinh
/// (KS)", "birth"), or as a sheet is named.
pub fn parse_kind(text: &str) -> Option<RecordKind> {
    let folded = fold(text);
    RecordKind::ALL.into_iter().find(|k| {
        let name = fold(kind_name(*k));
        folded == name || folded == k.as_str() || folded.starts_with(&format!("{name} "))
    })
}

/// What a header means for `kind`: a Vietnamese name (matched with or
/// without diacritics) or a dotted field path.
pub fn resolve(header: &str, kind: RecordKind) -> Option<Target> {
    let h = header.trim();
    if h == "kind" {
        return Some(Target::Kind);
    }
    if h.contains('.')
        || hotich_protocol::validate::known_field_paths()
            .iter()
            .any(|p| p == h)
    {
        // A dotted English path, `scans.0.sha256` included.
        return Some(Target::Dotted);
    }
    let folded = fold(h);
    COLUMNS
        .iter()
        .filter(|c| c.applies_to(kind))
        .find(|c| c.names().any(|n| fold(n) == folded))
        .map(|c| c.target)
}

/// The column header for a field of `kind`, for messages and templates
/// (the dotted path when no column names it).
pub fn header_of(path: &str, kind: Option<RecordKind>) -> Option<&'static str> {
    COLUMNS
        .iter()
        .filter(|c| kind.is_none_or(|k| c.applies_to(k)))
        .find(|c| matches!(c.target, Target::Field(p) if p == path))
        .map(|c| c.header)
}

/// The columns of a template for `kind`, in order (without Lỗi).
pub fn template_columns(kind: RecordKind) -> Vec<&'static Column> {
    COLUMNS
        .iter()
        .filter(|c| c.applies_to(kind) && c.target != Target::Problems)
        .collect()
}

/// Every Vietnamese header, for "did you mean".
pub fn all_headers() -> Vec<&'static str> {
    let mut out: Vec<&str> = COLUMNS.iter().map(|c| c.header).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Rows a template prepares drop-down lists and formats for.
const TEMPLATE_ROWS: u32 = 5000;

/// An empty CSV for `kind`, as Excel in a Vietnamese locale writes one:
/// BOM, `;`, CRLF.
pub fn template_csv(kind: RecordKind) -> String {
    let header: Vec<&str> = template_columns(kind).iter().map(|c| c.header).collect();
    format!("\u{feff}{}\r\n", header.join(";"))
}

/// An empty workbook for `kind`: its columns, text and date formats, and
/// drop-down lists, for the official to fill in.
pub fn template_xlsx(kind: RecordKind) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{DataValidation, Format, Workbook};
    let columns = template_columns(kind);
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(kind_name(kind))?;
    let bold = Format::new().set_bold().set_text_wrap();
    // Ids, codes and book numbers are text: as numbers Excel drops their
    // leading zeros and writes long ids in scientific notation.
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for (i, c) in columns.iter().enumerate() {
        let col = i as u16;
        ws.write_string_with_format(0, col, c.header, &bold)?;
        ws.set_column_width(col, (c.header.chars().count() as f64 * 1.1).max(12.0))?;
        let path = match c.target {
            Target::Field(p) => p,
            _ => "",
        };
        match crate::input::field_type(path) {
            crate::input::FieldType::PersonalId
            | crate::input::FieldType::CommuneCode
            | crate::input::FieldType::Book => {
                ws.set_column_format(col, &text)?;
            }
            crate::input::FieldType::Date => {
                ws.set_column_format(col, &date)?;
            }
            crate::input::FieldType::Sex => {
                let list = DataValidation::new().allow_list_strings(&["Nam", "Nữ"])?;
                ws.add_data_validation(1, col, TEMPLATE_ROWS, col, &list)?;
            }
            _ => {}
        }
        if c.target == Target::Kind {
            let kinds: Vec<&str> = RecordKind::ALL.iter().map(|k| kind_name(*k)).collect();
            let list = DataValidation::new().allow_list_strings(&kinds)?;
            ws.add_data_validation(1, col, TEMPLATE_ROWS, col, &list)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// agent/IMPORT.md is the officials' and IT's reference: every column and
    /// every other spelling accepted must be in it, with its field.
    #[test]
    fn the_import_guide_lists_every_column() {
        let guide = include_str!("../IMPORT.md");
        let rows: Vec<&str> = guide.lines().filter(|l| l.starts_with("| ")).collect();
        for column in COLUMNS {
            let path = match column.target {
                Target::Field(path) => path,
                Target::Kind => "kind",
                Target::Problems => "(ignored)",
                Target::Dotted => continue,
            };
            let row = rows
                .iter()
                .find(|r| {
                    let mut cells = r.split('|').map(str::trim).skip(1);
                    let (Some(names), Some(field)) = (cells.next(), cells.next()) else {
                        return false;
                    };
                    let header = names.split(" (").next().unwrap_or(names);
                    header == column.header && field.split(' ').next() == Some(path)
                })
                .unwrap_or_else(|| panic!("IMPORT.md has no row {} | {path}", column.header));
            for also in column
                .also
                .iter()
                .filter(|a| **a != "kind" && **a != "errors")
            {
                assert!(
                    row.contains(also),
                    "IMPORT.md: {} lacks {also}",
                    column.header
                );
            }
        }
    }

    #[test]
    fn headers_match_as_officials_type_them() {
        use RecordKind::*;
        for (header, kind, path) in [
            ("Họ và tên", Birth, "child.full_name"),
            ("HO VA TEN", Birth, "child.full_name"),
            ("  họ   và tên ", Birth, "child.full_name"),
            ("Ho va ten me", Birth, "mother.full_name"),
            ("Giới tính", Death, "deceased.sex"),
            ("Giới tính người chết", Death, "deceased.sex"),
            ("Ngày sinh vợ", Marriage, "wife.date_of_birth"),
            ("Quyen so", Death, "register.book"),
            ("Số", Marriage, "register.entry"),
        ] {
            assert_eq!(resolve(header, kind), Some(Target::Field(path)), "{header}");
        }
        assert_eq!(resolve("Loai", Birth), Some(Target::Kind));
        assert_eq!(resolve("Lỗi", Birth), Some(Target::Problems));
        assert_eq!(resolve("Họ và tên chồng", Birth), None);
        assert_eq!(resolve("child.full_name", Birth), Some(Target::Dotted));
    }

    #[test]
    fn every_column_fills_a_field_the_model_knows() {
        let known = hotich_protocol::validate::known_field_paths();
        for c in COLUMNS {
            if let Target::Field(path) = c.target {
                // Ảnh trang sổ names files; import turns them into the
                // model's scans (hash, size, type). Lý do cải chính goes to
                // the entry's envelope, not the record.
                if path == "scans" || path == "correction_reason" {
                    continue;
                }
                assert!(known.iter().any(|k| k == path), "{path}");
            }
        }
        // No two columns of one register share a name.
        for kind in RecordKind::ALL {
            let mut seen = std::collections::HashSet::new();
            for c in COLUMNS.iter().filter(|c| c.applies_to(kind)) {
                for n in c.names() {
                    assert!(seen.insert(fold(n)), "{n} twice in {kind}");
                }
            }
        }
    }

    #[test]
    fn kinds_are_read_as_written() {
        assert_eq!(parse_kind("Khai sinh"), Some(RecordKind::Birth));
        assert_eq!(parse_kind("KẾT HÔN"), Some(RecordKind::Marriage));
        assert_eq!(parse_kind("khai tu"), Some(RecordKind::Death));
        assert_eq!(parse_kind("death"), Some(RecordKind::Death));
        assert_eq!(parse_kind("Khai sinh 1998"), Some(RecordKind::Birth));
        assert_eq!(parse_kind("Sheet1"), None);
    }
}
