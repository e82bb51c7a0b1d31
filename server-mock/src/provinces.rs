//! The 34 provincial-level units of Viet Nam since 1 July 2025, and a
//! lookup that accepts what people actually type for them.
//!
//! Resolution 202/2025/QH15 (adopted 12 June 2025) rearranged the 63
//! provinces and centrally-run cities into 34 (28 provinces and 6 cities);
//! the new provincial governments took office on 1 July 2025, the same day
//! the district level was abolished and 3,321 communes, wards and special
//! zones became the units directly under the provinces. Each new unit took
//! the name of one of the units merged into it and the administrative code
//! of the one hosting its seat, so a code can mean a different territory
//! before and after that day (80 was Long An, and is now the Tây Ninh that
//! contains Long An).
//!
//! # Sources
//!
//! Verified, entry by entry, against:
//!
//! * the codes and names of Decision 19/2025/QĐ-TTg (Bảng danh mục và mã
//!   số các đơn vị hành chính Việt Nam, in force 1 July 2025), as published
//!   by the National Statistics Office and mirrored in
//!   `sunshine-tech/VietnamProvinces` (`dev/seed-data/2025-07/Cap-tinh-2025.csv`)
//!   and, independently, in `thanglequoc/vietnamese-provinces-database`
//!   (`manual_decree_seeds/provinces_seed.sql`); the two agree on all 34;
//! * which former units form each new one, and their former codes: the
//!   NSO's old-to-new commune conversion table (same repository,
//!   `BangChuyendoiĐVHCmoi_cu_khong_merge.csv`, every commune of the 63
//!   former units mapped to its new unit), cross-checked against the list
//!   of mergers in Resolution 60-NQ/TW (12 April 2025) that Resolution 202
//!   enacted, as reported by the press (qdnd.vn, baothanhhoa.vn,
//!   nghean24h.vn). Each merger took whole provinces: no former province
//!   was split between two new ones.
//!
//! Thừa Thiên Huế is not a merger: it became the centrally-run city of Huế
//! on 1 January 2025 (Resolution 175/2024/QH15) with the same territory and
//! code, so its old name is accepted as a plain alias.

use std::fmt;
use std::sync::LazyLock;

use hotich_protocol::text::fold;

// Short names for the table; the variant `Province` would clash with the struct.
use ProvinceKind::{City, Province as Prov};

/// Whether a provincial-level unit is a province or a centrally-run city;
/// only its title ("Tỉnh" or "Thành phố") depends on it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProvinceKind {
    /// Thành phố trực thuộc trung ương: six of the 34.
    City,
    /// Tỉnh: the other 28.
    Province,
}

impl ProvinceKind {
    /// The title written before the name in official documents.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            ProvinceKind::City => "Thành phố",
            ProvinceKind::Province => "Tỉnh",
        }
    }
}

/// One of the 63 provincial-level units that existed until 30 June 2025.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FormerProvince {
    /// Its administrative code until 30 June 2025. Seven of these codes
    /// were reused on 1 July 2025 by the new unit that absorbed them.
    pub code: &'static str,
    /// Its official name, without "Tỉnh"/"Thành phố".
    pub name: &'static str,
    /// Other spellings seen in records ("Bắc Cạn" for Bắc Kạn).
    pub aliases: &'static [&'static str],
}

/// A provincial-level unit (tỉnh or thành phố trực thuộc trung ương) in
/// force since 1 July 2025.
///
/// [`find`] returns references into one static table; compare provinces by
/// `code` (or `==`), not by address, since [`PROVINCES`] is a `const` and
/// each use of it is a fresh copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Province {
    /// The official two-digit administrative code (Decision 19/2025/QĐ-TTg).
    pub code: &'static str,
    /// The official name without "Tỉnh"/"Thành phố", NFC, in the spelling
    /// of the decision ("Khánh Hòa", "Thanh Hóa").
    pub name: &'static str,
    pub kind: ProvinceKind,
    /// The former units whose whole territory forms this one, the one that
    /// gave its name first; a unit left unchanged lists only itself.
    pub merged_from: &'static [FormerProvince],
    /// Other names accepted for this unit: common abbreviations and older
    /// names of the same territory. Never the name of another former unit.
    pub aliases: &'static [&'static str],
}

