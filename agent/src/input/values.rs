//! Cell values as officials write them, turned into the record model's
//! form: dates day first (15/03/1998, 5/3/1998, 15-03-1998, ISO) or partial
//! (03/1965, 1965), Nam/Nữ, numbers Excel wrote as 1998.0, personal ids and
//! commune codes whose leading zeros Excel dropped. What cannot be read is
//! passed on as written, for validation to name it; only what would be
//! silently wrong (an id with lost digits) is refused here.

use std::collections::BTreeMap;

use hotich_protocol::text::fold;
use hotich_protocol::{CivilDate, FieldError};
use serde_json::Value;

use super::table::Cell;

/// How a field's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Integer,
    Date,
    Sex,
    PersonalId,
    CommuneCode,
    Book,
}

impl FieldType {
    pub fn of(path: &str) -> FieldType {
        if path.ends_with("date_of_birth") || path == "date_of_death" || path == "registered_on" {
            FieldType::Date
        } else if path.ends_with(".sex") {
            FieldType::Sex
        } else if path.ends_with("personal_id") {
            FieldType::PersonalId
        } else if path == "commune_code" || path == "register.former_commune_code" {
            FieldType::CommuneCode
        } else if path == "register.book" {
            FieldType::Book
        } else if hotich_protocol::validate::is_integer_field(path) {
            FieldType::Integer
        } else {
            FieldType::Text
        }
    }
}

/// A whole number as Excel keeps it (1998.0) written without the fraction.
fn whole(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() < 1e15).then_some(n as i64)
}

/// A number as a spreadsheet shows it: 1998, 1.5.
pub fn number_text(n: f64) -> String {
    match whole(n) {
        Some(i) => i.to_string(),
        None => n.to_string(),
    }
}

/// `a/b/yyyy`-like text split into its numbers: day, month, year (day first).
fn split_date(text: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = text.split(['/', '-', '.']).map(str::trim).collect();
    if parts
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Some(parts)
    } else {
        None
    }
}

/// Whether a text date can only be read month first (03/15/1998): the
/// second number is no month, the first could be. A column holding one is
/// refused whole: its other dates (03/04/1998) cannot be told apart either.
pub fn is_month_first(text: &str) -> bool {
    match split_date(text.trim()).as_deref() {
        Some([a, b, y]) if y.len() == 4 && a.len() <= 2 && b.len() <= 2 => {
            let (a, b) = (a.parse::<u32>().unwrap_or(0), b.parse::<u32>().unwrap_or(0));
            (1..=12).contains(&a) && b > 12 && b <= 31
        }
        _ => false,
    }
}

/// A text date in the model's form, read day first; partial dates as far as
/// written. Anything else is passed on as written.
pub fn date_from_text(text: &str) -> String {
    let t = text.trim();
    let Some(parts) = split_date(t) else {
        return t.to_string();
    };
    match parts.as_slice() {
        // ISO, with or without zero padding: 1998-3-5.
        [y, m, d] if y.len() == 4 && t.contains('-') && t.find('-') == Some(4) => {
            format!("{y}-{m:0>2}-{d:0>2}")
        }
        [d, m, y] if y.len() == 4 && d.len() <= 2 && m.len() <= 2 => {
            format!("{y}-{m:0>2}-{d:0>2}")
        }
        [m, y] if y.len() == 4 && m.len() <= 2 => format!("{y}-{m:0>2}"),
        [y, m] if y.len() == 4 && m.len() <= 2 && t.find('-') == Some(4) => {
            format!("{y}-{m:0>2}")
        }
        [y] if y.len() == 4 => (*y).to_string(),
        _ => t.to_string(),
    }
}

/// Excel's day numbers (1900 system, with its phantom 29 February 1900).
fn date_from_serial(serial: f64) -> Option<CivilDate> {
    let days = serial.floor() as i64;
    if !(1..=2_958_465).contains(&days) {
        return None;
    }
    // 1899-12-30 is day 0 for serials after the phantom leap day.
    let base = CivilDate::new(1899, 12, 30)?.days_since_epoch();
    let offset = if days < 61 { days + 1 } else { days };
    Some(CivilDate::from_days_since_epoch(base + offset))
}

/// The value of one cell for a field of this type, or nothing for an
/// empty cell.
pub fn convert(cell: &Cell, ty: FieldType) -> Result<Option<Value>, FieldError> {
    let text = match cell {
        Cell::Empty => return Ok(None),
        Cell::Text(t) if t.trim().is_empty() => return Ok(None),
        Cell::Text(t) => t.trim(),
        Cell::Bool(b) => return Ok(Some(Value::String(b.to_string()))),
        Cell::Date(d) => {
            return Ok(Some(Value::String(d.to_string())));
        }
        Cell::Number(n) => return Ok(Some(from_number(*n, ty))),
    };
    Ok(Some(match ty {
        FieldType::Date => Value::String(date_from_text(text)),
        FieldType::Sex => Value::String(sex(text).unwrap_or(text).to_string()),
        FieldType::Integer => match text.parse::<f64>().ok().and_then(whole) {
            Some(n) => Value::Number(n.into()),
            None => Value::String(text.to_string()),
        },
        FieldType::PersonalId => {
            if looks_scientific(text) {
                return Err(FieldError::coded(
                    "",
                    "id-scientific",
                    BTreeMap::from([("value".to_string(), text.to_string())]),
                    format!(
                        "\"{text}\" is a number Excel wrote in scientific notation, which lost \
                         digits; format the column as Text and type the id again"
                    ),
                ));
            }
            Value::String(pad_digits(text, 12, 10))
        }
        FieldType::CommuneCode => Value::String(pad_digits(text, 5, 1)),
        FieldType::Book | FieldType::Text => Value::String(text.to_string()),
    }))
}

