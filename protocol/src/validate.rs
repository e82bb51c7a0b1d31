//! Validation of record model v1: every problem of a record at once, each with
//! its field path and a plain reason. Runs on normalized input (see
//! [`crate::record::normalize`]) on both the agent and the server.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hash::ContentHash;
use crate::record::{NaturalKey, RecordKind};
use crate::time::CivilDate;

/// One problem with one field, e.g. `child.date_of_birth: 1998-02-30 is not a real date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Joins errors into one line, for a server's rejection reason.
pub fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the rest of the system needs to know about a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFacts {
    pub key: NaturalKey,
    pub supersedes: Option<ContentHash>,
}

/// The earliest date a register in scope can carry.
const EARLIEST: CivilDate = CivilDate {
    year: 1800,
    month: 1,
    day: 1,
};

pub const MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/tiff", "application/pdf"];

/// Codes of the 63 provinces as used in the first three digits of a personal
/// id (Circular 07/2016/TT-BCA). Ids issued before the 2025 merger keep them.
const PROVINCE_CODES: [u16; 63] = [
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37,
    38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77,
    79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
];

#[derive(Clone, Copy, Debug)]
enum Ty {
    Kind,
    /// Single-line text of at most this many characters.
    Line(usize),
    /// Free text (line breaks allowed) of at most this many characters.
    Text(usize),
    CommuneCode,
    Date,
    Year,
    Entry,
    Sex,
    PersonalId,
    Hash,
    MediaType,
    ByteCount,
    Object(&'static [Field]),
    ListOf(&'static [Field]),
}

#[derive(Clone, Copy, Debug)]
struct Field {
    name: &'static str,
    ty: Ty,
    required: bool,
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

const NAME: Ty = Ty::Line(200);
const PLACE: Ty = Ty::Line(500);
const SHORT: Ty = Ty::Line(100);

// Every list is sorted by name (byte order, as the keys of a JSON object
// map are), so `Checker::object` walks fields and keys together.

const REGISTER: &[Field] = &[
    opt("authority", PLACE),
    req("book", Ty::Line(20)),
    req("entry", Ty::Entry),
    req("year", Ty::Year),
];

const SCAN: &[Field] = &[
    req("bytes", Ty::ByteCount),
    req("media_type", Ty::MediaType),
    req("sha256", Ty::Hash),
];

const CHILD: &[Field] = &[
    req("date_of_birth", Ty::Date),
    opt("ethnicity", SHORT),
    req("full_name", NAME),
    opt("hometown", PLACE),
    opt("nationality", SHORT),
    opt("personal_id", Ty::PersonalId),
    opt("place_of_birth", PLACE),
    req("sex", Ty::Sex),
];

const PARENT: &[Field] = &[
    opt("birth_year", Ty::Year),
    opt("ethnicity", SHORT),
    req("full_name", NAME),
    opt("nationality", SHORT),
    opt("personal_id", Ty::PersonalId),
    opt("residence", PLACE),
];

const DECLARANT: &[Field] = &[
    req("full_name", NAME),
    opt("personal_id", Ty::PersonalId),
    opt("relationship", SHORT),
];

const SPOUSE: &[Field] = &[
    opt("date_of_birth", Ty::Date),
    opt("ethnicity", SHORT),
    req("full_name", NAME),
    opt("nationality", SHORT),
    opt("personal_id", Ty::PersonalId),
    opt("residence", PLACE),
];

const DECEASED: &[Field] = &[
    opt("date_of_birth", Ty::Date),
    opt("ethnicity", SHORT),
    req("full_name", NAME),
    opt("nationality", SHORT),
    opt("personal_id", Ty::PersonalId),
    opt("residence", PLACE),
    opt("sex", Ty::Sex),
];

const COMMON: &[Field] = &[
    req("commune_code", Ty::CommuneCode),
    req("kind", Ty::Kind),
    opt("notes", Ty::Text(4000)),
    req("register", Ty::Object(REGISTER)),
    req("registered_on", Ty::Date),
    opt("scans", Ty::ListOf(SCAN)),
    opt("supersedes", Ty::Hash),
];

const BIRTH: &[Field] = &[
    req("child", Ty::Object(CHILD)),
    req("commune_code", Ty::CommuneCode),
    opt("declarant", Ty::Object(DECLARANT)),
    opt("father", Ty::Object(PARENT)),
    req("kind", Ty::Kind),
    opt("mother", Ty::Object(PARENT)),
    opt("notes", Ty::Text(4000)),
    req("register", Ty::Object(REGISTER)),
    req("registered_on", Ty::Date),
    opt("scans", Ty::ListOf(SCAN)),
    opt("supersedes", Ty::Hash),
];

const MARRIAGE: &[Field] = &[
    req("commune_code", Ty::CommuneCode),
    req("husband", Ty::Object(SPOUSE)),
    req("kind", Ty::Kind),
    opt("notes", Ty::Text(4000)),
    req("register", Ty::Object(REGISTER)),
    req("registered_on", Ty::Date),
    opt("scans", Ty::ListOf(SCAN)),
    opt("supersedes", Ty::Hash),
    req("wife", Ty::Object(SPOUSE)),
];

const DEATH: &[Field] = &[
    opt("cause", Ty::Line(1000)),
    req("commune_code", Ty::CommuneCode),
    req("date_of_death", Ty::Date),
    req("deceased", Ty::Object(DECEASED)),
    opt("declarant", Ty::Object(DECLARANT)),
    req("kind", Ty::Kind),
    opt("notes", Ty::Text(4000)),
    opt("place_of_death", PLACE),
    req("register", Ty::Object(REGISTER)),
    req("registered_on", Ty::Date),
    opt("scans", Ty::ListOf(SCAN)),
    opt("supersedes", Ty::Hash),
];

fn schema(kind: RecordKind) -> &'static [Field] {
    match kind {
        RecordKind::Birth => BIRTH,
        RecordKind::Marriage => MARRIAGE,
        RecordKind::Death => DEATH,
    }
}

/// Whether a dotted field path (as in a CSV header, `register.year`) holds a
/// whole number, so that text cells can be typed before validation.
pub fn is_integer_field(path: &str) -> bool {
    matches!(
        path,
        "register.year" | "register.entry" | "mother.birth_year" | "father.birth_year"
    ) || (path.starts_with("scans.") && path.ends_with(".bytes"))
}

/// Every field path model v1 knows for some kind, for checking CSV headers.
pub fn known_field_paths() -> Vec<String> {
    let mut out = Vec::new();
    for kind in RecordKind::ALL {
        collect_paths(schema(kind), "", &mut out);
    }
    out.sort();
    out.dedup();
    out
}

fn collect_paths(fields: &[Field], prefix: &str, out: &mut Vec<String>) {
    for f in fields {
        let path = join(prefix, f.name);
        match f.ty {
            Ty::Object(inner) => collect_paths(inner, &path, out),
            Ty::ListOf(inner) => collect_paths(inner, &format!("{path}.N"), out),
            _ => out.push(path),
        }
    }
}

/// The field paths every record needs whatever its kind.
pub fn always_required_paths() -> Vec<String> {
    let mut out = Vec::new();
    for f in COMMON.iter().filter(|f| f.required) {
        match f.ty {
            Ty::Object(inner) => out.extend(
                inner
                    .iter()
                    .filter(|g| g.required)
                    .map(|g| join(f.name, g.name)),
            ),
            _ => out.push(f.name.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn field_lists_are_sorted_and_share_the_common_fields() {
        for list in [
            REGISTER, SCAN, CHILD, PARENT, DECLARANT, SPOUSE, DECEASED, COMMON, BIRTH, MARRIAGE,
            DEATH,
        ] {
            assert!(list.windows(2).all(|w| w[0].name < w[1].name), "{list:?}");
        }
        for kind in [BIRTH, MARRIAGE, DEATH] {
            for c in COMMON {
                assert!(
                    kind.iter()
                        .any(|f| f.name == c.name && f.required == c.required),
                    "{}",
                    c.name
                );
            }
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

struct Checker {
    today: CivilDate,
    errors: Vec<FieldError>,
}

/// A field's dotted path, spelled out only when an error needs it: a valid
/// record is checked without building a string per field.
#[derive(Clone, Copy)]
struct FieldPath<'a> {
    prefix: &'a str,
    name: &'a str,
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            f.write_str(self.name)
        } else {
            write!(f, "{}.{}", self.prefix, self.name)
        }
    }
}

impl Checker {
    fn err(&mut self, field: impl fmt::Display, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field.to_string(), reason));
    }

    fn object(&mut self, map: &Map<String, Value>, fields: &[Field], prefix: &str, strict: bool) {
        // Keys and fields are both sorted: one walk finds each field's value,
        // the missing required fields and the unknown keys.
        let mut fields_left = fields.iter().peekable();
        let mut unknown = Vec::new();
        for (key, v) in map {
            while let Some(f) = fields_left.next_if(|f| f.name < key.as_str()) {
                if f.required {
                    self.err(
                        FieldPath {
                            prefix,
                            name: f.name,
                        },
                        "is required",
                    );
                }
            }
            match fields_left.next_if(|f| f.name == key.as_str()) {
                Some(f) => self.value(
                    v,
                    f.ty,
                    FieldPath {
                        prefix,
                        name: f.name,
                    },
                ),
                None => unknown.push(key),
            }
        }
        for f in fields_left.filter(|f| f.required) {
            self.err(
                FieldPath {
                    prefix,
                    name: f.name,
                },
                "is required",
            );
        }
        if strict {
            for key in unknown {
                let path = join(prefix, key);
                let reason = match closest(key, fields.iter().map(|f| f.name)) {
                    Some(near) => format!("unknown field (did you mean {}?)", join(prefix, near)),
                    None => "unknown field".to_string(),
                };
                self.err(&path, reason);
            }
        }
    }

    fn value(&mut self, v: &Value, ty: Ty, path: FieldPath<'_>) {
        match ty {
            Ty::Object(fields) => match v {
                Value::Object(m) => self.object(m, fields, &path.to_string(), true),
                _ => self.err(path, format!("must be an object with fields, found {}", type_name(v))),
            },
            Ty::ListOf(fields) => match v {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        match item {
                            Value::Object(m) => self.object(m, fields, &p, true),
                            _ => self.err(&p, format!("must be an object, found {}", type_name(item))),
                        }
                    }
                }
                _ => self.err(path, format!("must be a list, found {}", type_name(v))),
            },
            Ty::Year | Ty::Entry | Ty::ByteCount => self.integer(v, ty, path),
            _ => match v {
                Value::String(s) => self.text(s, ty, path),
                Value::Number(n) if matches!(ty, Ty::CommuneCode | Ty::PersonalId) => self.err(
                    path,
                    format!("must be written as text in quotes (\"{n}\" as a number loses leading zeros)"),
                ),
                _ => self.err(path, format!("must be text, found {}", type_name(v))),
            },
        }
    }

    fn integer(&mut self, v: &Value, ty: Ty, path: FieldPath<'_>) {
        let Some(n) = v.as_i64().filter(|_| v.is_i64() || v.is_u64()) else {
            let found = match v {
                Value::String(s) => format!("text \"{s}\""),
                other => type_name(other).to_string(),
            };
            self.err(path, format!("must be a whole number, found {found}"));
            return;
        };
        match ty {
            Ty::Year => {
                let this_year = i64::from(self.today.year);
                if !(i64::from(EARLIEST.year)..=this_year).contains(&n) {
                    self.err(
                        path,
                        format!("year {n} is not between {} and {this_year}", EARLIEST.year),
                    );
                }
            }
            Ty::Entry => {
                if !(1..=10_000_000).contains(&n) {
                    self.err(path, format!("entry number {n} must be 1 or more"));
                }
            }
            _ => {
                if !(1..=(1i64 << 40)).contains(&n) {
                    self.err(path, format!("{n} is not a plausible file size in bytes"));
                }
            }
        }
    }

    fn text(&mut self, s: &str, ty: Ty, path: FieldPath<'_>) {
        match ty {
            Ty::Kind => {
                if RecordKind::parse(s).is_none() {
                    self.err(
                        path,
                        format!("unknown kind \"{s}\" (expected birth, marriage or death)"),
                    );
                }
            }
            Ty::Line(max) | Ty::Text(max) => {
                let multiline = matches!(ty, Ty::Text(_));
                if let Some(c) = s
                    .chars()
                    .find(|c| c.is_control() && !(multiline && (*c == '\n' || *c == '\t')))
                {
                    self.err(
                        path,
                        format!("contains the control character U+{:04X}", c as u32),
                    );
                }
                let len = s.chars().count();
                if len > max {
                    self.err(
                        path,
                        format!("is {len} characters long; at most {max} are allowed"),
                    );
                }
            }
            Ty::CommuneCode => {
                if !(s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit())) {
                    self.err(
                        path,
                        format!("\"{s}\" is not a commune code (5 digits, e.g. 00004)"),
                    );
                }
            }
            Ty::Date => match CivilDate::parse(s) {
                Err(e) => self.err(path, format!("\"{s}\": {e}")),
                Ok(d) if d > self.today => self.err(
                    path,
                    format!("{d} is in the future (today is {})", self.today),
                ),
                Ok(d) if d < EARLIEST => self.err(path, format!("{d} is before {EARLIEST}")),
                Ok(_) => {}
            },
            Ty::Sex => {
                if s != "male" && s != "female" {
                    self.err(path, format!("\"{s}\" is not male or female"));
                }
            }
            Ty::PersonalId => {
                if let Err(reason) = check_personal_id_form(s) {
                    self.err(path, reason);
                }
            }
            Ty::Hash => {
                if let Err(e) = ContentHash::from_hex(s) {
                    self.err(path, format!("is not a SHA-256 hash: {e}"));
                }
            }
            Ty::MediaType => {
                if !MEDIA_TYPES.contains(&s) {
                    self.err(
                        path,
                        format!("\"{s}\" is not one of {}", MEDIA_TYPES.join(", ")),
                    );
                }
            }
            Ty::Year | Ty::Entry | Ty::ByteCount | Ty::Object(_) | Ty::ListOf(_) => {}
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_personal_id_form(id: &str) -> Result<(), String> {
    if !(id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("\"{id}\" is not a personal id (12 digits)"));
    }
    let province: u16 = id[..3].parse().unwrap_or(0);
    if !PROVINCE_CODES.contains(&province) {
        return Err(format!(
            "\"{id}\" starts with {}, which is not a province code",
            &id[..3]
        ));
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
fn cross_check_id(
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
                format!("digit 4 says {id_sex}, but the record says {sex}"),
            );
        }
    }
    if let Some(by) = birth_year
        && by != year
    {
        c.err(
            path,
            format!("digits 4-6 say born in {year}, but the record says {by}"),
        );
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

fn get_date(v: &Value, path: &[&str]) -> Option<CivilDate> {
    get_str(v, path).and_then(|s| CivilDate::parse(s).ok())
}

fn get_int(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(Value::as_i64)
}

/// Checks one normalized record. On success returns its natural key.
pub fn validate_record(record: &Value, today: CivilDate) -> Result<RecordFacts, Vec<FieldError>> {
    let mut c = Checker {
        today,
        errors: Vec::new(),
    };
    let Value::Object(map) = record else {
        return Err(vec![FieldError::new(
            "(record)",
            format!("must be a JSON object, found {}", type_name(record)),
        )]);
    };
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .and_then(RecordKind::parse);
    match kind {
        Some(kind) => c.object(map, schema(kind), "", true),
        // Without a kind only the common fields can be checked.
        None => c.object(map, COMMON, "", false),
    }
    if let Some(kind) = kind {
        cross_checks(&mut c, record, kind);
    }
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let (Some(kind), Some(commune), Some(year), Some(book), Some(entry)) = (
        kind,
        get_str(record, &["commune_code"]),
        get_int(record, &["register", "year"]),
        get_str(record, &["register", "book"]),
        get_int(record, &["register", "entry"]),
    ) else {
        return Err(vec![FieldError::new(
            "(record)",
            "natural key is incomplete",
        )]);
    };
    let supersedes = get_str(record, &["supersedes"]).and_then(|s| ContentHash::from_hex(s).ok());
    Ok(RecordFacts {
        key: NaturalKey {
            commune_code: commune.to_string(),
            kind,
            year,
            book: book.to_string(),
            entry,
        },
        supersedes,
    })
}

fn cross_checks(c: &mut Checker, r: &Value, kind: RecordKind) {
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

/// The known name nearest to a misspelt one, if it is close enough to be a typo.
pub fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
