//! Validation of record model v1: what it accepts, and that it reports every
//! problem with its field path.

use hotich_protocol::record::Record;
use hotich_protocol::validate::{FieldError, known_field_paths};
use hotich_protocol::{CivilDate, RecordKind, normalize, prepare_record, validate_record};
use serde_json::{Value, json};

fn today() -> CivilDate {
    CivilDate::parse("2026-11-27").unwrap()
}

fn birth() -> Value {
    json!({
        "kind": "birth",
        "commune_code": "00004",
        "register": {"year": 1998, "book": "01", "entry": 123,
                     "authority": "UBND xã Tân Lập, huyện Krông Ana"},
        "registered_on": "1998-03-20",
        "child": {"full_name": "Nguyễn Văn An", "sex": "male", "date_of_birth": "1998-03-15",
                  "place_of_birth": "Trạm y tế xã Tân Lập", "ethnicity": "Kinh",
                  "nationality": "Việt Nam", "hometown": "Tân Lập", "personal_id": "001098012345"},
        "mother": {"full_name": "Trần Thị Bình", "birth_year": 1970, "ethnicity": "Kinh",
                   "nationality": "Việt Nam", "residence": "Thôn 2, xã Tân Lập"},
        "father": {"full_name": "Nguyễn Văn Cường", "birth_year": 1968},
        "declarant": {"full_name": "Nguyễn Văn Cường", "relationship": "father"},
        "notes": "Bản gốc bị mờ ở góc phải\ntrang 12",
        "scans": [{"sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                   "bytes": 812345, "media_type": "image/jpeg"}]
    })
}

fn marriage() -> Value {
    json!({
        "kind": "marriage",
        "commune_code": "27456",
        "register": {"year": 2005, "book": "02", "entry": 7},
        "registered_on": "2005-06-01",
        "husband": {"full_name": "Lê Văn Dũng", "date_of_birth": "1980-01-02",
                    "personal_id": "079080000123", "residence": "Phường 1"},
        "wife": {"full_name": "Phạm Thị Em", "date_of_birth": "1982-02-03",
                 "personal_id": "079182000456"}
    })
}

fn death() -> Value {
    json!({
        "kind": "death",
        "commune_code": "08534",
        "register": {"year": 2020, "book": "1", "entry": 45},
        "registered_on": "2020-04-10",
        "deceased": {"full_name": "Hoàng Văn Giáp", "sex": "male", "date_of_birth": "1940-05-05",
                     "personal_id": "002040001234"},
        "date_of_death": "2020-04-08",
        "place_of_death": "Tại nhà",
        "cause": "Già yếu",
        "declarant": {"full_name": "Hoàng Thị Hoa", "relationship": "con"}
    })
}

fn errors(v: Value) -> Vec<FieldError> {
    let v = normalize(v).unwrap();
    validate_record(&v, today()).unwrap_err()
}

fn has(errs: &[FieldError], field: &str, reason_part: &str) -> bool {
    errs.iter()
        .any(|e| e.field == field && e.reason.contains(reason_part))
}

#[test]
fn valid_records_of_every_kind_pass_and_match_the_typed_model() {
    for v in [birth(), marriage(), death()] {
        let n = normalize(v.clone()).unwrap();
        let facts = validate_record(&n, today()).unwrap_or_else(|e| panic!("{e:?}"));
        let typed: Record = serde_json::from_value(n.clone()).expect("typed model accepts it");
        assert_eq!(typed.to_value(), n, "typed round trip keeps every field");
        let prepared = prepare_record(v, today()).unwrap();
        assert_eq!(prepared.key, facts.key);
    }
    let p = prepare_record(birth(), today()).unwrap();
    assert_eq!(p.kind, RecordKind::Birth);
    // Normal form 2: book "01" is book 1.
    assert_eq!(p.key.storage_key(), "00004/birth/1998/1/123");
}

#[test]
fn every_known_field_is_in_the_typed_model() {
    let paths = known_field_paths();
    for p in [
        "child.personal_id",
        "register.authority",
        "scans.N.media_type",
        "date_of_death",
    ] {
        assert!(paths.contains(&p.to_string()), "{p}");
    }
}

#[test]
fn impossible_and_future_dates_are_refused() {
    let mut v = birth();
    v["child"]["date_of_birth"] = json!("1998-02-30");
    v["registered_on"] = json!("2099-01-01");
    let e = errors(v);
    assert!(has(&e, "child.date_of_birth", "not a real date"), "{e:?}");
    assert!(has(&e, "registered_on", "in the future"), "{e:?}");
}

#[test]
fn registration_before_the_event_is_refused() {
    let mut v = birth();
    v["registered_on"] = json!("1998-03-10");
    assert!(has(&errors(v), "registered_on", "before the birth"));
    let mut v = death();
    v["registered_on"] = json!("2020-04-01");
    v["deceased"]["date_of_birth"] = json!("2020-05-01");
    let e = errors(v);
    assert!(has(&e, "registered_on", "before the death"), "{e:?}");
    assert!(has(&e, "date_of_death", "before the birth"), "{e:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut v = birth();
    v["commune_code"] = json!("4");
    v["child"]["sex"] = json!("nam");
    v["child"]["full_nme"] = json!("x");
    v["register"]["entry"] = json!("12a");
    v["mother"]["birth_year"] = json!(2001);
    let e = errors(v);
    assert!(has(&e, "commune_code", "not a commune code"), "{e:?}");
    assert!(has(&e, "child.sex", "not male or female"), "{e:?}");
    assert!(
        has(&e, "child.full_nme", "did you mean child.full_name"),
        "{e:?}"
    );
    assert!(has(&e, "register.entry", "whole number"), "{e:?}");
    assert!(
        has(&e, "mother.birth_year", "not before the child's birth"),
        "{e:?}"
    );
    assert_eq!(e.len(), 5, "{e:?}");
}

#[test]
fn required_fields_are_named() {
    let v = json!({"kind": "death", "commune_code": "00004"});
    let e = errors(v);
    for f in ["register", "registered_on", "deceased", "date_of_death"] {
        assert!(has(&e, f, "is required"), "{f}: {e:?}");
    }
    let e = errors(json!({"commune_code": 4}));
    assert!(has(&e, "kind", "is required"));
    assert!(has(&e, "commune_code", "leading zeros"), "{e:?}");
    let e = errors(json!({"kind": "adoption"}));
    assert!(has(&e, "kind", "unknown kind \"adoption\""), "{e:?}");
}

#[test]
fn personal_id_is_cross_checked_against_sex_century_and_year() {
    let mut v = birth();
    v["child"]["personal_id"] = json!("001198012345"); // digit 4 = 1: female, 1900s
    assert!(has(&errors(v), "child.personal_id", "says female"));
    let mut v = birth();
    v["child"]["personal_id"] = json!("001297012345"); // 2097, male
    assert!(has(&errors(v), "child.personal_id", "born in 2097"));
    let mut v = birth();
    v["child"]["personal_id"] = json!("003098012345"); // 003 is not a province
    assert!(has(&errors(v), "child.personal_id", "not a province code"));
    let mut v = birth();
    v["child"]["personal_id"] = json!("00109801234");
    assert!(has(&errors(v), "child.personal_id", "12 digits"));
    let mut v = marriage();
    v["wife"]["personal_id"] = json!("079082000456"); // says male
    assert!(has(&errors(v), "wife.personal_id", "says male"));
    let mut v = birth();
    v["child"]["date_of_birth"] = json!("2003-01-01");
    v["registered_on"] = json!("2003-01-05");
    v["child"]["personal_id"] = json!("001203012345");
    v["register"]["year"] = json!(2003);
    validate_record(&normalize(v).unwrap(), today()).expect("born 2003, male: digit 4 = 2");
}

#[test]
fn text_is_trimmed_and_nfc_so_one_record_has_one_hash() {
    let a = prepare_record(birth(), today()).unwrap();
    let mut b = birth();
    b["child"]["full_name"] = json!("  Nguye\u{302}\u{303}n Va\u{306}n An  ");
    b["father"]["ethnicity"] = json!("");
    b["declarant"]["personal_id"] = Value::Null;
    let b = prepare_record(b, today()).unwrap();
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.canonical, b.canonical);
}

#[test]
fn control_characters_and_overlong_text_are_refused() {
    let mut v = birth();
    v["child"]["full_name"] = json!("An\u{0}B");
    v["child"]["place_of_birth"] = json!("x".repeat(600));
    let e = errors(v);
    assert!(
        has(&e, "child.full_name", "control character U+0000"),
        "{e:?}"
    );
    assert!(has(&e, "child.place_of_birth", "at most 500"), "{e:?}");
}

#[test]
fn scans_and_supersedes_are_checked() {
    let mut v = birth();
    v["scans"][0]["media_type"] = json!("image/gif");
    v["scans"][0]["sha256"] = json!("ABC");
    v["supersedes"] = json!("nope");
    let e = errors(v);
    assert!(has(&e, "scans[0].media_type", "image/gif"), "{e:?}");
    assert!(has(&e, "scans[0].sha256", "SHA-256"), "{e:?}");
    assert!(has(&e, "supersedes", "SHA-256"), "{e:?}");
}

#[test]
fn a_record_must_be_an_object() {
    let e = validate_record(&json!([1, 2]), today()).unwrap_err();
    assert_eq!(e[0].field, "(record)");
}

/// Normal form 2: whatever a spreadsheet did to a book code or an entry
/// number, one book entry is one record with one hash.
#[test]
fn book_and_entry_have_one_spelling() {
    let mut a = birth();
    a["register"]["book"] = json!("01");
    let mut b = birth();
    b["register"]["book"] = json!("1");
    let mut c = birth();
    c["register"]["book"] = json!("0001");
    c["register"]["entry"] = json!("0123");
    c["register"]["year"] = json!("1998");
    let (a, b, c) = (
        prepare_record(a, today()).unwrap(),
        prepare_record(b, today()).unwrap(),
        prepare_record(c, today()).unwrap(),
    );
    assert_eq!((a.hash, a.hash), (b.hash, c.hash));
    assert!(a.canonical.contains(r#""book":"1""#), "{}", a.canonical);
    // A book code with letters is kept as written.
    let mut d = birth();
    d["register"]["book"] = json!("01A");
    assert!(
        prepare_record(d, today())
            .unwrap()
            .canonical
            .contains(r#""book":"01A""#)
    );
}

/// Old books often give only the year, or the month and year, of a birth:
/// those are checked as far as they go, never filled up to a full date.
#[test]
fn partial_dates_are_checked_as_far_as_they_go() {
    let mut m = marriage();
    m["husband"]["date_of_birth"] = json!("1980");
    m["wife"]["date_of_birth"] = json!("1982-03");
    let p = prepare_record(m.clone(), today()).unwrap();
    assert!(
        p.canonical.contains(r#""date_of_birth":"1980""#),
        "{}",
        p.canonical
    );
    m["husband"]["date_of_birth"] = json!("2999");
    assert!(has(
        &errors(m.clone()),
        "husband.date_of_birth",
        "in the future"
    ));
    m["husband"]["date_of_birth"] = json!("1965-13");
    assert!(has(
        &errors(m.clone()),
        "husband.date_of_birth",
        "not a real date"
    ));
    m["husband"]["date_of_birth"] = json!("65");
    assert!(has(&errors(m), "husband.date_of_birth", "or YYYY"));
    // The date of registration is a full date.
    let mut b = birth();
    b["registered_on"] = json!("1998");
    assert!(has(&errors(b), "registered_on", "YYYY-MM-DD"));
    // "Before the birth" only when certainly before.
    let mut d = death();
    d["deceased"]["date_of_birth"] = json!("1940");
    d["date_of_death"] = json!("1940-03");
    d["registered_on"] = json!("1940-04-01");
    assert!(prepare_record(d.clone(), today()).is_ok());
    d["date_of_death"] = json!("1939-12");
    assert!(has(&errors(d), "date_of_death", "before the birth"));
}

/// Each problem carries a stable code and its values, for the agent to
/// word in Vietnamese.
#[test]
fn problems_carry_codes_and_values() {
    let mut v = birth();
    v["child"]["sex"] = json!("nam");
    let e = &prepare_record(v, today()).unwrap_err()[0];
    assert_eq!(e.code, "not-sex");
    assert_eq!(e.args["value"], "nam");
    assert!(hotich_protocol::validate::CODES.contains(&e.code.as_str()));
}
