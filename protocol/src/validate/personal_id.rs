//! The 12-digit personal id (số định danh cá nhân): its form, and what its
//! digits say about the holder, cross-checked against the record.

use super::checker::Checker;
use super::problem::Problem;

/// Codes of the 63 provinces as used in the first three digits of a personal
/// id (Circular 07/2016/TT-BCA). Ids issued before the 2025 merger keep them.
pub(crate) const PROVINCE_CODES: [u16; 63] = [
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37,
    38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77,
    79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
];

pub(crate) fn check_personal_id_form(id: &str) -> Result<(), Problem> {
    if !(id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())) {
        return Err(Problem::NotPersonalId {
            value: super::schema::shown(id).into_owned(),
        });
    }
    let province: u16 = id[..3].parse().unwrap_or(0);
    if !PROVINCE_CODES.contains(&province) {
        return Err(Problem::NotProvinceCode {
            value: id.to_string(),
            prefix: id[..3].to_string(),
        });
    }
    Ok(())
}

/// What a well-formed personal id says about its holder: (is_female, birth year).
fn decode_personal_id(id: &str) -> Option<(bool, i32)> {
    check_personal_id_form(id).ok()?;
    let g = i32::from(id.as_bytes()[3] - b'0');
    let yy: i32 = id[4..6].parse().ok()?;
    let century_start = 1900 + (g / 2) * 100;
    Some((g % 2 == 1, century_start + yy))
}

/// Cross-checks digit 4 (century and sex) and digits 5-6 (year) of a personal id.
pub(crate) fn cross_check_id(
    c: &mut Checker,
    path: &str,
    id: Option<&str>,
    sex: Option<&str>,
    birth_year: Option<i32>,
) {
    let Some((female, year)) = id.and_then(decode_personal_id) else {
        return;
    };
    if let Some(sex) = sex.filter(|s| *s == "male" || *s == "female") {
        let id_sex = if female { "female" } else { "male" };
        if id_sex != sex {
            c.err(
                path,
                Problem::IdSexMismatch {
                    id_says: id_sex.into(),
                    record_says: sex.into(),
                },
            );
        }
    }
    if let Some(by) = birth_year
        && by != year
    {
        c.err(
            path,
            Problem::IdYearMismatch {
                id_year: i64::from(year),
                record_year: i64::from(by),
            },
        );
    }
}
