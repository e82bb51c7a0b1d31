use super::*;
use std::io::Write;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

/// The messages these tests read are the English ones.
fn english() {
    crate::i18n::set_lang(crate::i18n::Lang::En);
}

fn items(p: &Path) -> Vec<Item> {
    english();
    open(p, &Options::default())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn jsonl_keeps_line_numbers_and_reports_broken_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "a.jsonl",
        b"\xEF\xBB\xBF{\"a\":1}\n\n{\"a\":\n{\"b\":2}\r\n",
    );
    let got = items(&p);
    assert_eq!(
        got.iter().map(|i| i.at.line).collect::<Vec<_>>(),
        vec![1, 3, 4]
    );
    assert!(got[0].value.is_ok());
    let e = got[1].value.as_ref().unwrap_err();
    assert!(e[0].reason.starts_with("invalid JSON"), "{e:?}");
    assert_eq!(got[2].value.as_ref().unwrap()["b"], 2);
}

#[test]
fn json_array_elements_know_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "a.json",
        b"[\n  {\"a\": 1},\n\n  {\"a\": 1, \"a\": 2}\n]\n",
    );
    let got = items(&p);
    assert_eq!(
        got.iter().map(|i| i.at.line).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert!(
        got[1].value.as_ref().unwrap_err()[0]
            .reason
            .contains("duplicate key")
    );
    let p = write(dir.path(), "b.json", b"[\n {\"a\": 1},\n {\"a\" 2}\n]");
    let err = open(&p, &Options::default()).unwrap_err();
    assert_eq!(err.at.as_ref().map(|a| a.line), Some(3));
    assert!(
        err.message.contains("nothing from this file was imported"),
        "{err}"
    );
}

#[test]
fn legacy_encodings_and_empty_files_are_refused() {
    english();
    let dir = tempfile::tempdir().unwrap();
    // "Nguyễn" in Windows-1258 is not UTF-8.
    let p = write(
        dir.path(),
        "old.csv",
        b"kind,commune_code\nbirth,00004\nNguy\xEAn\xDE,x\n",
    );
    let err = open(&p, &Options::default()).unwrap_err();
    assert_eq!(err.at.as_ref().map(|a| a.line), Some(3));
    assert!(
        err.message.contains("not UTF-8") && err.message.contains("Windows-1258"),
        "{err}"
    );
    let p = write(dir.path(), "empty.jsonl", b" \n\n");
    assert!(
        open(&p, &Options::default())
            .unwrap_err()
            .message
            .contains("empty")
    );
    let p = write(dir.path(), "u16.csv", b"\xFF\xFEk\x00");
    assert!(
        open(&p, &Options::default())
            .unwrap_err()
            .message
            .contains("UTF-16")
    );
}

#[test]
fn csv_header_problems_are_named() {
    english();
    let dir = tempfile::tempdir().unwrap();
    let base = "kind,commune_code,register.year,register.book,register.entry,registered_on";
    let p = write(dir.path(), "dup.csv", format!("{base},kind\n").as_bytes());
    assert!(
        open(&p, &Options::default())
            .unwrap_err()
            .message
            .contains("\"kind\" appears twice")
    );
    let p = write(
        dir.path(),
        "typo.csv",
        format!("{base},child.fullname\n").as_bytes(),
    );
    let e = open(&p, &Options::default()).unwrap_err();
    assert!(e.message.contains("did you mean child.full_name"), "{e}");
    let p = write(
        dir.path(),
        "missing.csv",
        b"kind,commune_code,child.full_name\nbirth,00004,A\n",
    );
    let e = open(&p, &Options::default()).unwrap_err();
    assert_eq!(e.at.as_ref().map(|a| a.line), Some(1));
    assert!(
        e.message.contains(
            "missing required columns register.year, register.book, register.entry, registered_on"
        ),
        "{e}"
    );
}

#[test]
fn csv_rows_become_nested_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "ok.csv",
        "kind;commune_code;register.year;register.book;register.entry;registered_on;child.full_name;father.full_name;scans.0.bytes;errors\n\
         birth;00004;1998;01;123;1998-03-20;Nguyễn Văn An;;812;old problem\n\
         birth;00004;1998\n"
            .as_bytes(),
    );
    let got = items(&p);
    let v = got[0].value.as_ref().unwrap();
    assert_eq!(v["register"]["year"], 1998);
    assert_eq!(v["register"]["book"], "01");
    assert_eq!(v["child"]["full_name"], "Nguyễn Văn An");
    assert_eq!(v["scans"][0]["bytes"], 812);
    assert!(v.get("father").is_none() && v.get("errors").is_none());
    assert_eq!(got[1].at.line, 3);
    assert!(
        got[1].value.as_ref().unwrap_err()[0]
            .reason
            .contains("3 cells")
    );
}

/// A register sheet as an official lays it out: a title row left blank
/// above the header, dates as text and as date cells, a note that happens
/// to look like a US date.
fn workbook(dir: &Path, month_first_at: Option<u32>) -> PathBuf {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Khai sinh").unwrap();
    let header = [
        "Năm",
        "Quyển số",
        "Số",
        "Ngày đăng ký",
        "Họ và tên",
        "Giới tính",
        "Ngày sinh",
        "Ghi chú",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for entry in 1..=150u32 {
        let row = entry + 1;
        sheet.write_number(row, 0, 1998.0).unwrap();
        sheet.write_string(row, 1, "01").unwrap();
        sheet.write_number(row, 2, f64::from(entry)).unwrap();
        let registered = ExcelDateTime::from_ymd(1998, 3, 20).unwrap();
        sheet
            .write_datetime_with_format(row, 3, &registered, &date)
            .unwrap();
        sheet.write_string(row, 4, "Nguyễn Văn An").unwrap();
        sheet.write_string(row, 5, "Nam").unwrap();
        let born = if month_first_at == Some(row + 1) {
            "03/15/1998"
        } else {
            "15/03/1998"
        };
        sheet.write_string(row, 6, born).unwrap();
        sheet.write_string(row, 7, "giấy hẹn 03/25/1998").unwrap();
    }
    let path = dir.join("so.xlsx");
    book.save(&path).unwrap();
    path
}

#[test]
fn xlsx_rows_are_named_as_excel_shows_them_and_come_through_whole() {
    let dir = tempfile::tempdir().unwrap();
    let got = items(&workbook(dir.path(), None));
    assert_eq!(got.len(), 150);
    assert_eq!(got[0].at.sheet.as_deref(), Some("Khai sinh"));
    assert_eq!(got[0].at.line, 3, "header on row 2, first record on row 3");
    assert_eq!(got[149].at.line, 152);
    let first = got[0].value.as_ref().unwrap();
    assert_eq!(first["kind"], "birth");
    assert_eq!(first["registered_on"], "1998-03-20");
    assert_eq!(first["child"]["date_of_birth"], "1998-03-15");
    assert_eq!(first["register"]["entry"], 1);
}

#[test]
fn xlsx_with_a_month_first_date_is_refused_whole_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    english();
    let Err(e) = open(&workbook(dir.path(), Some(140)), &Options::default()) else {
        panic!("a month-first date in Ngày sinh must refuse the sheet");
    };
    let at = e.at.as_ref().unwrap();
    assert_eq!((at.sheet.as_deref(), at.line), (Some("Khai sinh"), 140));
    assert!(
        e.message.contains("Ngày sinh") && e.message.contains("03/15/1998"),
        "{}",
        e.message
    );
}