impl Province {
    /// The name as written in official documents: "Tỉnh Đắk Lắk",
    /// "Thành phố Hồ Chí Minh".
    #[must_use]
    pub fn full_name(&self) -> String {
        format!("{} {}", self.kind.title(), self.name)
    }

    /// Whether this unit was formed by merging several former ones.
    #[must_use]
    pub fn is_merged(&self) -> bool {
        self.merged_from.len() > 1
    }
}

impl fmt::Display for Province {
    /// "Đắk Lắk (66)": the form used in messages. [`find`] accepts it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.code)
    }
}

/// Shorthand for the table below: a former unit known by one spelling.
const fn was(code: &'static str, name: &'static str) -> FormerProvince {
    FormerProvince {
        code,
        name,
        aliases: &[],
    }
}

/// Shorthand for the table below: a unit with no aliases of its own.
const fn unit(
    code: &'static str,
    name: &'static str,
    kind: ProvinceKind,
    merged_from: &'static [FormerProvince],
) -> Province {
    Province {
        code,
        name,
        kind,
        merged_from,
        aliases: &[],
    }
}

/// The 34 provincial-level units in force since 1 July 2025, in order of
/// their codes (north to south, as the code list runs).
pub const PROVINCES: [Province; 34] = [
    unit("01", "Hà Nội", City, &[was("01", "Hà Nội")]),
    unit("04", "Cao Bằng", Prov, &[was("04", "Cao Bằng")]),
    unit(
        "08",
        "Tuyên Quang",
        Prov,
        &[was("08", "Tuyên Quang"), was("02", "Hà Giang")],
    ),
    unit("11", "Điện Biên", Prov, &[was("11", "Điện Biên")]),
    unit("12", "Lai Châu", Prov, &[was("12", "Lai Châu")]),
    unit("14", "Sơn La", Prov, &[was("14", "Sơn La")]),
    unit(
        "15",
        "Lào Cai",
        Prov,
        &[was("10", "Lào Cai"), was("15", "Yên Bái")],
    ),
    unit(
        "19",
        "Thái Nguyên",
        Prov,
        &[
            was("19", "Thái Nguyên"),
            FormerProvince {
                code: "06",
                name: "Bắc Kạn",
                // The spelling with C was official until the 1990s and is
                // still common in older civil-status books.
                aliases: &["Bắc Cạn"],
            },
        ],
    ),
    unit("20", "Lạng Sơn", Prov, &[was("20", "Lạng Sơn")]),
    unit("22", "Quảng Ninh", Prov, &[was("22", "Quảng Ninh")]),
    unit(
        "24",
        "Bắc Ninh",
        Prov,
        &[was("27", "Bắc Ninh"), was("24", "Bắc Giang")],
    ),
    unit(
        "25",
        "Phú Thọ",
        Prov,
        &[
            was("25", "Phú Thọ"),
            was("26", "Vĩnh Phúc"),
            was("17", "Hòa Bình"),
        ],
    ),
    unit(
        "31",
        "Hải Phòng",
        City,
        &[was("31", "Hải Phòng"), was("30", "Hải Dương")],
    ),
    unit(
        "33",
        "Hưng Yên",
        Prov,
        &[was("33", "Hưng Yên"), was("34", "Thái Bình")],
    ),
    unit(
        "37",
        "Ninh Bình",
        Prov,
        &[
            was("37", "Ninh Bình"),
            was("35", "Hà Nam"),
            was("36", "Nam Định"),
        ],
    ),
    unit("38", "Thanh Hóa", Prov, &[was("38", "Thanh Hóa")]),
    unit("40", "Nghệ An", Prov, &[was("40", "Nghệ An")]),
    unit("42", "Hà Tĩnh", Prov, &[was("42", "Hà Tĩnh")]),
    unit(
        "44",
        "Quảng Trị",
        Prov,
        &[was("45", "Quảng Trị"), was("44", "Quảng Bình")],
    ),
    Province {
        code: "46",
        name: "Huế",
        kind: City,
        merged_from: &[was("46", "Huế")],
        // Renamed, not merged (see the module documentation): the old
        // name still fills most records and means exactly this unit.
        aliases: &["Thừa Thiên Huế", "TT Huế"],
    },
    unit(
        "48",
        "Đà Nẵng",
        City,
        &[was("48", "Đà Nẵng"), was("49", "Quảng Nam")],
    ),
    unit(
        "51",
        "Quảng Ngãi",
        Prov,
        &[was("51", "Quảng Ngãi"), was("62", "Kon Tum")],
    ),
    unit(
        "52",
        "Gia Lai",
        Prov,
        &[was("64", "Gia Lai"), was("52", "Bình Định")],
    ),
    unit(
        "56",
        "Khánh Hòa",
        Prov,
        &[was("56", "Khánh Hòa"), was("58", "Ninh Thuận")],
    ),
    Province {
        code: "66",
        name: "Đắk Lắk",
        kind: Prov,
        merged_from: &[was("66", "Đắk Lắk"), was("54", "Phú Yên")],
        // The older official spelling, found in records written before
        // the current one was adopted.
        aliases: &["Đắc Lắc"],
    },
    unit(
        "68",
        "Lâm Đồng",
        Prov,
        &[
            was("68", "Lâm Đồng"),
            was("67", "Đắk Nông"),
            was("60", "Bình Thuận"),
        ],
    ),
    unit(
        "75",
        "Đồng Nai",
        Prov,
        &[was("75", "Đồng Nai"), was("70", "Bình Phước")],
    ),
    Province {
        code: "79",
        name: "Hồ Chí Minh",
        kind: City,
        merged_from: &[
            was("79", "Hồ Chí Minh"),
            was("74", "Bình Dương"),
            FormerProvince {
                code: "77",
                name: "Bà Rịa - Vũng Tàu",
                aliases: &["BR-VT"],
            },
        ],
        // Abbreviations in everyday use. "Sài Gòn" names no other unit
        // at provincial level (the ward of that name lies inside the
        // city), so it cannot land anywhere wrong.
        aliases: &["HCM", "TPHCM", "HCMC", "Sài Gòn"],
    },
    unit(
        "80",
        "Tây Ninh",
        Prov,
        &[was("72", "Tây Ninh"), was("80", "Long An")],
    ),
    unit(
        "82",
        "Đồng Tháp",
        Prov,
        &[was("87", "Đồng Tháp"), was("82", "Tiền Giang")],
    ),
    unit(
        "86",
        "Vĩnh Long",
        Prov,
        &[
            was("86", "Vĩnh Long"),
            was("83", "Bến Tre"),
            was("84", "Trà Vinh"),
        ],
    ),
    unit(
        "91",
        "An Giang",
        Prov,
        &[was("89", "An Giang"), was("91", "Kiên Giang")],
    ),
    unit(
        "92",
        "Cần Thơ",
        City,
        &[
            was("92", "Cần Thơ"),
            was("94", "Sóc Trăng"),
            was("93", "Hậu Giang"),
        ],
    ),
    unit(
        "96",
        "Cà Mau",
        Prov,
        &[was("96", "Cà Mau"), was("95", "Bạc Liêu")],
    ),
];

