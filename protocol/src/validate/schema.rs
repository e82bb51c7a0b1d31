//! The field schema of record model v1: which fields each kind has, their
//! types and limits, and which are required. A new kind of record, or a new
//! field, is added here; the checker and the CSV header check follow it.

use crate::record::RecordKind;
use crate::time::CivilDate;

/// The earliest date a register in scope can carry.
pub(crate) const EARLIEST: CivilDate = CivilDate {
    year: 1800,
    month: 1,
    day: 1,
};

/// The largest record, as JSON text, that is parsed at all: ten times the
/// biggest real one. Both sides check it before any other work, so a hostile
/// record costs no more than a large honest one.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Problems kept per record; the rest are counted ("and N more").
pub const MAX_ERRORS: usize = 20;

/// Items of a list (scans) checked at most; a longer list is one problem.
pub const MAX_LIST_ITEMS: usize = 50;

/// A key longer than this is no field of any model: it is reported unknown
/// without a "did you mean", and shown cut short.
pub const MAX_KEY_CHARS: usize = 64;

/// How much of a value a message quotes before "…".
pub const SHOWN_CHARS: usize = 60;

/// `s` as a message quotes it: at most [`SHOWN_CHARS`] characters.
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(SHOWN_CHARS) {
        None => std::borrow::Cow::Borrowed(s),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &s[..cut])),
    }
}

pub const MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/tiff", "application/pdf"];

#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty {
    Kind,
    /// Single-line text of at most this many characters.
    Line(usize),
    /// Free text (line breaks allowed) of at most this many characters.
    Text(usize),
    CommuneCode,
    /// A full date, `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD`, or only `YYYY-MM` or `YYYY` as an old book gives it.
    PartialDate,
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
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) ty: Ty,
    pub(crate) required: bool,
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
    opt("former_commune_code", Ty::CommuneCode),
    req("year", Ty::Year),
];

const SCAN: &[Field] = &[
    req("bytes", Ty::ByteCount),
    req("media_type", Ty::MediaType),
    req("sha256", Ty::Hash),
];

const CHILD: &[Field] = &[
    req("date_of_birth", Ty::PartialDate),
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
    opt("date_of_birth", Ty::PartialDate),
    opt("ethnicity", SHORT),
    req("full_name", NAME),
    opt("nationality", SHORT),
    opt("personal_id", Ty::PersonalId),
    opt("residence", PLACE),
];

const DECEASED: &[Field] = &[
    opt("date_of_birth", Ty::PartialDate),
    opt("ethnicity", SHORT),
    req("full_name", NAME),
    opt("nationality", SHORT),
    opt("personal_id", Ty::PersonalId),
    opt("residence", PLACE),
    opt("sex", Ty::Sex),
];

pub(crate) const COMMON: &[Field] = &[
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
    req("date_of_death", Ty::PartialDate),
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

pub(crate) fn schema(kind: RecordKind) -> &'static [Field] {
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

pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

#[cfg(test)]
mod tests {
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
