//! Every message an official sees, from a catalog: Vietnamese by default,
//! English with `--lang en` or `HOTICH_LANG=en`. The catalogs are Fluent
//! files (`vi.ftl`, `en.ftl`) built into the binary; `tr!` looks a message
//! up by its id. Problems found in records carry a code and values (see
//! `hotich_protocol::validate::Problem`) and are worded here, fields named
//! by the spreadsheet column the official knows. Logs for IT stay English.

use std::sync::{LazyLock, OnceLock};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use hotich_protocol::{FieldError, RecordKind, Timestamp};

const VI: &str = include_str!("vi.ftl");
const EN: &str = include_str!("en.ftl");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn parse(text: &str) -> Option<Lang> {
        match text.trim().to_ascii_lowercase().as_str() {
            "vi" | "vi-vn" | "vie" | "vietnamese" | "tieng viet" => Some(Lang::Vi),
            "en" | "en-us" | "en-gb" | "eng" | "english" => Some(Lang::En),
            _ => None,
        }
    }
}

static LANG: OnceLock<Lang> = OnceLock::new();

/// Chooses the language for this process (once, at start).
pub fn set_lang(lang: Lang) {
    let _ = LANG.set(lang);
}

thread_local! {
    /// A language for this thread only, for the local page, where each
    /// request says its own (`?lang=en`) while the process keeps its own.
    static THREAD_LANG: std::cell::Cell<Option<Lang>> = const { std::cell::Cell::new(None) };
}

pub fn lang() -> Lang {
    THREAD_LANG
        .with(std::cell::Cell::get)
        .unwrap_or_else(|| *LANG.get().unwrap_or(&Lang::Vi))
}

/// Runs `f` with messages in `lang` on this thread (nothing in `f` may
/// move to another thread and expect the same language).
pub fn with_lang<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Lang>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_LANG.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(THREAD_LANG.with(|l| l.replace(Some(lang))));
    f()
}

fn bundle(
    source: &'static str,
    id: unic_langid::LanguageIdentifier,
) -> FluentBundle<FluentResource> {
    let resource = match FluentResource::try_new(source.to_string()) {
        Ok(r) => r,
        // The catalogs are checked by tests; a broken entry is skipped.
        Err((r, _)) => r,
    };
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Terminals and spreadsheets show the isolation marks as junk.
    bundle.set_use_isolating(false);
    let _ = bundle.add_resource(resource);
    bundle
}

static BUNDLES: LazyLock<[FluentBundle<FluentResource>; 2]> = LazyLock::new(|| {
    [
        bundle(VI, unic_langid::langid!("vi")),
        bundle(EN, unic_langid::langid!("en")),
    ]
});

/// A value for a message: text or a number (numbers choose plurals).
pub enum Arg {
    Text(String),
    Number(f64),
}

macro_rules! arg_from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Arg {
                Arg::Number(n as f64)
            }
        }
    )*};
}
arg_from_number!(u8, u16, u32, u64, usize, i32, i64, f64);

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<std::borrow::Cow<'_, str>> for Arg {
    fn from(s: std::borrow::Cow<'_, str>) -> Arg {
        Arg::Text(s.into_owned())
    }
}

/// The message `id` in `lang`, with its values.
pub fn message_in(lang: Lang, id: &str, args: &[(&str, Arg)]) -> String {
    let bundle = &BUNDLES[match lang {
        Lang::Vi => 0,
        Lang::En => 1,
    }];
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        // A missing message shows its id and values rather than nothing.
        let values: Vec<String> = args
            .iter()
            .map(|(k, v)| match v {
                Arg::Text(t) => format!("{k}={t}"),
                Arg::Number(n) => format!("{k}={n}"),
            })
            .collect();
        return format!("[{id}] {}", values.join(" "));
    };
    let mut fluent_args = FluentArgs::new();
    for (k, v) in args {
        match v {
            Arg::Text(t) => fluent_args.set(*k, FluentValue::from(t.as_str())),
            Arg::Number(n) => fluent_args.set(*k, FluentValue::from(*n)),
        }
    }
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, Some(&fluent_args), &mut errors)
        .into_owned()
}

/// The message `id` in this process's language.
pub fn message(id: &str, args: &[(&str, Arg)]) -> String {
    message_in(lang(), id, args)
}

/// `tr!("id")` or `tr!("id", name = value, …)`: a message from the catalog.
#[macro_export]
macro_rules! tr {
    ($id:literal) => {
        $crate::i18n::message($id, &[])
    };
    ($id:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::message($id, &[$((stringify!($name), $crate::i18n::Arg::from($value))),+])
    };
}

/// How a field is named to the official: its spreadsheet column in
/// Vietnamese (or the dotted path in English, and for fields no column
/// names).
pub fn field_name(path: &str, kind: Option<RecordKind>) -> String {
    if lang() == Lang::Vi
        && let Some(header) = crate::columns::header_of(path, kind)
    {
        return header.to_string();
    }
    match path {
        "(record)" => message("field-record", &[]),
        "(row)" => message("field-row", &[]),
        _ => path.to_string(),
    }
}

