//! Checks across fields: an event registered before it happened, a parent
//! born after the child, a personal id that contradicts the record.

use serde_json::Value;

use super::checker::Checker;
use super::personal_id::cross_check_id;
use super::problem::Problem;
use crate::record::RecordKind;
use crate::time::PartialDate;

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

pub(crate) fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

fn get_date(v: &Value, path: &[&str]) -> Option<PartialDate> {
    get_str(v, path).and_then(|s| PartialDate::parse(s).ok())
}

pub(crate) fn get_int(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

pub(crate) fn cross_checks(c: &mut Checker, r: &Value, kind: RecordKind) {
    let registered_on = get_date(r, &["registered_on"]);
    // With dates given only as far as a book gives them, "before" means
    // certainly before: the latest the later date can be is before the
    // earliest the other can be.
    let not_before = |c: &mut Checker,
                      later_path: &str,
                      later: Option<PartialDate>,
                      earlier_path: &str,
                      earlier: Option<PartialDate>,
                      event: &'static str| {
        if let (Some(l), Some(e)) = (later, earlier)
            && l.latest() < e.earliest()
        {
            c.err(
                later_path,
                Problem::BeforeEvent {
                    date: l.to_string(),
                    event,
                    other_field: earlier_path.to_string(),
                    other_date: e.to_string(),
                },
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
                "birth",
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
                        Problem::ParentBornAfterChild {
                            year: i64::from(by),
                            child_year: i64::from(dob.year),
                        },
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
                    if spouse == "husband" {
                        "husband-birth"
                    } else {
                        "wife-birth"
                    },
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
                "death",
            );
            not_before(
                c,
                "date_of_death",
                died,
                "deceased.date_of_birth",
                dob,
                "birth",
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