fn from_number(n: f64, ty: FieldType) -> Value {
    match ty {
        FieldType::Integer => match whole(n) {
            Some(i) => Value::Number(i.into()),
            None => Value::String(number_text(n)),
        },
        // An id or a code typed as a number lost its leading zeros: Excel
        // keeps the exact integer, so they can be put back.
        FieldType::PersonalId => Value::String(match whole(n) {
            Some(i) if (0..1_000_000_000_000).contains(&i) => format!("{i:012}"),
            _ => number_text(n),
        }),
        FieldType::CommuneCode => Value::String(match whole(n) {
            Some(i) if (0..100_000).contains(&i) => format!("{i:05}"),
            _ => number_text(n),
        }),
        // A year alone (1965) in a date column, or an Excel day number
        // shown without a date format.
        FieldType::Date => match whole(n) {
            Some(y) if (1000..=9999).contains(&y) => Value::String(y.to_string()),
            _ => date_from_serial(n)
                .map(|d| Value::String(d.to_string()))
                .unwrap_or_else(|| Value::String(number_text(n))),
        },
        _ => Value::String(number_text(n)),
    }
}

/// Digits whose leading zeros a spreadsheet dropped, put back: only when
/// at least `min` digits remain, so a half-typed id is not made up.
fn pad_digits(text: &str, width: usize, min: usize) -> String {
    if (min..width).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        format!("{text:0>width$}")
    } else {
        text.to_string()
    }
}

/// `1.23457E+11`, `1,3018E+09`: what Excel writes for a long number in a
/// General-format column, with digits already lost.
fn looks_scientific(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let Some((mantissa, exponent)) = upper.split_once("E+").or_else(|| upper.split_once('E'))
    else {
        return false;
    };
    !mantissa.is_empty()
        && mantissa
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        && !exponent.is_empty()
        && exponent.bytes().all(|b| b.is_ascii_digit())
}

/// Nam/Nữ (any case, with or without diacritics), or the model's words.
pub fn sex(text: &str) -> Option<&'static str> {
    match fold(text).as_str() {
        "nam" | "male" | "m" => Some("male"),
        "nu" | "female" | "f" => Some("female"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_day_first_and_partial_dates_kept_partial() {
        for (written, model) in [
            ("15/03/1998", "1998-03-15"),
            ("5/3/1998", "1998-03-05"),
            ("15-03-1998", "1998-03-15"),
            ("15.03.1998", "1998-03-15"),
            ("1998-03-15", "1998-03-15"),
            ("1998-3-5", "1998-03-05"),
            ("03/1965", "1965-03"),
            ("3/1965", "1965-03"),
            ("1965", "1965"),
            ("15/03/98", "15/03/98"),
            ("mười lăm", "mười lăm"),
        ] {
            assert_eq!(date_from_text(written), model, "{written}");
        }
        assert!(is_month_first("03/15/1998"));
        assert!(!is_month_first("15/03/1998"));
        assert!(!is_month_first("03/04/1998"), "ambiguous alone");
    }

    #[test]
    fn excel_numbers_become_what_was_meant() {
        assert_eq!(
            convert(&Cell::Number(1098012345.0), FieldType::PersonalId).unwrap(),
            Some(Value::String("001098012345".into()))
        );
        assert_eq!(
            convert(&Cell::Number(1998.0), FieldType::Integer).unwrap(),
            Some(Value::Number(1998.into()))
        );
        assert_eq!(
            convert(&Cell::Number(1.0), FieldType::Book).unwrap(),
            Some(Value::String("1".into()))
        );
        assert_eq!(
            convert(&Cell::Number(4.0), FieldType::CommuneCode).unwrap(),
            Some(Value::String("00004".into()))
        );
        assert_eq!(
            convert(&Cell::Number(35869.0), FieldType::Date).unwrap(),
            Some(Value::String("1998-03-15".into()))
        );
        assert_eq!(
            convert(&Cell::Number(1965.0), FieldType::Date).unwrap(),
            Some(Value::String("1965".into()))
        );
        assert_eq!(
            convert(&Cell::Text("1098012345".into()), FieldType::PersonalId).unwrap(),
            Some(Value::String("001098012345".into()))
        );
        let e = convert(&Cell::Text("1.23457E+11".into()), FieldType::PersonalId).unwrap_err();
        assert_eq!(e.code, "id-scientific");
        assert!(convert(&Cell::Text("1,3018E+09".into()), FieldType::PersonalId).is_err());
        assert_eq!(sex("Nữ"), Some("female"));
        assert_eq!(sex("NAM"), Some("male"));
        assert_eq!(sex("X"), None);
    }
}