/// The table [`find`] hands out references into: a `const` has no address
/// of its own, a `static` lives for the whole program.
static TABLE: [Province; 34] = PROVINCES;

/// The date every message about the rearrangement refers to.
const EFFECTIVE: &str = "1 July 2025";

/// Inputs longer than this cannot be a province and are refused before any
/// work: the longest name with its title is under 30 bytes, and the
/// suggestion search costs time proportional to the input's length.
const MAX_INPUT_BYTES: usize = 200;

/// At most this many suggestions in an error message.
const MAX_CANDIDATES: usize = 5;

/// Returns the province with this exact two-digit code, if there is one.
#[must_use]
pub fn by_code(code: &str) -> Option<&'static Province> {
    TABLE.iter().find(|p| p.code == code)
}

/// Finds a province by code or by name, as a person would type either.
///
/// Accepted, for Đắk Lắk:
/// * its code, with or without leading zeros: `66`, `066` (spreadsheets
///   drop the zero of `08`, so `8` finds Tuyên Quang);
/// * its name in any form that [`fold`]s to the official one: `Đắk Lắk`,
///   `DAK LAK`, `dak  lak`, `Đăk Lăk`, and with the spaces left out,
///   `Daklak`; punctuation counts as a space (`TP.HCM`, `Bà Rịa-Vũng Tàu`);
/// * preceded by `Tỉnh`, `Thành phố`, `TP` or `TP.`, or followed by
///   `province`/`city`;
/// * a few aliases listed in [`PROVINCES`] (`HCM`, `Sài Gòn`,
///   `Thừa Thiên Huế`, ...);
/// * the name followed by its code, as [`Province`] displays itself:
///   `Đắk Lắk (66)`, refused if the two disagree.
///
/// Two-letter abbreviations are not accepted: `ĐN` alone could be Đà Nẵng,
/// Đồng Nai or the former Đắk Nông.
///
/// # Errors
///
/// Everything else is an `Err` with a message meant for the person who
/// typed it:
/// * a former province (or a former code no longer in use) says where it
///   went: `"Hà Giang" was merged into Tuyên Quang (08) on 1 July 2025; use
///   "Tuyên Quang" or "08"`. Former names are never resolved silently, since
///   an address written as "Bình Dương" may predate or postdate the merger
///   and the caller should decide what it means;
/// * anything unknown lists the closest names, or all 34 when nothing is
///   close. Nothing is guessed.
///
/// A current code is always read as current: `80` is Tây Ninh even though
/// it was Long An's code until 30 June 2025; data older than the
/// rearrangement has to be converted by its date, which this function
/// cannot see.
pub fn find(input: &str) -> Result<&'static Province, String> {
    let trimmed = input.trim();
    if trimmed.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "not a province: {} bytes is far longer than any province name or code",
            trimmed.len()
        ));
    }
    let words = words(trimmed);
    if words.is_empty() {
        return Err(format!(
            "no province given; expected one of the 34 province names or codes: {}",
            list_all()
        ));
    }
    let key = strip_title(&words);

    // "Đắk Lắk (66)", the Display form, read back.
    if let Some((name, code)) = key.rsplit_once(' ')
        && is_code(code)
        && !name.chars().all(|c| c.is_ascii_digit() || c == ' ')
    {
        let by_name = find_by_name(strip_title(name), trimmed)?;
        let by_code = find_by_code(code)?;
        return if by_name == by_code {
            Ok(by_name)
        } else {
            Err(format!(
                "{trimmed:?} names {by_name} but gives the code of {by_code}; \
                 use either the name or the code"
            ))
        };
    }
    if is_code(key) {
        return find_by_code(key);
    }
    find_by_name(key, trimmed)
}

