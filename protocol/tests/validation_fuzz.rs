//! Validation of untrusted records is bounded: whatever arrives (valid
//! records bent out of shape, random JSON, huge lists and keys), checking
//! never panics, keeps at most `MAX_ERRORS` problems plus a count, and every
//! message stays short. Timings are in `bench`, not here.

use hotich_protocol::validate::{MAX_ERRORS, MAX_LIST_ITEMS};
use hotich_protocol::{CivilDate, prepare_record};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn today() -> CivilDate {
    CivilDate::parse("2026-11-29").unwrap()
}

fn valid_birth() -> Value {
    json!({
        "kind": "birth", "commune_code": "00004",
        "register": {"year": 1998, "book": "01", "entry": 5, "authority": "UBND xã Tân Lập"},
        "registered_on": "1998-03-20",
        "child": {"full_name": "Nguyễn Văn An", "sex": "male", "date_of_birth": "1998-03-15",
                  "personal_id": "066098012345"},
        "mother": {"full_name": "Trần Thị Bích", "birth_year": 1970},
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
        (0usize..5000).prop_map(|n| Value::String("x".repeat(n))),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,20}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Paths into the valid record where a random value is put.
const PATHS: &[&[&str]] = &[
    &["kind"],
    &["commune_code"],
    &["register"],
    &["register", "year"],
    &["register", "book"],
    &["register", "entry"],
    &["registered_on"],
    &["child"],
    &["child", "full_name"],
    &["child", "sex"],
    &["child", "date_of_birth"],
    &["child", "personal_id"],
    &["mother", "birth_year"],
    &["scans"],
    &["supersedes"],
    &["notes"],
    &["unknown_field"],
];

fn put(record: &mut Value, path: &[&str], v: Value) {
    let mut cur = record;
    for (i, key) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Value::Object(map) = cur else { return };
        if i + 1 == path.len() {
            map.insert((*key).to_string(), v);
            return;
        }
        cur = map.entry((*key).to_string()).or_insert_with(|| json!({}));
    }
}

fn assert_bounded(
    result: Result<hotich_protocol::PreparedRecord, Vec<hotich_protocol::FieldError>>,
) {
    if let Err(errors) = result {
        assert!(!errors.is_empty());
        assert!(errors.len() <= MAX_ERRORS + 1, "{} errors", errors.len());
        for e in &errors {
            assert!(e.field.chars().count() <= 300, "field {:?}", e.field);
            assert!(e.reason.chars().count() <= 400, "reason {:?}", e.reason);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_valid_record_bent_anywhere_is_checked_within_bounds(
        at in prop::collection::vec((0..PATHS.len(), any_json()), 1..6)
    ) {
        let mut record = valid_birth();
        for (i, v) in at {
            put(&mut record, PATHS[i], v);
        }
        assert_bounded(prepare_record(record, today()));
    }

    #[test]
    fn any_json_is_checked_within_bounds(v in any_json()) {
        assert_bounded(prepare_record(v, today()));
    }

    #[test]
    fn long_lists_and_many_unknown_keys_stay_bounded(
        items in 0usize..3000,
        keys in 0usize..3000,
        key_len in 1usize..20_000,
    ) {
        let mut record = valid_birth();
        record["scans"] = Value::Array(vec![json!({}); items]);
        for i in 0..keys {
            record[format!("{i}{}", "k".repeat(key_len.min(50)))] = json!(i);
        }
        record["k".repeat(key_len)] = json!(1);
        let result = prepare_record(record, today());
        if items > MAX_LIST_ITEMS {
            let errors = result.as_ref().unwrap_err();
            prop_assert!(errors.iter().any(|e| e.reason.contains("at most 50")));
        }
        assert_bounded(result);
    }
}
