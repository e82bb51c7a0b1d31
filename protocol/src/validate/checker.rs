//! The checker: walks a normalized record against the schema and collects
//! every problem with its field path.

use std::fmt;

use serde_json::{Map, Value};

use super::FieldError;
use super::personal_id::check_personal_id_form;
use super::schema::{
    EARLIEST, Field, MAX_ERRORS, MAX_KEY_CHARS, MAX_LIST_ITEMS, MEDIA_TYPES, Ty, join, shown,
};
use super::suggest::closest;
use crate::hash::ContentHash;
use crate::record::{RecordKind, is_commune_code};
use crate::time::CivilDate;

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

    pub(crate) fn err(&mut self, field: impl fmt::Display, reason: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(FieldError::new(field.to_string(), reason));
        } else {
            self.more += 1;
        }
    }

    /// The problems found, with a last line counting those not kept.
    pub(crate) fn finish(mut self) -> Vec<FieldError> {
        if self.more > 0 {
            self.errors.push(FieldError::new(
                "(record)",
                format!("… and {} more problems", self.more),
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
                if self.errors.len() >= MAX_ERRORS {
                    self.more += 1;
                    continue;
                }
                let path = join(prefix, &shown(key));
                // A long key is no misspelt field name; comparing it costs
                // time in proportion to its length.
                let near = (key.chars().count() <= MAX_KEY_CHARS)
                    .then(|| closest(key, fields.iter().map(|f| f.name)))
                    .flatten();
                let reason = match near {
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
                Value::Array(items) if items.len() > MAX_LIST_ITEMS => self.err(
                    path,
                    format!(
                        "has {} items; at most {MAX_LIST_ITEMS} are allowed",
                        items.len()
                    ),
                ),
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
                Value::String(s) => format!("text \"{}\"", shown(s)),
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
        let q = shown(s);
        match ty {
            Ty::Kind => {
                if RecordKind::parse(s).is_none() {
                    self.err(
                        path,
                        format!("unknown kind \"{q}\" (expected birth, marriage or death)"),
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
                if !is_commune_code(s) {
                    self.err(
                        path,
                        format!("\"{q}\" is not a commune code (5 digits, e.g. 00004)"),
                    );
                }
            }
            Ty::Date => match CivilDate::parse(s) {
                Err(e) => self.err(path, format!("\"{q}\": {e}")),
                Ok(d) if d > self.today => self.err(
                    path,
                    format!("{d} is in the future (today is {})", self.today),
                ),
                Ok(d) if d < EARLIEST => self.err(path, format!("{d} is before {EARLIEST}")),
                Ok(_) => {}
            },
            Ty::Sex => {
                if s != "male" && s != "female" {
                    self.err(path, format!("\"{q}\" is not male or female"));
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
                        format!("\"{q}\" is not one of {}", MEDIA_TYPES.join(", ")),
                    );
                }
            }
            Ty::Year | Ty::Entry | Ty::ByteCount | Ty::Object(_) | Ty::ListOf(_) => {}
        }
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