/// Whether `s` is meant as a code: one to three ASCII digits.
fn is_code(s: &str) -> bool {
    (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Looks up a code already known to be 1–3 digits.
fn find_by_code(digits: &str) -> Result<&'static Province, String> {
    // Leading zeros carry no meaning: "8", "08" and "008" are one code.
    let value: u32 = digits
        .parse()
        .map_err(|_| format!("{digits:?} is not a province code"))?;
    let code = format!("{value:02}");
    if let Some(province) = by_code(&code) {
        return Ok(province);
    }
    if let Some((province, former)) = former_by_code(&code) {
        return Err(if fold(former.name) == fold(province.name) {
            // Same name, new code: e.g. Tây Ninh went from 72 to 80.
            format!(
                "code {code} was {}'s code until 30 June 2025; since {EFFECTIVE} \
                 {} is {:?}",
                former.name, province.name, province.code
            )
        } else {
            format!(
                "code {code} was {}'s code until 30 June 2025; {}",
                former.name,
                merged_message(province, former)
            )
        });
    }
    Err(format!(
        "no province has the code {code}; the 34 codes are: {}",
        list_all()
    ))
}

/// Looks up a key that is not a code. `shown` is what the user typed, for
/// the error message.
fn find_by_name(key: &str, shown: &str) -> Result<&'static Province, String> {
    let compact = compact(key);
    let hit = INDEX
        .iter()
        .find(|entry| entry.key == compact)
        .map(|entry| entry.target);
    match hit {
        Some(Target::Current(province)) => Ok(province),
        Some(Target::Former(province, former)) => Err(merged_message(province, former)),
        None => Err(unknown_message(shown, &compact)),
    }
}

