//! Since July 2025 one commune office holds the books of the former
//! communes merged into it, and their entries collide: "book 01, entry 5"
//! exists in each. `register.former_commune_code` (a `Mã xã cũ` column, or
//! `import --former-commune`) makes them records of their own.

use std::path::{Path, PathBuf};

use hotich_tests::TestAgent;
use hotich_tests::harness::{stderr, stdout};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, format!("\u{feff}{text}")).expect("write");
    path
}

const HEADER: &str =
    "Loại;Mã xã;Mã xã cũ;Năm;Quyển số;Số;Ngày đăng ký;Họ và tên;Giới tính;Ngày sinh\r\n";

#[test]
fn the_same_book_entry_of_two_former_communes_is_two_records_centrally() {
    let server = hotich_tests::TestServer::start();
    let token = server.add_agent("00004");
    let agent = TestAgent::init(&server.url(), &token, "00004");
    let dir = agent.dir.path().join("so");
    let book = write(
        &dir,
        "so-gop.csv",
        &format!(
            "{HEADER}\
             Khai sinh;00004;;1998;01;5;20/03/1998;Nguyễn Văn An;Nam;15/03/1998\r\n\
             Khai sinh;00004;00123;1998;01;5;21/03/1998;Trần Thị Bình;Nữ;16/03/1998\r\n\
             Khai sinh;00004;456;1998;01;5;22/03/1998;Lê Văn Cường;Nam;17/03/1998\r\n"
        ),
    );
    let out = agent.import(&book);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("3 accepted"), "{}", stdout(&out));

    // This commune's own code as the former one names its own books: the
    // same book entry, so a different record there is a conflict.
    let own = write(
        &dir,
        "so-ma-xa-minh.csv",
        &format!(
            "{HEADER}Khai sinh;00004;00004;1998;01;5;20/03/1998;Nguyễn Văn Ánh;Nam;15/03/1998\r\n"
        ),
    );
    let out = agent.import(&own);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("0 accepted"), "{}", stdout(&out));

    // A file of one former commune's books, without the column.
    let other = write(
        &dir,
        "so-xa-cu.csv",
        "Loại;Mã xã;Năm;Quyển số;Số;Ngày đăng ký;Họ và tên;Giới tính;Ngày sinh\r\n\
         Khai sinh;00004;1998;01;5;23/03/1998;Phạm Thị Dung;Nữ;18/03/1998\r\n",
    );
    let out = agent.cmd(&[
        "import",
        other.to_str().expect("path"),
        "--former-commune",
        "00789",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("1 accepted"), "{}", stdout(&out));

    // The same file without it collides with this commune's own entry 5,
    // and the advice says how to tell them apart.
    let out = agent.import(&other);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("Mã xã cũ") && stdout(&out).contains("--former-commune"),
        "{}",
        stdout(&out)
    );
    let out = agent.cmd(&[
        "import",
        other.to_str().expect("path"),
        "--former-commune",
        "789",
    ]);
    assert_eq!(out.status.code(), Some(2), "a code that is not 5 digits");
    assert!(
        stderr(&out).contains("not a 5-digit commune code"),
        "{}",
        stderr(&out)
    );

    agent.sync_ok();
    let mut stored: Vec<(String, String)> = server
        .export()
        .iter()
        .map(|row| {
            let register = &row["record"]["register"];
            (
                register["former_commune_code"]
                    .as_str()
                    .unwrap_or("-")
                    .to_string(),
                row["record"]["child"]["full_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        vec![
            ("-".to_string(), "Nguyễn Văn An".to_string()),
            ("00123".to_string(), "Trần Thị Bình".to_string()),
            ("00456".to_string(), "Lê Văn Cường".to_string()),
            ("00789".to_string(), "Phạm Thị Dung".to_string()),
        ],
        "four records, each in its own former commune's book"
    );
    let status = agent.status();
    assert_eq!(status["parked"], 0, "{status}");
}
