//! The checker: walks a normalized record against the schema and collects
//! every problem with its field path.

use std::fmt;

use serde_json::{Map, Value};

use super::FieldError;
use super::personal_id::check_personal_id_form;
use super::problem::Problem;
use super::schema::{
    EARLIEST, Field, MAX_ERRORS, MAX_KEY_CHARS, MAX_LIST_ITEMS, MEDIA_TYPES, Ty, join, shown,
};
use super::suggest::closest;
use crate::hash::ContentHash;
use crate::record::{RecordKind, is_commune_code};
use crate::time::{CivilDate, DateError, PartialDate};

pub(crate) struct Checker {
    pub(crate) today: CivilDate,
    pub(crate) errors: Vec<FieldError>,
    /// Problems found beyond [`MAX_ERRORS`], counted but not kept.
    pub(crate) more: usize,
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
    pub(crate) fn new(today: CivilDate) -> Self {
        Checker {
            today,
            errors: Vec::new(),
            more: 0,
        }
    }

    pub(crate) fn err(&mut self, field: impl fmt::Display, problem: Problem) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(FieldError::of(field.to_string(), problem));
        } else {
            self.more += 1;
        }
    }

    /// The problems found, with a last line counting those not kept.
    pub(crate) fn finish(mut self) -> Vec<FieldError> {
        if self.more > 0 {
            self.errors.push(FieldError::of(
                "(record)",
                Problem::MoreProblems { count: self.more },
            ));
        }
        self.errors
    }

    pub(crate) fn object(
        &mut self,
        map: &Map<String, Value>,
        fields: &[Field],
        prefix: &str,
        strict: bool,
    ) {
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
                        Problem::Required,
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
                Problem::Required,
            );
        }
        if strict {
            for key in unknown {
                if self.errors.len() >= MAX_ERRORS {
                    self.more += 1;
                    continue;
                }
                let path = join(prefix, &shown(key));
                // A long key is no misspelt field name; comparing it costs
                // time in proportion to its length.
                let suggestion = (key.chars().count() <= MAX_KEY_CHARS)
                    .then(|| closest(key, fields.iter().map(|f| f.name)))
                    .flatten()
                    .map(|near| join(prefix, near));
                self.err(&path, Problem::UnknownField { suggestion });
            }
        }
    }

    fn value(&mut self, v: &Value, ty: Ty, path: FieldPath<'_>) {
        match ty {
            Ty::Object(fields) => match v {
                Value::Object(m) => self.object(m, fields, &path.to_string(), true),
                _ => self.err(
                    path,
                    Problem::NotObject {
                        found: type_name(v),
                    },
                ),
            },
            Ty::ListOf(fields) => match v {
                Value::Array(items) if items.len() > MAX_LIST_ITEMS => self.err(
                    path,
                    Problem::TooManyItems {
                        count: items.len(),
                        max: MAX_LIST_ITEMS,
                    },
                ),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        match item {
                            Value::Object(m) => self.object(m, fields, &p, true),
                            _ => self.err(
                                &p,
                                Problem::ItemNotObject {
                                    found: type_name(item),
                                },
                            ),
                        }
                    }
                }
                _ => self.err(
                    path,
                    Problem::NotList {
                        found: type_name(v),
                    },
                ),
            },
            Ty::Year | Ty::Entry | Ty::ByteCount => self.integer(v, ty, path),
            _ => match v {
                Value::String(s) => self.text(s, ty, path),
                Value::Number(n) if matches!(ty, Ty::CommuneCode | Ty::PersonalId) => self.err(
                    path,
                    Problem::NumberLosesZeros {
                        value: n.to_string(),
                    },
                ),
                _ => self.err(
                    path,
                    Problem::NotText {
                        found: type_name(v),
                    },
                ),
            },
        }
    }

    fn integer(&mut self, v: &Value, ty: Ty, path: FieldPath<'_>) {
        let Some(n) = v.as_i64().filter(|_| v.is_i64() || v.is_u64()) else {
            let value = v.as_str().map(|s| shown(s).into_owned());
            self.err(
                path,
                Problem::NotWholeNumber {
                    found: type_name(v),
                    value,
                },
            );
            return;
        };
        match ty {
            Ty::Year => {
                let (min, max) = (i64::from(EARLIEST.year), i64::from(self.today.year));
                if !(min..=max).contains(&n) {
                    self.err(path, Problem::YearOutOfRange { year: n, min, max });
                }
            }
            Ty::Entry => {
                if !(1..=10_000_000).contains(&n) {
                    self.err(path, Problem::EntryOutOfRange { entry: n });
                }
            }
            _ => {
                if !(1..=(1i64 << 40)).contains(&n) {
                    self.err(path, Problem::ImplausibleSize { bytes: n });
                }
            }
        }
    }

    fn date(&mut self, s: &str, partial_allowed: bool, path: FieldPath<'_>) {
        let parsed = if partial_allowed {
            PartialDate::parse(s)
        } else {
            CivilDate::parse(s).map(PartialDate::from)
        };
        let value = shown(s).into_owned();
        match parsed {
            Err(DateError::Format) => self.err(
                path,
                Problem::BadDateFormat {
                    value,
                    partial_allowed,
                },
            ),
            Err(DateError::NotReal(_)) => self.err(path, Problem::NotARealDate { value }),
            Ok(d) if d.earliest() > self.today => self.err(
                path,
                Problem::DateInFuture {
                    date: d.to_string(),
                    today: self.today.to_string(),
                },
            ),
            Ok(d) if d.latest() < EARLIEST => self.err(
                path,
                Problem::DateTooEarly {
                    date: d.to_string(),
                    earliest: EARLIEST.to_string(),
                },
            ),
            Ok(_) => {}
        }
    }

    fn text(&mut self, s: &str, ty: Ty, path: FieldPath<'_>) {
        let value = || shown(s).into_owned();
        match ty {
            Ty::Kind => {
                if RecordKind::parse(s).is_none() {
                    self.err(path, Problem::UnknownKind { value: value() });
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
                        Problem::ControlCharacter {
                            code: format!("U+{:04X}", c as u32),
                        },
                    );
                }
                let chars = s.chars().count();
                if chars > max {
                    self.err(path, Problem::TooLong { chars, max });
                }
            }
            Ty::CommuneCode => {
                if !is_commune_code(s) {
                    self.err(path, Problem::NotCommuneCode { value: value() });
                }
            }
            Ty::Date => self.date(s, false, path),
            Ty::PartialDate => self.date(s, true, path),
            Ty::Sex => {
                if s != "male" && s != "female" {
                    self.err(path, Problem::NotSex { value: value() });
                }
            }
            Ty::PersonalId => {
                if let Err(problem) = check_personal_id_form(s) {
                    self.err(path, problem);
                }
            }
            Ty::Hash => {
                if let Err(e) = ContentHash::from_hex(s) {
                    self.err(
                        path,
                        Problem::NotAHash {
                            detail: e.to_string(),
                        },
                    );
                }
            }
            Ty::MediaType => {
                if !MEDIA_TYPES.contains(&s) {
                    self.err(
                        path,
                        Problem::MediaType {
                            value: value(),
                            allowed: MEDIA_TYPES.join(", "),
                        },
                    );
                }
            }
            Ty::Year | Ty::Entry | Ty::ByteCount | Ty::Object(_) | Ty::ListOf(_) => {}
        }
    }
}

/// The code of a JSON value's type, as problems name it.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "text",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}