/// `"Hà Giang" was merged into Tuyên Quang (08) on 1 July 2025; use
/// "Tuyên Quang" or "08"`.
fn merged_message(province: &Province, former: &FormerProvince) -> String {
    format!(
        "{:?} was merged into {province} on {EFFECTIVE}; use {:?} or {:?}",
        former.name, province.name, province.code
    )
}

fn unknown_message(shown: &str, compact: &str) -> String {
    let candidates = candidates(compact);
    if candidates.is_empty() {
        format!(
            "{shown:?} is not a province name or code; the 34 provinces are: {}",
            list_all()
        )
    } else {
        format!(
            "{shown:?} is not a province name or code; did you mean {}?",
            candidates.join(", or ")
        )
    }
}

/// "Hà Nội (01), Cao Bằng (04), ...": all 34, for messages.
fn list_all() -> String {
    TABLE
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names closest to `compact`, best first, as they should be shown.
fn candidates(compact: &str) -> Vec<String> {
    let typed: Vec<char> = compact.chars().collect();
    // Typos cost about one edit per four letters; short inputs get one.
    let allowed = (typed.len() / 4).max(1);
    let mut scored: Vec<(usize, &str, String)> = Vec::new();
    for entry in INDEX.iter() {
        let key: Vec<char> = entry.key.chars().collect();
        let distance = edit_distance(&typed, &key);
        // A fragment of a longer name ("chi minh") or a name inside longer
        // text ("dak lak moi") is worth suggesting even when far in edits.
        let related = typed.len() >= 3
            && (entry.key.contains(compact) || (key.len() >= 4 && compact.contains(&entry.key)));
        if distance > allowed && !related {
            continue;
        }
        let score = if related {
            distance.min(allowed)
        } else {
            distance
        };
        let (code, shown) = match entry.target {
            Target::Current(p) => (p.code, p.to_string()),
            Target::Former(p, f) => (p.code, format!("{} (now part of {p})", f.name)),
        };
        scored.push((score, code, shown));
    }
    scored.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, _, shown) in scored {
        if !out.contains(&shown) {
            out.push(shown);
        }
        if out.len() == MAX_CANDIDATES {
            break;
        }
    }
    out
}

/// Levenshtein distance, two rows.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The input folded, with punctuation read as spaces: "TP.HCM" → "tp hcm",
/// "Bà Rịa-Vũng Tàu" → "ba ria vung tau", "Đắk Lắk (66)" → "dak lak 66".
fn words(input: &str) -> String {
    let spaced: String = fold(input)
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    // Collapses the spaces punctuation left behind.
    fold(&spaced)
}

/// Titles people put around the name. No name starts with one of these
/// words, so removing them cannot change which unit is meant; "Tỉnh" before
/// a city (or the reverse) is tolerated for the same reason.
const PREFIXES: [&str; 4] = ["thanh pho ", "tinh ", "tp ", "t p "];
const SUFFIXES: [&str; 2] = [" province", " city"];

fn strip_title(words: &str) -> &str {
    let mut key = words;
    if let Some(rest) = PREFIXES.iter().find_map(|p| key.strip_prefix(p)) {
        key = rest;
    }
    if let Some(rest) = SUFFIXES.iter().find_map(|s| key.strip_suffix(s)) {
        key = rest;
    }
    key
}