/// One problem of a record, worded for the official: "Ngày sinh: …".
pub fn problem(e: &FieldError, kind: Option<RecordKind>) -> String {
    format!("{}: {}", field_name(&e.field, kind), problem_text(e))
}

/// The problem alone, from its code and values (the English `reason` when
/// the catalog does not know the code, as from a newer server).
pub fn problem_text(e: &FieldError) -> String {
    if e.code.is_empty() {
        return e.reason.clone();
    }
    let id = format!("problem-{}", e.code);
    let bundle = &BUNDLES[match lang() {
        Lang::Vi => 0,
        Lang::En => 1,
    }];
    if !bundle.has_message(&id) {
        return e.reason.clone();
    }
    let mut args: Vec<(&str, Arg)> = Vec::with_capacity(e.args.len() + 1);
    for (k, v) in &e.args {
        let value = match k.as_str() {
            // Words, not data: say them in the official's language.
            "found" => message(&format!("type-{v}"), &[]),
            "id_says" | "record_says" => message(&format!("sex-{v}"), &[]),
            "event" => message(&format!("event-{v}"), &[]),
            "other_field" | "suggestion" => field_name(v, None),
            "date" | "other_date" | "today" | "earliest" => date_text(v),
            _ => v.clone(),
        };
        args.push((k.as_str(), Arg::Text(value)));
    }
    message(&id, &args)
}

/// A failure of the link or the server (kept as kind and values), worded
/// for the reader; `fallback` (English) when there is no kind, or the
/// catalog does not know it.
pub fn error_info(info: Option<&crate::client::ErrorInfo>, fallback: &str) -> String {
    let Some(info) = info else {
        return fallback.to_string();
    };
    let id = format!("api-error-{}", info.kind);
    let bundle = &BUNDLES[match lang() {
        Lang::Vi => 0,
        Lang::En => 1,
    }];
    if !bundle.has_message(&id) {
        return if fallback.is_empty() {
            info.text.clone()
        } else {
            fallback.to_string()
        };
    }
    let args: Vec<(&str, Arg)> = info
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), Arg::Text(v.clone())))
        .collect();
    message(&id, &args)
}

/// Why the server (or the agent) refused a record, worded for the reader,
/// with what to do next.
pub fn refusal(stored: &str) -> String {
    let r = crate::sync::Refusal::parse(stored);
    match r.kind.as_str() {
        "rejected" if !r.errors.is_empty() => {
            let problems: Vec<String> = r.errors.iter().map(|e| problem(e, None)).collect();
            message(
                "refusal-rejected",
                &[("problems", Arg::Text(problems.join("; ")))],
            )
        }
        "conflict" => match &r.existing {
            Some(existing) => message(
                "refusal-conflict",
                &[("existing", Arg::Text(existing.clone()))],
            ),
            None => r.text,
        },
        "too-large" | "damaged" | "old-normal-form" => message(&format!("refusal-{}", r.kind), &[]),
        _ => r.text,
    }
}

/// A date as the official writes it: 15/03/1998, 03/1965, 1965 (ISO in English).
pub fn date_text(iso: &str) -> String {
    if lang() == Lang::En {
        return iso.to_string();
    }
    let parts: Vec<&str> = iso.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        [y, m] => format!("{m}/{y}"),
        _ => iso.to_string(),
    }
}

/// A moment as the official's clock shows it: `dd/mm/yyyy HH:MM` Vietnam
/// time (ISO-like in English).
pub fn time_text(t: Timestamp) -> String {
    let local = t.to_vietnam_local();
    // `YYYY-MM-DD HH:MM:SS (UTC+7)`
    let (date, rest) = local.split_at(10);
    let hm = rest.get(1..6).unwrap_or("");
    match lang() {
        Lang::Vi => format!("{} {hm}", date_text(date)),
        Lang::En => format!("{date} {hm}"),
    }
}

/// A duration in words: "3 giờ 5 phút", "45 giây", "2 ngày 4 giờ".
pub fn duration_text(secs: i64) -> String {
    let s = secs.abs();
    match s {
        0..=59 => message("duration-seconds", &[("s", Arg::from(s))]),
        60..=3599 => message("duration-minutes", &[("m", Arg::from(s / 60))]),
        3600..=86_399 => message(
            "duration-hours",
            &[("h", Arg::from(s / 3600)), ("m", Arg::from(s % 3600 / 60))],
        ),
        _ => message(
            "duration-days",
            &[
                ("d", Arg::from(s / 86_400)),
                ("h", Arg::from(s % 86_400 / 3600)),
            ],
        ),
    }
}

#[cfg(test)]
mod tests;
