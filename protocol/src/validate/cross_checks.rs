//! Checks across fields: an event registered before it happened, a parent
//! born after the child, a personal id that contradicts the record.

use serde_json::Value;

use super::checker::Checker;
use super::personal_id::cross_check_id;
use crate::record::RecordKind;
use crate::time::CivilDate;

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

pub(crate) fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

fn get_date(v: &Value, path: &[&str]) -> Option<CivilDate> {
    get_str(v, path).and_then(|s| CivilDate::parse(s).ok())
}

pub(crate) fn get_int(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

pub(crate) fn cross_checks(c: &mut Checker, r: &Value, kind: RecordKind) {
    let registered_on = get_date(r, &["registered_on"]);
    let not_before = |c: &mut Checker,
                      later_path: &str,
                      later: Option<CivilDate>,
                      earlier_path: &str,
                      earlier: Option<CivilDate>,
                      what: &str| {
        if let (Some(l), Some(e)) = (later, earlier)
            && l < e
        {
            c.err(
                later_path,
                format!("{l} is before {what} ({earlier_path} {e})"),
            );
        }
    };
    match kind {
        RecordKind::Birth => {
            let dob = get_date(r, &["child", "date_of_birth"]);
            not_before(
                c,
                "registered_on",
                registered_on,
                "child.date_of_birth",
                dob,
                "the birth",
            );
            cross_check_id(
                c,
                "child.personal_id",
                get_str(r, &["child", "personal_id"]),
                get_str(r, &["child", "sex"]),
                dob.map(|d| d.year),
            );
            for (parent, sex) in [("mother", "female"), ("father", "male")] {
                let by = get_int(r, &[parent, "birth_year"]).map(|y| y as i32);
                if let (Some(by), Some(dob)) = (by, dob)
                    && by >= dob.year
                {
                    c.err(
                        format!("{parent}.birth_year"),
                        format!("{by} is not before the child's birth ({})", dob.year),
                    );
                }
                cross_check_id(
                    c,
                    &format!("{parent}.personal_id"),
                    get_str(r, &[parent, "personal_id"]),
                    Some(sex),
                    by,
                );
            }
        }
        RecordKind::Marriage => {
            for (spouse, sex) in [("husband", "male"), ("wife", "female")] {
                let dob = get_date(r, &[spouse, "date_of_birth"]);
                not_before(
                    c,
                    "registered_on",
                    registered_on,
                    &format!("{spouse}.date_of_birth"),
                    dob,
                    &format!("the {spouse}'s birth"),
                );
                cross_check_id(
                    c,
                    &format!("{spouse}.personal_id"),
                    get_str(r, &[spouse, "personal_id"]),
                    Some(sex),
                    dob.map(|d| d.year),
                );
            }
        }
        RecordKind::Death => {
            let died = get_date(r, &["date_of_death"]);
            let dob = get_date(r, &["deceased", "date_of_birth"]);
            not_before(
                c,
                "registered_on",
                registered_on,
                "date_of_death",
                died,
                "the death",
            );
            not_before(
                c,
                "date_of_death",
                died,
                "deceased.date_of_birth",
                dob,
                "the birth",
            );
            cross_check_id(
                c,
                "deceased.personal_id",
                get_str(r, &["deceased", "personal_id"]),
                get_str(r, &["deceased", "sex"]),
                dob.map(|d| d.year),
            );
        }
    }
}