/// Spaces removed, so that "Daklak", "Hanoi" and "Sai Gon" / "Saigon"
/// match; the tests check that no two different units collide this way.
fn compact(key: &str) -> String {
    key.chars().filter(|c| *c != ' ').collect()
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Current(&'static Province),
    Former(&'static Province, &'static FormerProvince),
}

struct Entry {
    /// `compact(words(name))`.
    key: String,
    target: Target,
}

/// Every accepted name and every former name, keyed by its compact folded
/// form. Built once, on first use.
static INDEX: LazyLock<Vec<Entry>> = LazyLock::new(build_index);

fn build_index() -> Vec<Entry> {
    let mut index: Vec<Entry> = Vec::new();
    let mut add = |name: &str, target: Target| {
        let key = compact(strip_title(&words(name)));
        // The first entry for a key wins: current names are added before
        // former ones, so "Tuyên Quang" the former province (same name and
        // now part of the new one) never hides "Tuyên Quang" the current.
        if !index.iter().any(|e| e.key == key) {
            index.push(Entry { key, target });
        }
    };
    for province in &TABLE {
        add(province.name, Target::Current(province));
        for alias in province.aliases {
            add(alias, Target::Current(province));
        }
    }
    for province in &TABLE {
        for former in province.merged_from {
            add(former.name, Target::Former(province, former));
            for alias in former.aliases {
                add(alias, Target::Former(province, former));
            }
        }
    }
    index
}

/// The current unit that absorbed the former unit with this code, when the
/// code is not also a current one.
fn former_by_code(code: &str) -> Option<(&'static Province, &'static FormerProvince)> {
    TABLE.iter().find_map(|province| {
        province
            .merged_from
            .iter()
            .find(|former| former.code == code)
            .map(|former| (province, former))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn err(input: &str) -> String {
        match find(input) {
            Ok(p) => panic!("{input:?} unexpectedly found {p}"),
            Err(e) => e,
        }
    }

    fn code_of(input: &str) -> &'static str {
        match find(input) {
            Ok(p) => p.code,
            Err(e) => panic!("{input:?}: {e}"),
        }
    }

    #[test]
    fn thirty_four_units_six_cities() {
        assert_eq!(TABLE.len(), 34);
        let cities: Vec<&str> = TABLE
            .iter()
            .filter(|p| p.kind == ProvinceKind::City)
            .map(|p| p.name)
            .collect();
        assert_eq!(
            cities,
            [
                "Hà Nội",
                "Hải Phòng",
                "Huế",
                "Đà Nẵng",
                "Hồ Chí Minh",
                "Cần Thơ"
            ]
        );
        // 11 units were left unchanged, 23 were formed by mergers.
        assert_eq!(TABLE.iter().filter(|p| !p.is_merged()).count(), 11);
    }

    #[test]
    fn codes_are_two_digits_unique_and_sorted() {
        let codes: Vec<&str> = TABLE.iter().map(|p| p.code).collect();
        for code in &codes {
            assert!(
                code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()),
                "{code}"
            );
        }
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, codes);
    }

    #[test]
    fn names_are_nfc_and_unique_after_folding() {
        let mut seen = HashSet::new();
        for p in &TABLE {
            // squash composes: a name typed in NFD would come out different.
            assert_eq!(hotich_protocol::text::squash(p.name), p.name.to_lowercase());
            assert!(
                seen.insert(fold(p.name)),
                "{} folds like another name",
                p.name
            );
            assert!(!p.name.starts_with("Tỉnh") && !p.name.starts_with("Thành phố"));
        }
    }

    #[test]
    fn all_found_by_code_and_by_name() {
        for p in &TABLE {
            assert_eq!(code_of(p.code), p.code);
            assert_eq!(code_of(&format!("0{}", p.code)), p.code);
            assert_eq!(code_of(p.name), p.code);
            assert_eq!(code_of(&fold(p.name)), p.code);
            assert_eq!(code_of(&p.name.to_uppercase()), p.code);
            assert_eq!(code_of(&p.full_name()), p.code);
            assert_eq!(code_of(&fold(&p.full_name())), p.code);
            assert_eq!(code_of(&p.to_string()), p.code);
            assert_eq!(code_of(&format!("Tỉnh {}", p.name)), p.code);
            assert_eq!(code_of(&format!("  tp.  {} ", fold(p.name))), p.code);
            assert_eq!(code_of(&format!("TP {}", p.name)), p.code);
            assert_eq!(code_of(&compact(&fold(p.name))), p.code);
            assert!(std::ptr::eq(
                find(p.code).unwrap(),
                by_code(p.code).unwrap()
            ));
        }
    }

    #[test]
    fn spelling_variants() {
        for (input, code) in [
            ("Dak Lak", "66"),
            ("Đắk Lắk", "66"),
            ("ĐẮK  LẮK", "66"),
            ("Đăk Lăk", "66"),
            ("Daklak", "66"),
            ("tinh dak lak", "66"),
            ("Đắc Lắc", "66"),
            ("TP Hồ Chí Minh", "79"),
            ("TP.HCM", "79"),
            ("Tp. Hồ Chí Minh", "79"),
            ("T.P. Hồ Chí Minh", "79"),
            ("Ho Chi Minh", "79"),
            ("Ho Chi Minh City", "79"),
            ("HCM", "79"),
            ("hcmc", "79"),
            ("TPHCM", "79"),
            ("Sài Gòn", "79"),
            ("Saigon", "79"),
            ("Thành phố Hà Nội", "01"),
            ("Ha Noi", "01"),
            ("Hanoi", "01"),
            ("Hà\u{a0}Nội", "01"),
            ("Hue", "46"),
            ("Thừa Thiên Huế", "46"),
            ("Thừa Thiên - Huế", "46"),
            ("TT-Huế", "46"),
            ("Thanh Hoá", "38"),
            ("Thanh Hóa", "38"),
            ("Khánh Hoà", "56"),
            ("Da Nang", "48"),
            ("Danang city", "48"),
            ("Can Tho", "92"),
            ("Quang Tri province", "44"),
            ("8", "08"),
            ("008", "08"),
            (" 66 ", "66"),
            ("Tuyên Quang (08)", "08"),
            ("tinh tuyen quang 8", "08"),
        ] {
            assert_eq!(code_of(input), code, "{input:?}");
        }
    }

    #[test]
    fn nfd_input_is_found() {
        // "Đắk Lắk" decomposed: base letters followed by breve and acute.
        let nfd = "\u{110}a\u{306}\u{301}k La\u{306}\u{301}k";
        assert_eq!(code_of(nfd), "66");
    }

    #[test]
    fn merged_names_say_where_they_went() {
        assert_eq!(
            err("Hà Giang"),
            "\"Hà Giang\" was merged into Tuyên Quang (08) on 1 July 2025; \
             use \"Tuyên Quang\" or \"08\""
        );
        assert_eq!(err("tinh ha giang"), err("Hà Giang"));
        assert!(err("Bình Dương").contains("merged into Hồ Chí Minh (79)"));
        assert!(err("Ba Ria - Vung Tau").contains("merged into Hồ Chí Minh (79)"));
        assert!(err("BR-VT").contains("merged into Hồ Chí Minh (79)"));
        assert!(err("Bắc Cạn").contains("\"Bắc Kạn\" was merged into Thái Nguyên (19)"));
        assert!(err("Hoà Bình").contains("merged into Phú Thọ (25)"));
        assert!(err("Quang Nam").contains("merged into Đà Nẵng (48)"));
        assert!(err("Kontum").contains("merged into Quảng Ngãi (51)"));
        assert!(err("Long An").contains("merged into Tây Ninh (80)"));
        // Every former unit that lost its name gives the message.
        for p in &TABLE {
            for f in p
                .merged_from
                .iter()
                .filter(|f| fold(f.name) != fold(p.name))
            {
                let e = err(f.name);
                assert!(e.contains(&format!("merged into {p}")), "{}: {e}", f.name);
            }
        }
    }

    #[test]
    fn former_codes_say_where_they_went() {
        assert_eq!(
            err("02"),
            "code 02 was Hà Giang's code until 30 June 2025; \"Hà Giang\" was merged \
             into Tuyên Quang (08) on 1 July 2025; use \"Tuyên Quang\" or \"08\""
        );
        assert!(err("72").contains("Tây Ninh is \"80\""));
        assert!(err("74").contains("merged into Hồ Chí Minh (79)"));
        assert!(err("Binh Duong (79)").contains("merged into Hồ Chí Minh (79)"));
        // Never-assigned codes.
        for code in ["00", "03", "99", "100"] {
            assert!(
                err(code).contains("the 34 codes are: Hà Nội (01)"),
                "{code}"
            );
        }
    }

    #[test]
    fn former_units_are_the_63() {
        let formers: Vec<&FormerProvince> = TABLE.iter().flat_map(|p| p.merged_from).collect();
        assert_eq!(formers.len(), 63);
        let codes: HashSet<&str> = formers.iter().map(|f| f.code).collect();
        assert_eq!(codes.len(), 63, "former codes are unique");
        let names: HashSet<String> = formers.iter().map(|f| fold(f.name)).collect();
        assert_eq!(names.len(), 63, "former names are unique");
        for p in &TABLE {
            // Each unit is named after one of the units it was formed from.
            assert!(
                p.merged_from.iter().any(|f| fold(f.name) == fold(p.name)),
                "{p}"
            );
            assert_eq!(
                fold(p.merged_from[0].name),
                fold(p.name),
                "{p}: name-giver first"
            );
            // A code in use both before and after 1 July 2025 always moved
            // with its territory: reading an old code as current never
            // points outside the unit that absorbed it.
            if let Some((owner, _)) = former_by_code(p.code) {
                assert_eq!(
                    owner.code, p.code,
                    "old code {} now belongs elsewhere",
                    p.code
                );
            }
        }
    }

    #[test]
    fn accepted_keys_never_collide_across_units() {
        let mut owner: HashMap<String, &str> = HashMap::new();
        for p in &TABLE {
            let names = p.aliases.iter().chain(std::iter::once(&p.name)).chain(
                p.merged_from
                    .iter()
                    .flat_map(|f| std::iter::once(&f.name).chain(f.aliases)),
            );
            for name in names {
                let key = compact(strip_title(&words(name)));
                assert!(key.len() >= 3, "{name:?} is too short to be safe");
                if let Some(other) = owner.insert(key.clone(), p.code) {
                    assert_eq!(other, p.code, "{name:?} ({key}) is claimed by two units");
                }
            }
        }
    }

    #[test]
    fn gibberish_gets_candidates() {
        let e = err("Dak Lac");
        assert!(e.contains("did you mean Đắk Lắk (66)"), "{e}");
        let e = err("Ha Giangg");
        assert!(e.contains("Hà Giang (now part of Tuyên Quang (08))"), "{e}");
        let e = err("chi minh");
        assert!(e.contains("Hồ Chí Minh (79)"), "{e}");
        let e = err("Thanh Hoa moi");
        assert!(e.contains("Thanh Hóa (38)"), "{e}");
        let e = err("xyzzy");
        assert!(
            e.contains("the 34 provinces are: Hà Nội (01)") && e.contains("Cà Mau (96)"),
            "{e}"
        );
        let e = err("qwerty uiop asdf");
        assert!(
            e.starts_with("\"qwerty uiop asdf\" is not a province"),
            "{e}"
        );
        assert!(err("").contains("no province given"));
        assert!(err(" \t ").contains("no province given"));
        assert!(err("---").contains("no province given"));
        // Two-letter abbreviations are ambiguous and refused.
        for short in ["HN", "ĐN", "HP"] {
            assert!(err(short).contains("is not a province"), "{short}");
        }
        assert!(err(&"x".repeat(1000)).contains("far longer"));
    }

    #[test]
    fn name_and_code_must_agree() {
        let e = err("Đắk Lắk (68)");
        assert!(
            e.contains("names Đắk Lắk (66) but gives the code of Lâm Đồng (68)"),
            "{e}"
        );
    }

    #[test]
    fn display_and_full_name() {
        let hcm = by_code("79").unwrap();
        assert_eq!(hcm.to_string(), "Hồ Chí Minh (79)");
        assert_eq!(hcm.full_name(), "Thành phố Hồ Chí Minh");
        assert_eq!(by_code("66").unwrap().full_name(), "Tỉnh Đắk Lắk");
        assert_eq!(by_code("8"), None);
    }
}
