//! The official's own files, as LibreOffice Calc and openpyxl wrote them
//! (tests/fixtures/officials, with the script that made them and what each
//! holds in expected.json): Excel workbooks with Vietnamese headers, CSV as
//! a Vietnamese Excel saves it, dates as officials write them, ids Excel
//! mangled, rejects files fixed and imported again, templates, legacy
//! encodings, and every message in Vietnamese.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx};
use hotich_tests::TestAgent;
use hotich_tests::harness::{agent_bin, stderr, stdout};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/officials")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
        .unwrap()
}

/// An agent of commune 00004 with nowhere to sync to: enough to import.
fn agent() -> TestAgent {
    TestAgent::init_offline("http://127.0.0.1:9", "hts_test", "00004")
}

/// Copies a fixture next to the agent (its rejects file is written beside it).
fn copy(agent: &TestAgent, name: &str) -> PathBuf {
    let to = agent.dir.path().join(name);
    std::fs::copy(fixtures().join(name), &to).unwrap();
    to
}

/// The agent in Vietnamese, as an official runs it.
fn vi(agent: &TestAgent, args: &[&str]) -> Output {
    let mut c = Command::new(agent_bin());
    c.arg("--data-dir").arg(&agent.data_dir).args(args);
    c.env_remove("HOTICH_LANG");
    c.output().unwrap()
}

fn import_vi(agent: &TestAgent, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["import"];
    args.extend_from_slice(extra);
    let path = file.to_str().unwrap().to_string();
    args.push(&path);
    vi(agent, &args)
}

fn journal_records(agent: &TestAgent) -> Vec<Value> {
    let conn = rusqlite::Connection::open(agent.journal_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT record FROM entries ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| serde_json::from_str(&r.unwrap()).unwrap())
        .collect()
}

fn hash_of(record: &Value) -> String {
    let today = hotich_protocol::CivilDate::today_in_vietnam(hotich_protocol::Timestamp::now());
    hotich_protocol::prepare_record(record.clone(), today)
        .unwrap_or_else(|e| panic!("{e:?}: {record}"))
        .hash
        .to_hex()
}

#[test]
fn an_excel_workbook_with_vietnamese_headers_imports_with_rows_named_as_excel_shows_them() {
    let agent = agent();
    let file = copy(&agent, "so-khai-sinh.xlsx");
    let out = import_vi(&agent, &file, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    // 20 rows: 14 distinct records, the same child twice (book 1 and "01"),
    // and 5 bad rows, each named as Excel shows it, in Vietnamese.
    assert!(
        text.contains("14 hồ sơ đã nhận, 1 đã có từ trước, 5 bị từ chối"),
        "{text}"
    );
    for bad in &expected()["files"]["so-khai-sinh.xlsx"]["bad_rows"]
        .as_array()
        .unwrap()
        .clone()
    {
        let row = bad["row"].as_str().unwrap();
        assert!(
            text.contains(&format!("so-khai-sinh.xlsx:{row}: ")),
            "{row}: {text}"
        );
    }
    assert!(
        text.contains("Khai sinh!19: Giới tính: \"X\" không phải Nam hoặc Nữ"),
        "{text}"
    );
    assert!(text.contains("Khai sinh!9: Họ và tên: còn trống"), "{text}");
    assert!(text.contains("là ngày trong tương lai"), "{text}");
    // The records are what the rows meant: dates, numbers, an id whose
    // leading zeros Excel dropped.
    let stored: Vec<String> = agent.journal_hashes();
    for (row, record) in expected()["files"]["so-khai-sinh.xlsx"]["valid_rows"]
        .as_object()
        .unwrap()
    {
        assert!(
            stored.contains(&hash_of(record)),
            "{row} was not stored as meant"
        );
    }
    // The rejects come back as a workbook: same sheet and columns, and Lỗi.
    let rejects = agent.dir.path().join("so-khai-sinh.rejects.xlsx");
    let mut book: Xlsx<_> = calamine::open_workbook(&rejects).unwrap();
    let sheet = book.worksheet_range("Khai sinh").unwrap();
    let rows: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows.len(), 6, "a header and the five bad rows");
    assert_eq!(rows[0].last().unwrap().to_string(), "Lỗi");
    assert!(rows[1].last().unwrap().to_string().contains("tương lai"));
}

#[test]
fn a_workbook_with_a_sheet_per_register_takes_each_sheet_as_its_kind() {
    let agent = agent();
    let file = copy(&agent, "so-ho-tich-nhieu-loai.xlsx");
    let out = import_vi(&agent, &file, &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let records = journal_records(&agent);
    assert_eq!(records.len(), 20);
    let kinds: std::collections::BTreeSet<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 3);
    // Partial dates stay partial: a spouse born "1965", not 1965-01-01.
    let partial = records.iter().any(|r| {
        ["husband", "wife", "deceased"].iter().any(|p| {
            r[p]["date_of_birth"]
                .as_str()
                .is_some_and(|d| d.len() == 4 || d.len() == 7)
        })
    });
    assert!(partial, "{records:?}");
}

#[test]
fn an_excel_csv_keeps_its_physical_line_numbers_and_its_rejects_import_again_once_fixed() {
    let agent = agent();
    let file = copy(&agent, "so-khai-sinh-excel.csv");
    let out = import_vi(&agent, &file, &["--kind", "birth"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Multi-line quoted cells and CRLF: the bad rows are on lines 7, 13, 16.
    for line in [7, 13, 16] {
        assert!(
            text.contains(&format!("so-khai-sinh-excel.csv:{line}: ")),
            "{line}: {text}"
        );
    }
    assert!(text.contains("9 hồ sơ đã nhận"), "{text}");
    // Same dialect back: BOM, ';' and CRLF, with a Lỗi column.
    let rejects = agent.dir.path().join("so-khai-sinh-excel.rejects.csv");
    let bytes = std::fs::read(&rejects).unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let body = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let header = body.split("\r\n").next().unwrap();
    assert!(header.contains(';') && header.ends_with(";Lỗi"), "{header}");
    let rows = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(body.as_bytes())
        .records()
        .count();
    assert_eq!(rows, 3, "{body}");
    // The official fixes the three rows in Excel and imports the file again.
    let fixed = fix_empty_sex(&body.replace("31/02/1999", "01/02/1999"));
    let fixed = fixed.replace("001072252281", "001172252281");
    let mut with_bom = vec![0xEF, 0xBB, 0xBF];
    with_bom.extend_from_slice(fixed.as_bytes());
    std::fs::write(&rejects, with_bom).unwrap();
    let out = import_vi(&agent, &rejects, &["--kind", "birth"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("3 hồ sơ đã nhận"), "{}", stdout(&out));
}

/// The record on line 13 (Phạm Hải Yến) has its Giới tính (sex) cell empty.
fn fix_empty_sex(csv: &str) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let sex = header.iter().position(|h| h == "Giới tính").unwrap();
    let mut out = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(&header).unwrap();
    for row in reader.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(str::to_string).collect();
        if row[sex].is_empty() {
            row[sex] = "Nữ".into();
        }
        out.write_record(&row).unwrap();
    }
    String::from_utf8(out.into_inner().unwrap()).unwrap()
}

#[test]
fn dates_written_month_first_refuse_the_file_whole_with_a_hint() {
    let agent = agent();
    let file = copy(&agent, "ngay-kieu-my.csv");
    let out = import_vi(&agent, &file, &["--kind", "birth"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("tháng trước ngày"), "{text}");
    assert!(text.contains("định dạng ngày của Việt Nam"), "{text}");
    assert!(agent.journal_hashes().is_empty(), "nothing was imported");
}

#[test]
fn an_id_excel_wrote_in_scientific_notation_is_refused_with_what_to_do() {
    let agent = agent();
    let file = copy(&agent, "dinh-danh-khoa-hoc.csv");
    let out = import_vi(&agent, &file, &["--kind", "birth"]);
    let text = stdout(&out);
    assert!(
        text.contains("dinh-danh-khoa-hoc.csv:4: Số định danh cá nhân: \"1.23457E+11\""),
        "{text}"
    );
    assert!(text.contains("dinh-danh-khoa-hoc.csv:6: "), "{text}");
    assert!(text.contains("định dạng cột này là Text"), "{text}");
    assert!(text.contains("3 hồ sơ đã nhận"), "{text}");
}

/// The same 500 records typed as JSON Lines, as a Vietnamese CSV and as the
/// .xlsx LibreOffice made of it (dates as date cells, ids as numbers) are
/// the same 500 records with the same hashes.
#[test]
fn the_same_records_as_jsonl_csv_and_xlsx_have_one_hash_each() {
    let mut sets = Vec::new();
    for name in ["ba-dang-500.jsonl", "ba-dang-500.csv", "ba-dang-500.xlsx"] {
        let agent = agent();
        let file = copy(&agent, name);
        let out = import_vi(&agent, &file, &[]);
        assert!(
            out.status.success(),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let mut hashes = agent.journal_hashes();
        assert_eq!(hashes.len(), 500, "{name}");
        hashes.sort();
        sets.push(hashes);
    }
    assert_eq!(sets[0], sets[1], "JSON Lines and CSV");
    assert_eq!(sets[0], sets[2], "JSON Lines and .xlsx");
}

#[test]
fn templates_have_the_registers_columns_and_lists() {
    let agent = agent();
    let xlsx = agent.dir.path().join("mau-khai-sinh.xlsx");
    let out = vi(
        &agent,
        &["template", "--kind", "birth", xlsx.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut book: Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let sheet = book.worksheet_range("Khai sinh").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    for column in [
        "Năm",
        "Quyển số",
        "Số",
        "Ngày đăng ký",
        "Họ và tên",
        "Giới tính",
        "Số định danh cá nhân",
        "Họ và tên mẹ",
        "Quan hệ với người được khai sinh",
    ] {
        assert!(header.iter().any(|h| h == column), "{column}: {header:?}");
    }
    // The drop-down lists are in the sheet's XML.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    assert!(
        xml.contains("dataValidation") && xml.contains("Nam,Nữ"),
        "{xml}"
    );
    // A CSV template, filled in, imports.
    let csv = agent.dir.path().join("mau-khai-tu.csv");
    let out = vi(
        &agent,
        &[
            "template",
            "--kind",
            "death",
            "--format",
            "csv",
            csv.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let header = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(
        header.ends_with("\r\n") && header.contains("Họ và tên người chết;"),
        "{header}"
    );
    let columns: Vec<&str> = header.trim_end().split(';').collect();
    let cell = |c: &str| match c {
        "Năm" => "2020",
        "Quyển số" => "01",
        "Số" => "7",
        "Ngày đăng ký" => "10/04/2020",
        "Họ và tên người chết" => "Hoàng Văn Giáp",
        "Giới tính" => "Nam",
        "Ngày sinh" => "1940",
        "Ngày chết" => "08/04/2020",
        _ => "",
    };
    let row: Vec<&str> = columns.iter().map(|c| cell(c)).collect();
    let mut filled = bytes.clone();
    filled.extend_from_slice(format!("{}\r\n", row.join(";")).as_bytes());
    std::fs::write(&csv, filled).unwrap();
    let out = import_vi(&agent, &csv, &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn legacy_vietnamese_encodings_are_caught_and_converted() {
    use hotich_agent::legacy::{Legacy, encode};
    let agent = agent();
    let header = "Năm;Quyển số;Số;Ngày đăng ký;Họ và tên;Giới tính;Ngày sinh\r\n";
    let row = "1998;1;5;20/03/1998;Nguyễn Văn An;Nam;15/03/1998\r\n";
    // A whole file saved in TCVN3 is not UTF-8: refused, with the way out.
    let mut legacy = encode(header, Legacy::Tcvn3).unwrap();
    legacy.extend(encode(row, Legacy::Tcvn3).unwrap());
    let file = agent.dir.path().join("cu.csv");
    std::fs::write(&file, &legacy).unwrap();
    let out = import_vi(&agent, &file, &["--kind", "birth"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("convert --from tcvn3"),
        "{}",
        stdout(&out)
    );
    let converted = agent.dir.path().join("moi.csv");
    let out = vi(
        &agent,
        &[
            "convert",
            "--from",
            "tcvn3",
            file.to_str().unwrap(),
            converted.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = import_vi(&agent, &converted, &["--kind", "birth"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        journal_records(&agent)[0]["child"]["full_name"],
        "Nguyễn Văn An"
    );
    // TCVN3 text read as Windows-1252 and saved as UTF-8 ("NguyÔn V¨n An"):
    // valid UTF-8, but the record is refused with the reason and the fix.
    let mojibake: String = encode("Nguyễn Văn Bình", Legacy::Tcvn3)
        .unwrap()
        .iter()
        .map(|b| windows_1252(*b))
        .collect();
    let file = agent.dir.path().join("lan.csv");
    std::fs::write(
        &file,
        format!("{header}1998;1;6;20/03/1998;{mojibake};Nam;15/03/1998\r\n"),
    )
    .unwrap();
    let out = import_vi(&agent, &file, &["--kind", "birth"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("TCVN3") && text.contains("Nguyễn Văn Bình"),
        "{text}"
    );
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[test]
fn english_on_request() {
    let agent = agent();
    let file = copy(&agent, "so-khai-sinh.xlsx");
    let out = agent.cmd(&["import", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains("14 accepted, 1 already present, 5 rejected"),
        "{text}"
    );
    assert!(
        text.contains("Khai sinh!19: child.sex: \"X\" is not male or female"),
        "{text}"
    );
}
