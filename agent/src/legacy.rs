//! Legacy Vietnamese 8-bit encodings: decoding old files, and recognising
//! text that was already misread as Windows-1252.
//!
//! Before Unicode, commune offices typed records with fonts whose glyphs
//! replaced Latin-1 letters: TCVN3 (the "ABC" `.VnTime` fonts), VNI-Windows
//! (`VNI-Times`) and, less often, Windows-1258. Two problems follow:
//!
//! * old `.txt`/`.csv` exports hold those bytes and need the right table
//!   ([`decode`]); guessing wrong silently corrupts citizens' names;
//! * many files were already "converted" to UTF-8 by a tool that assumed
//!   Windows-1252, so they are valid UTF-8 whose text is `NguyÔn V¨n An`
//!   (TCVN3) or `Nguyeãn Vaên An` (VNI). Such a name must never enter the
//!   registry: [`looks_like_legacy`] recognises it, and [`repair`] produces
//!   the intended text so the refusal can show the fix.
//!
//! # Tables
//!
//! * TCVN3 is TCVN 5712:1993 "VN3" (ABC), as UniKey's converter and the
//!   `.VnTime` fonts use it. Only lowercase toned letters exist; uppercase
//!   toned letters were typed with the separate `.VnTimeH` fonts, which show
//!   the lowercase codes as capitals. So a file cannot say "Ễ": the bytes are
//!   those of "ễ". [`decode`] therefore capitalises those letters inside
//!   runs whose ASCII letters are all capitals (`NGUYÔN` gives "NGUYỄN"), and
//!   [`encode`] writes uppercase toned letters with the lowercase codes, as
//!   UniKey does. The "VN1" variant, which also puts capitals in C0 controls
//!   and 0x80-0xA0, is not supported: in real `.VnTime` files 0x80-0x9F hold
//!   Windows punctuation (curly quotes, dashes), decoded here as Windows-1252.
//! * VNI-Windows: base letter + one mark byte (uppercase letters use the
//!   uppercase Latin-1 mark bytes), with single bytes for the toned `i`, for
//!   `ỵ`, `đ`, `ơ` and `ư`. A mark of the other case than its base, a mark
//!   after `i` and `y` + dot are accepted when decoding, since the font draws
//!   them the same, though VNI itself never writes them.
//! * Windows-1258: Microsoft's code page, combining tone marks composed by NFC.
//!
//! Bytes a table does not assign decode as Windows-1252, so decoding never
//! fails and never drops data.
//!
//! # Detection
//!
//! [`looks_like_legacy`] checks that a repair would turn implausible words
//! into well-formed Vietnamese syllables (initial, vowel nucleus, final,
//! spelling and tone-placement rules), and asks for stronger evidence than a
//! single word whose misreading could be a European spelling ("Loïc" reads
//! from VNI as "Lọc"). Limits: a name whose only toned word looks like a
//! valid modern word or a European one is not caught (VNI "Hoà An" for
//! "Hồ An", TCVN3 "Phan Hïng" for "Phan Hùng"): about 5% of real three-word
//! names in tests against a Vietnamese syllable dictionary; text mixing a
//! misreading with characters outside Windows-1252 is not caught either.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// A legacy Vietnamese byte encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Legacy {
    /// TCVN 5712:1993 VN3, the ABC `.VnTime` fonts.
    Tcvn3,
    /// VNI-Windows, the `VNI-Times` fonts.
    Vni,
    /// Windows code page 1258.
    Cp1258,
}

impl Legacy {
    /// Every supported encoding.
    pub const ALL: [Legacy; 3] = [Legacy::Tcvn3, Legacy::Vni, Legacy::Cp1258];

    /// Accepts the names officials and tools actually use ("ABC", ".VnTime",
    /// "VNI-Win", "windows-1258"...), ignoring case and punctuation, so a
    /// configuration or command line can name the encoding naturally.
    pub fn parse(name: &str) -> Option<Legacy> {
        let key: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "tcvn3" | "tcvn" | "abc" | "tcvn3abc" | "vn3" | "vntime" | "tcvn5712" => {
                Some(Legacy::Tcvn3)
            }
            "vni" | "vniwin" | "vniwindows" | "vnitimes" => Some(Legacy::Vni),
            "cp1258" | "windows1258" | "win1258" | "1258" => Some(Legacy::Cp1258),
            _ => None,
        }
    }

    /// The canonical name, accepted back by [`Legacy::parse`].
    pub fn name(self) -> &'static str {
        match self {
            Legacy::Tcvn3 => "tcvn3",
            Legacy::Vni => "vni",
            Legacy::Cp1258 => "cp1258",
        }
    }
}

/// The name an official knows it by (UniKey's menu), not the command-line key.
impl fmt::Display for Legacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Legacy::Tcvn3 => "TCVN3 (ABC)",
            Legacy::Vni => "VNI-Windows",
            Legacy::Cp1258 => "Windows-1258",
        })
    }
}

/// Decodes a whole file's bytes to NFC text.
///
/// Never fails: every byte maps to some character, so a wrongly chosen
/// encoding shows up as visible garbage rather than lost data.
pub fn decode(bytes: &[u8], from: Legacy) -> String {
    decode_checked(bytes, from).0
}

/// Encodes text into a legacy encoding, or `None` if some character has no
/// representation there.
///
/// Exists so that round trips can be tested and so that fixed text can be
/// shown in the form an official's old software expects. For TCVN3,
/// uppercase toned letters use the lowercase codes (see the module docs).
pub fn encode(text: &str, to: Legacy) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.nfc() {
        if c.is_ascii() {
            out.push(c as u8);
            continue;
        }
        match to {
            Legacy::Tcvn3 => encode_tcvn3(c, &mut out)?,
            Legacy::Vni => encode_vni(c, &mut out)?,
            Legacy::Cp1258 => encode_cp1258(c, &mut out)?,
        }
    }
    Some(out)
}

/// If `text` looks like Vietnamese typed in a legacy encoding and then read as
/// Windows-1252, says which encoding.
///
/// Runs on every text field of every imported record, so the common cases
/// return early: ASCII text, and any text holding a character Windows-1252
/// cannot produce (which is nearly all real Vietnamese, since most toned
/// letters are outside Latin-1).
///
/// Otherwise words are weighed, for each of TCVN3, VNI and Windows-1258. A
/// word of two or more characters counts *for* an encoding when it is not a
/// Vietnamese syllable as it stands but decodes through that encoding, using
/// only bytes the encoding really assigns, to a different, well-formed
/// syllable. A word counts *against* it when it is a well-formed syllable as
/// it stands but not once decoded. Foreign words can pass the first test by
/// chance ("Loïc" decodes from VNI as "Lọc"), so a word weighs double only
/// when its misreading is implausible in any language: a Latin-1 symbol
/// inside a word (`V¨n`), a capital inside a small-letter word (`NguyÔn`), a
/// VNI mark no European spelling puts after a vowel (`Hoaøng`). An encoding
/// is reported when its evidence weighs at least two and its words for
/// outnumber its words against; a tie between encodings gives `None` rather
/// than a possibly wrong repair.
pub fn looks_like_legacy(text: &str) -> Option<Legacy> {
    if text.is_ascii() {
        return None;
    }
    if !text.chars().all(|c| cp1252_byte(c).is_some()) {
        return None;
    }
    // Only a word that is not modern Vietnamese counts for an encoding, so
    // text made of such words ("Bùi Hà") is settled without decoding.
    if text
        .split(is_separator)
        .filter(|w| !w.is_ascii())
        .all(is_vietnamese_word)
    {
        return None;
    }
    // Per encoding: words for, their weight, words against.
    let mut evidence = [(0u32, 0u32, 0u32); 3];
    let mut bytes = Vec::new();
    for word in text.split(is_separator) {
        if word.is_ascii() {
            continue;
        }
        let modern = is_vietnamese_word(word);
        let long_enough = word.chars().nth(1).is_some();
        bytes.clear();
        bytes.extend(word.chars().filter_map(cp1252_byte));
        for (slot, &enc) in evidence.iter_mut().zip(Legacy::ALL.iter()) {
            let (decoded, clean) = decode_checked(&bytes, enc);
            let decoded_ok = clean && is_vietnamese_word(&decoded);
            if !modern && long_enough && decoded_ok && decoded != word {
                slot.0 += 1;
                slot.1 += if implausible_misreading(word, enc) {
                    2
                } else {
                    1
                };
            } else if modern && !decoded_ok {
                slot.2 += 1;
            }
        }
    }
    let mut best: Option<(Legacy, i64)> = None;
    let mut tied = false;
    for (&(pro, weight, con), &enc) in evidence.iter().zip(Legacy::ALL.iter()) {
        if weight < 2 || pro <= con {
            continue;
        }
        let net = i64::from(weight) - i64::from(con);
        match best {
            Some((_, b)) if b > net => {}
            Some((_, b)) if b == net => tied = true,
            _ => {
                best = Some((enc, net));
                tied = false;
            }
        }
    }
    if tied { None } else { best.map(|(enc, _)| enc) }
}

/// Undoes a Windows-1252 misreading: re-creates the legacy bytes and decodes
/// them properly. `None` if the text holds a character Windows-1252 cannot
/// produce, in which case it cannot be such a misreading.
pub fn repair(text: &str, from: Legacy) -> Option<String> {
    let bytes = text.chars().map(cp1252_byte).collect::<Option<Vec<u8>>>()?;
    Some(decode(&bytes, from))
}

// ---------------------------------------------------------------------------
// Vietnamese letters
// ---------------------------------------------------------------------------

/// Tone indices, in the order of the columns of [`VOWELS`] (none, grave,
/// acute, hook above, tilde, dot below); only those the code names are here.
const NO_TONE: usize = 0;
const ACUTE: usize = 2;
const DOT: usize = 5;

/// Vowel indices into [`VOWELS`].
const A: usize = 0;
const AW: usize = 1;
const AA: usize = 2;
const E: usize = 3;
const EE: usize = 4;
const I: usize = 5;
const O: usize = 6;
const OO: usize = 7;
const OW: usize = 8;
const U: usize = 9;
const UW: usize = 10;
const Y: usize = 11;

/// The twelve vowel letters (a ă â e ê i o ô ơ u ư y), lowercase, each by tone:
/// none, grave, acute, hook above, tilde, dot below. Every table below is
/// indexed the same way, which keeps the three encodings in step.
const VOWELS: [[char; 6]; 12] = [
    ['a', 'à', 'á', 'ả', 'ã', 'ạ'],
    ['ă', 'ằ', 'ắ', 'ẳ', 'ẵ', 'ặ'],
    ['â', 'ầ', 'ấ', 'ẩ', 'ẫ', 'ậ'],
    ['e', 'è', 'é', 'ẻ', 'ẽ', 'ẹ'],
    ['ê', 'ề', 'ế', 'ể', 'ễ', 'ệ'],
    ['i', 'ì', 'í', 'ỉ', 'ĩ', 'ị'],
    ['o', 'ò', 'ó', 'ỏ', 'õ', 'ọ'],
    ['ô', 'ồ', 'ố', 'ổ', 'ỗ', 'ộ'],
    ['ơ', 'ờ', 'ớ', 'ở', 'ỡ', 'ợ'],
    ['u', 'ù', 'ú', 'ủ', 'ũ', 'ụ'],
    ['ư', 'ừ', 'ứ', 'ử', 'ữ', 'ự'],
    ['y', 'ỳ', 'ý', 'ỷ', 'ỹ', 'ỵ'],
];

/// Uppercase untoned vowels; needed in `const` table building, where
/// `char::to_uppercase` is not available.
const UPPER_VOWELS: [char; 12] = ['A', 'Ă', 'Â', 'E', 'Ê', 'I', 'O', 'Ô', 'Ơ', 'U', 'Ư', 'Y'];

/// A toned or untoned Vietnamese vowel letter: (vowel, tone, uppercase).
fn vowel_of(c: char) -> Option<(usize, usize, bool)> {
    let lower = to_lower(c);
    for (v, row) in VOWELS.iter().enumerate() {
        if let Some(t) = row.iter().position(|&x| x == lower) {
            return Some((v, t, lower != c));
        }
    }
    None
}

fn letter(vowel: usize, tone: usize, upper: bool) -> char {
    let c = VOWELS[vowel][tone];
    if upper { to_upper(c) } else { c }
}

/// Case mapping restricted to one-to-one mappings, which is all Vietnamese
/// letters need; anything else is left alone rather than expanded.
fn to_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn to_lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

// ---------------------------------------------------------------------------
// Windows-1252 and Windows-1258
// ---------------------------------------------------------------------------

/// Windows-1252 bytes 0x80-0x9F. The five undefined positions map to the C1
/// control of the same value, as Windows and WHATWG do, so no byte is lost.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž', '\u{8F}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}', 'ž', 'Ÿ',
];

const fn cp1252(b: u8) -> char {
    if b >= 0x80 && b < 0xA0 {
        CP1252_HIGH[(b - 0x80) as usize]
    } else {
        b as char
    }
}

/// Whether `b` is a real character in Windows-1252 (not one of the five holes).
const fn cp1252_defined(b: u8) -> bool {
    !matches!(b, 0x81 | 0x8D | 0x8F | 0x90 | 0x9D)
}

/// The byte Windows-1252 read as `c`. C1 controls map to themselves because
/// some tools read those bytes as ISO-8859-1 instead.
fn cp1252_byte(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if cp < 0x100 {
        return u8::try_from(cp).ok();
    }
    CP1252_HIGH
        .iter()
        .position(|&x| x == c)
        .and_then(|i| u8::try_from(0x80 + i).ok())
}

/// Windows-1258 differs from Windows-1252 at these bytes only (Microsoft's
/// CP1258.TXT).
const fn cp1258(b: u8) -> char {
    match b {
        0x8A => '\u{8A}',
        0x8E => '\u{8E}',
        0x9A => '\u{9A}',
        0x9E => '\u{9E}',
        0xC3 => 'Ă',
        0xCC => '\u{300}',
        0xD0 => 'Đ',
        0xD2 => '\u{309}',
        0xD5 => 'Ơ',
        0xDD => 'Ư',
        0xDE => '\u{303}',
        0xE3 => 'ă',
        0xEC => '\u{301}',
        0xF0 => 'đ',
        0xF2 => '\u{323}',
        0xF5 => 'ơ',
        0xFD => 'ư',
        0xFE => '₫',
        _ => cp1252(b),
    }
}

const fn cp1258_defined(b: u8) -> bool {
    cp1252_defined(b) && !matches!(b, 0x8A | 0x8E | 0x9A | 0x9E)
}

/// Windows-1258 tone bytes, by tone index.
const CP1258_TONES: [u8; 6] = [0, 0xCC, 0xEC, 0xD2, 0xDE, 0xF2];

fn cp1258_tone(b: u8) -> Option<usize> {
    CP1258_TONES
        .iter()
        .skip(1)
        .position(|&x| x == b)
        .map(|i| i + 1)
}

/// The single Windows-1258 byte for `c`, if there is one (a, à, Ă, ư, ₫...).
fn cp1258_single(c: char) -> Option<u8> {
    if c.is_ascii() {
        return u8::try_from(c).ok();
    }
    (0x80..=0xFFu8).find(|&b| cp1258_defined(b) && cp1258(b) == c)
}

fn encode_cp1258(c: char, out: &mut Vec<u8>) -> Option<()> {
    if let Some(b) = cp1258_single(c) {
        out.push(b);
        return Some(());
    }
    // Otherwise base letter + combining tone, the code page's intended use.
    let (v, t, upper) = vowel_of(c)?;
    if t == NO_TONE {
        return None;
    }
    out.push(cp1258_single(letter(v, NO_TONE, upper))?);
    out.push(CP1258_TONES[t]);
    Some(())
}

// ---------------------------------------------------------------------------
// TCVN3
// ---------------------------------------------------------------------------

/// TCVN3 codes of the lowercase vowels, indexed like [`VOWELS`].
const TCVN3_LOWER: [[u8; 6]; 12] = [
    [b'a', 0xB5, 0xB8, 0xB6, 0xB7, 0xB9],
    [0xA8, 0xBB, 0xBE, 0xBC, 0xBD, 0xC6],
    [0xA9, 0xC7, 0xCA, 0xC8, 0xC9, 0xCB],
    [b'e', 0xCC, 0xD0, 0xCE, 0xCF, 0xD1],
    [0xAA, 0xD2, 0xD5, 0xD3, 0xD4, 0xD6],
    [b'i', 0xD7, 0xDD, 0xD8, 0xDC, 0xDE],
    [b'o', 0xDF, 0xE3, 0xE1, 0xE2, 0xE4],
    [0xAB, 0xE5, 0xE8, 0xE6, 0xE7, 0xE9],
    [0xAC, 0xEA, 0xED, 0xEB, 0xEC, 0xEE],
    [b'u', 0xEF, 0xF3, 0xF1, 0xF2, 0xF4],
    [0xAD, 0xF5, 0xF8, 0xF6, 0xF7, 0xF9],
    [b'y', 0xFA, 0xFD, 0xFB, 0xFC, 0xFE],
];

/// TCVN3 codes of the uppercase untoned vowels (the only capitals it has).
const TCVN3_UPPER: [u8; 12] = [
    b'A', 0xA1, 0xA2, b'E', 0xA3, b'I', b'O', 0xA4, 0xA5, b'U', 0xA6, b'Y',
];
const TCVN3_DD_UPPER: u8 = 0xA7;
const TCVN3_DD_LOWER: u8 = 0xAE;

/// Byte-to-character table, plus whether TCVN3 assigns the byte (letters,
/// and Windows punctuation in 0x80-0x9F); unassigned bytes fall back to
/// Windows-1252.
static TCVN3_DECODE: ([char; 256], [bool; 256]) = build_tcvn3();

const fn build_tcvn3() -> ([char; 256], [bool; 256]) {
    let mut chars = ['\0'; 256];
    let mut assigned = [false; 256];
    let mut b = 0;
    while b < 256 {
        chars[b] = cp1252(b as u8);
        assigned[b] = b < 0xA0 && cp1252_defined(b as u8);
        b += 1;
    }
    let mut v = 0;
    while v < 12 {
        let mut t = 0;
        while t < 6 {
            let code = TCVN3_LOWER[v][t] as usize;
            chars[code] = VOWELS[v][t];
            assigned[code] = true;
            t += 1;
        }
        let code = TCVN3_UPPER[v] as usize;
        chars[code] = UPPER_VOWELS[v];
        assigned[code] = true;
        v += 1;
    }
    chars[TCVN3_DD_UPPER as usize] = 'Đ';
    assigned[TCVN3_DD_UPPER as usize] = true;
    chars[TCVN3_DD_LOWER as usize] = 'đ';
    assigned[TCVN3_DD_LOWER as usize] = true;
    (chars, assigned)
}

fn encode_tcvn3(c: char, out: &mut Vec<u8>) -> Option<()> {
    let byte = match c {
        'đ' => TCVN3_DD_LOWER,
        'Đ' => TCVN3_DD_UPPER,
        _ => match vowel_of(c) {
            Some((v, NO_TONE, true)) => TCVN3_UPPER[v],
            Some((v, t, _)) => TCVN3_LOWER[v][t],
            // Other characters only where TCVN3 leaves the Windows-1252 byte.
            None => (0x80..=0xFFu8).find(|&b| TCVN3_DECODE.0[usize::from(b)] == c)?,
        },
    };
    out.push(byte);
    Some(())
}

/// Restores the capitals the `.VnTimeH` fonts displayed: inside a run of
/// letters and spaces whose ASCII letters are all uppercase (at least two, so
/// that "Hµ" stays "Hà"), the lowercase-coded letters were meant as capitals.
fn restore_tcvn3_capitals(chars: &mut [char]) {
    for run in chars.split_mut(|&c| !(c.is_alphabetic() || c == ' ')) {
        let upper = run.iter().filter(|c| c.is_ascii_uppercase()).count();
        let lower = run.iter().filter(|c| c.is_ascii_lowercase()).count();
        if upper >= 2 && lower == 0 {
            for c in run.iter_mut().filter(|c| !c.is_ascii()) {
                *c = to_upper(*c);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// VNI-Windows
// ---------------------------------------------------------------------------

/// What a VNI mark byte adds to the letter before it.
#[derive(Clone, Copy)]
enum Mark {
    /// A tone only.
    Tone(usize),
    /// Circumflex (â ê ô), with a tone or none.
    Hat(usize),
    /// Breve (ă), with a tone or none.
    Breve(usize),
}

/// Mark bytes by tone index: lowercase then uppercase variants.
const VNI_TONE: [[u8; 6]; 2] = [
    [0, 0xF8, 0xF9, 0xFB, 0xF5, 0xEF],
    [0, 0xD8, 0xD9, 0xDB, 0xD5, 0xCF],
];
const VNI_HAT: [[u8; 6]; 2] = [
    [0xE2, 0xE0, 0xE1, 0xE5, 0xE3, 0xE4],
    [0xC2, 0xC0, 0xC1, 0xC5, 0xC3, 0xC4],
];
const VNI_BREVE: [[u8; 6]; 2] = [
    [0xEA, 0xE8, 0xE9, 0xFA, 0xFC, 0xEB],
    [0xCA, 0xC8, 0xC9, 0xDA, 0xDC, 0xCB],
];
/// Single-byte toned `i`, lowercase then uppercase.
const VNI_I: [[u8; 6]; 2] = [
    [b'i', 0xEC, 0xED, 0xE6, 0xF3, 0xF2],
    [b'I', 0xCC, 0xCD, 0xC6, 0xD3, 0xD2],
];
/// Single bytes for ỵ, ơ, ư, đ: lowercase then uppercase.
const VNI_Y_DOT: [u8; 2] = [0xEE, 0xCE];
const VNI_OW: [u8; 2] = [0xF4, 0xD4];
const VNI_UW: [u8; 2] = [0xF6, 0xD6];
const VNI_DD: [u8; 2] = [0xF1, 0xD1];

fn vni_mark(b: u8) -> Option<Mark> {
    for case in 0..2 {
        if let Some(t) = VNI_TONE[case].iter().skip(1).position(|&x| x == b) {
            return Some(Mark::Tone(t + 1));
        }
        if let Some(t) = VNI_HAT[case].iter().position(|&x| x == b) {
            return Some(Mark::Hat(t));
        }
        if let Some(t) = VNI_BREVE[case].iter().position(|&x| x == b) {
            return Some(Mark::Breve(t));
        }
    }
    None
}

/// A byte that can carry a following mark: (vowel, uppercase).
fn vni_base(b: u8) -> Option<(usize, bool)> {
    let upper = b.is_ascii_uppercase();
    let v = match b.to_ascii_lowercase() {
        b'a' => A,
        b'e' => E,
        b'i' => I,
        b'o' => O,
        b'u' => U,
        b'y' => Y,
        _ if b == VNI_OW[0] || b == VNI_OW[1] => return Some((OW, b == VNI_OW[1])),
        _ if b == VNI_UW[0] || b == VNI_UW[1] => return Some((UW, b == VNI_UW[1])),
        _ => return None,
    };
    Some((v, upper))
}

/// The letter a base and mark make together, if they are a Vietnamese letter.
fn vni_combine(vowel: usize, mark: Mark) -> Option<(usize, usize)> {
    match (vowel, mark) {
        (_, Mark::Tone(t)) => Some((vowel, t)),
        (A, Mark::Hat(t)) => Some((AA, t)),
        (E, Mark::Hat(t)) => Some((EE, t)),
        (O, Mark::Hat(t)) => Some((OO, t)),
        (A, Mark::Breve(t)) => Some((AW, t)),
        _ => None,
    }
}

/// Letters VNI stores in one byte that is not a base: toned i, ỵ, đ.
fn vni_single(b: u8) -> Option<char> {
    for (case, upper) in [(0, false), (1, true)] {
        if let Some(t) = VNI_I[case].iter().skip(1).position(|&x| x == b) {
            return Some(letter(I, t + 1, upper));
        }
        if b == VNI_Y_DOT[case] {
            return Some(letter(Y, DOT, upper));
        }
        if b == VNI_DD[case] {
            return Some(if upper { 'Đ' } else { 'đ' });
        }
    }
    None
}

fn encode_vni(c: char, out: &mut Vec<u8>) -> Option<()> {
    let Some((v, t, upper)) = vowel_of(c) else {
        let byte = match c {
            'đ' => VNI_DD[0],
            'Đ' => VNI_DD[1],
            // Other characters only at bytes VNI leaves to Windows-1252.
            _ => (0x80..=0xFFu8).find(|&b| cp1252(b) == c && vni_is_free(b))?,
        };
        out.push(byte);
        return Some(());
    };
    let case = usize::from(upper);
    let ascii = |b: u8| if upper { b.to_ascii_uppercase() } else { b };
    match v {
        I => out.push(VNI_I[case][t]),
        Y if t == DOT => out.push(VNI_Y_DOT[case]),
        A | E | O | U | Y | OW | UW => {
            out.push(match v {
                A => ascii(b'a'),
                E => ascii(b'e'),
                O => ascii(b'o'),
                U => ascii(b'u'),
                Y => ascii(b'y'),
                OW => VNI_OW[case],
                _ => VNI_UW[case],
            });
            if t != NO_TONE {
                out.push(VNI_TONE[case][t]);
            }
        }
        AA | EE | OO => {
            out.push(ascii(match v {
                AA => b'a',
                EE => b'e',
                _ => b'o',
            }));
            out.push(VNI_HAT[case][t]);
        }
        _ => {
            out.push(ascii(b'a'));
            out.push(VNI_BREVE[case][t]);
        }
    }
    Some(())
}

/// Whether VNI leaves byte `b` to mean its Windows-1252 character.
fn vni_is_free(b: u8) -> bool {
    b >= 0x80
        && cp1252_defined(b)
        && vni_mark(b).is_none()
        && vni_single(b).is_none()
        && vni_base(b).is_none()
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// Decodes, and reports whether every non-ASCII byte was used as the
/// encoding intends (a letter, a mark after a letter, or Windows
/// punctuation). Detection relies on that: a misread modern word usually
/// needs bytes the legacy encoding never produces.
fn decode_checked(bytes: &[u8], from: Legacy) -> (String, bool) {
    let mut clean = true;
    let text: String = match from {
        Legacy::Tcvn3 => {
            let (table, assigned) = &TCVN3_DECODE;
            let mut chars: Vec<char> = bytes
                .iter()
                .map(|&b| {
                    clean &= assigned[usize::from(b)];
                    table[usize::from(b)]
                })
                .collect();
            restore_tcvn3_capitals(&mut chars);
            chars.into_iter().collect()
        }
        Legacy::Vni => decode_vni(bytes, &mut clean),
        Legacy::Cp1258 => {
            let mut out = String::with_capacity(bytes.len());
            let mut prev_untoned_vowel = false;
            for &b in bytes {
                if cp1258_tone(b).is_some() {
                    clean &= prev_untoned_vowel;
                } else {
                    clean &= b < 0x80 || cp1258_defined(b);
                }
                let c = cp1258(b);
                prev_untoned_vowel = matches!(vowel_of(c), Some((_, NO_TONE, _)));
                out.push(c);
            }
            out
        }
    };
    (text.nfc().collect(), clean)
}

fn decode_vni(bytes: &[u8], clean: &mut bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if let Some((v, upper)) = vni_base(b) {
            let next = bytes.get(i).copied();
            let combined = next.and_then(vni_mark).and_then(|m| vni_combine(v, m));
            match (combined, next) {
                (Some((v2, t)), Some(m)) => {
                    // Accepted for robustness, but VNI itself never writes a
                    // mark of the other case, a mark after i, nor y + dot (ỵ
                    // has its own byte).
                    *clean &= v != I && !(v == Y && t == DOT) && (m < 0xE0) == upper;
                    out.push(letter(v2, t, upper));
                    i += 1;
                }
                _ => out.push(letter(v, NO_TONE, upper)),
            }
        } else if let Some(c) = vni_single(b) {
            out.push(c);
        } else {
            *clean &= b < 0x80 || vni_is_free(b);
            out.push(cp1252(b));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------

/// Word boundaries for detection. Latin-1 symbols stay inside words because
/// TCVN3 uses them as letters (`¨` is ă, `µ` is à); none of the encodings
/// uses ASCII punctuation, digits, spaces or Windows punctuation as letters.
fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        !c.is_ascii_alphabetic()
    } else {
        c.is_whitespace() || c.is_control() || ('\u{2000}'..='\u{2BFF}').contains(&c)
    }
}

/// Whether a word's Windows-1252 reading could hardly be a word of any
/// language if it came from `enc`, which makes it strong evidence.
fn implausible_misreading(word: &str, enc: Legacy) -> bool {
    let letters: Vec<char> = word.chars().map(to_lower).collect();
    let strong_at = |i: usize| {
        let c = letters[i];
        let p = i.checked_sub(1).map(|j| letters[j]);
        let rest = &letters[i + 1..];
        match enc {
            // Latin-1 symbols are TCVN3 letters: V¨n, Hµ, Tr­êng, §Æng; and
            // uỳ uỷ uỹ read as uú uû uü.
            Legacy::Tcvn3 => {
                matches!(c, '\u{A1}'..='\u{BF}' | '×' | '÷' | 'þ')
                    || (p == Some('u') && matches!(c, 'ú' | 'û' | 'ü'))
            }
            // VNI marks after a vowel, except where European spellings also
            // write them (où, goût, Loïc, Caïn, thaï, aún, Seán); and ươ read
            // as öô.
            Legacy::Vni => p.is_some_and(|p| {
                let base = matches!(p, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'ô' | 'ö');
                // Only Vietnamese puts m, p, t, ng, nh, ch or a vowel after aï.
                let vietnamese_ai =
                    matches!(rest.first(), Some('m' | 'p' | 't' | 'i' | 'o' | 'u' | 'y'))
                        || [['n', 'g'], ['n', 'h'], ['c', 'h']]
                            .iter()
                            .any(|f| rest.starts_with(f));
                let french_ai = p == 'a' && !vietnamese_ai;
                let foreign_looking = (c == 'ï' && (matches!(p, 'o' | 'e' | 'i') || french_ai))
                    || (matches!(c, 'ù' | 'û') && p == 'o')
                    || (c == 'ú' && matches!(p, 'a' | 'e'))
                    || (c == 'á' && p == 'e');
                let is_mark = cp1252_byte(c).and_then(vni_mark).is_some();
                (base && is_mark && !foreign_looking) || (p == 'ö' && c == 'ô')
            }),
            // đ read as ð, ươ as ýõ, combining tones as ì ò þ after a vowel
            // (itself maybe read as ã õ ý: ă ơ ư).
            Legacy::Cp1258 => {
                c == 'ð'
                    || (p == Some('ý') && c == 'õ')
                    || p.is_some_and(|p| {
                        let base = cp1252_byte(p).map(cp1258).and_then(vowel_of);
                        base.is_some_and(|(_, t, _)| t == NO_TONE) && matches!(c, 'ì' | 'ò' | 'þ')
                    })
            }
        }
    };
    // A non-ASCII capital inside a word with small letters: NguyÔn, BÝch
    // (TCVN3), TrâÌn (Windows-1258).
    let odd_capital = word.chars().any(char::is_lowercase)
        && word
            .chars()
            .skip(1)
            .any(|c| !c.is_ascii() && c.is_uppercase());
    // Windows-1258 writes a leading Đ as Ð.
    let cp1258_dd = enc == Legacy::Cp1258 && word.starts_with('Ð');
    odd_capital || cp1258_dd || (0..letters.len()).any(strong_at)
}

/// What may follow a vowel nucleus.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Coda {
    /// Ends in a semivowel: no final consonant (ai, ươi...).
    Open,
    /// Needs a final consonant (ă, â, iê...).
    Closed,
    Either,
}

/// Vowel nuclei of Vietnamese syllables, without tones.
const NUCLEI: &[(&str, Coda)] = &[
    ("a", Coda::Either),
    ("ă", Coda::Closed),
    ("â", Coda::Closed),
    ("e", Coda::Either),
    ("ê", Coda::Either),
    ("i", Coda::Either),
    ("o", Coda::Either),
    ("ô", Coda::Either),
    ("ơ", Coda::Either),
    ("u", Coda::Either),
    ("ư", Coda::Either),
    ("y", Coda::Either),
    ("ai", Coda::Open),
    ("ao", Coda::Open),
    ("au", Coda::Open),
    ("ay", Coda::Open),
    ("âu", Coda::Open),
    ("ây", Coda::Open),
    ("eo", Coda::Open),
    ("êu", Coda::Open),
    ("ia", Coda::Open),
    ("iu", Coda::Open),
    ("oi", Coda::Open),
    ("ôi", Coda::Open),
    ("ơi", Coda::Open),
    ("ui", Coda::Open),
    ("ưi", Coda::Open),
    ("ưu", Coda::Open),
    ("ua", Coda::Open),
    ("ưa", Coda::Open),
    ("uơ", Coda::Open),
    ("iê", Coda::Closed),
    ("yê", Coda::Closed),
    ("uô", Coda::Closed),
    ("ươ", Coda::Closed),
    ("oă", Coda::Closed),
    ("uâ", Coda::Closed),
    ("oo", Coda::Closed),
    ("uyê", Coda::Closed),
    ("oa", Coda::Either),
    ("oe", Coda::Either),
    ("uê", Coda::Either),
    ("uy", Coda::Either),
    ("iêu", Coda::Open),
    ("yêu", Coda::Open),
    ("oai", Coda::Open),
    ("oay", Coda::Open),
    ("oao", Coda::Open),
    ("oeo", Coda::Open),
    ("uôi", Coda::Open),
    ("ươi", Coda::Open),
    ("ươu", Coda::Open),
    ("uây", Coda::Open),
    ("uyu", Coda::Open),
    ("uya", Coda::Open),
];

/// Initial consonants, including the clusters of official Central Highlands
/// names (Krông, Hmông, Pleiku).
const INITIALS: &[&str] = &[
    "ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr", "kr", "gl", "hm", "pl",
    "dr", "bl", "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "",
];

/// Final consonants; `k` occurs in official place names (Đắk Lắk).
const FINALS: &[&str] = &["ch", "nh", "ng", "c", "k", "m", "n", "p", "t", ""];

/// Whether `word` is one well-formed Vietnamese syllable with ordinary
/// casing. Deliberately strict (spelling rules, tone rules for stop
/// finals): a lenient test would let misread text pass as modern, or let
/// modern foreign words pass as repaired legacy text.
fn is_vietnamese_word(word: &str) -> bool {
    let mut chars = word.chars().filter(|c| c.is_alphabetic());
    let Some(first) = chars.next() else {
        return false;
    };
    let rest_lower = chars.clone().all(char::is_lowercase);
    let rest_upper = chars.all(char::is_uppercase);
    if !(rest_lower || (first.is_uppercase() && rest_upper)) {
        return false;
    }
    let mut skeleton = String::with_capacity(word.len());
    // The tone and the index (in letters) of the vowel carrying it.
    let mut tone = (NO_TONE, 0);
    for (i, c) in word.chars().enumerate() {
        if c.is_ascii_alphabetic() {
            skeleton.push(c.to_ascii_lowercase());
        } else if c == 'đ' || c == 'Đ' {
            skeleton.push('đ');
        } else if let Some((v, t, _)) = vowel_of(c) {
            if t != NO_TONE {
                if tone.0 != NO_TONE {
                    return false;
                }
                tone = (t, i);
            }
            skeleton.push(VOWELS[v][NO_TONE]);
        } else {
            return false;
        }
    }
    INITIALS.iter().any(|init| {
        skeleton.strip_prefix(init).is_some_and(|rest| {
            FINALS.iter().any(|fin| {
                rest.strip_suffix(fin).is_some_and(|nucleus| {
                    let on = tone.1.checked_sub(init.chars().count());
                    syllable_ok(init, nucleus, fin, tone.0)
                        && (tone.0 == NO_TONE
                            || on.is_some_and(|on| tone_placement_ok(nucleus, fin, on)))
                })
            })
        })
    })
}

/// Whether the tone sits on a vowel of the nucleus where Vietnamese spelling
/// puts it; both the old and the new placement are accepted (hòa and hoà,
/// thúy and thuý). Rejecting misplaced tones matters for detection: a misread
/// word often decodes to the right letters with the tone on the wrong vowel.
fn tone_placement_ok(nucleus: &str, fin: &str, on: usize) -> bool {
    let letters: Vec<char> = nucleus.chars().collect();
    if on >= letters.len() {
        return false;
    }
    // A vowel with a diacritic takes the tone (the ơ of ươ).
    if let Some(i) = letters
        .iter()
        .rposition(|c| matches!(c, 'â' | 'ă' | 'ê' | 'ô' | 'ơ' | 'ư'))
    {
        return on == i;
    }
    match letters.len() {
        1 => true,
        n if !fin.is_empty() => on == n - 1,
        2 => matches!(nucleus, "oa" | "oe" | "uy") || on == 0,
        _ => on == 1,
    }
}

fn syllable_ok(init: &str, nucleus: &str, fin: &str, tone: usize) -> bool {
    let Some(&(_, coda)) = NUCLEI.iter().find(|(n, _)| *n == nucleus) else {
        return false;
    };
    match (coda, fin.is_empty()) {
        (Coda::Open, false) | (Coda::Closed, true) => return false,
        _ => {}
    }
    // Stop finals take only the acute or dot-below tone.
    if matches!(fin, "c" | "ch" | "k" | "p" | "t") && !matches!(tone, ACUTE | DOT) {
        return false;
    }
    // -nh/-ch follow a, ê, i, y; -ng/-c/-k never follow ê, i, y alone.
    if matches!(fin, "ch" | "nh") && !matches!(nucleus, "a" | "oa" | "ê" | "uê" | "i" | "y" | "uy")
    {
        return false;
    }
    if matches!(fin, "c" | "ng" | "k") && matches!(nucleus, "ê" | "i" | "y" | "uy" | "uê") {
        return false;
    }
    if nucleus == "oo" && !matches!(fin, "c" | "ng") {
        return false;
    }
    let front = nucleus.starts_with(['i', 'e', 'ê', 'y']);
    match init {
        "k" => front,
        "gh" | "ngh" => nucleus.starts_with(['i', 'e', 'ê']),
        "c" => !front,
        "g" | "ng" => !nucleus.starts_with(['e', 'ê']),
        "gi" => !nucleus.starts_with('i'),
        // qu already holds the glide: quân, quốc; quoàng is a rare variant.
        "qu" => {
            !nucleus.starts_with(['u', 'ư'])
                && (!nucleus.starts_with('o')
                    || ["oa", "oă", "oe"].iter().any(|p| nucleus.starts_with(p)))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text a Windows-1252 reader shows for these bytes.
    fn as_cp1252(bytes: &[u8]) -> String {
        bytes.iter().map(|&b| cp1252(b)).collect()
    }

    const COMBINING_TONES: [char; 6] =
        ['\0', '\u{300}', '\u{301}', '\u{309}', '\u{303}', '\u{323}'];

    #[test]
    fn vowel_table_matches_unicode_decomposition() {
        for row in VOWELS {
            for (t, &c) in row.iter().enumerate().skip(1) {
                let expected: String = [row[0], COMBINING_TONES[t]]
                    .iter()
                    .collect::<String>()
                    .nfd()
                    .collect();
                let actual: String = c.to_string().nfd().collect();
                assert_eq!(actual, expected, "{c}");
            }
        }
        for (v, &u) in UPPER_VOWELS.iter().enumerate() {
            assert_eq!(to_upper(VOWELS[v][0]), u);
        }
    }

    #[test]
    fn cp1252_bytes_round_trip() {
        for b in 0..=255u8 {
            assert_eq!(cp1252_byte(cp1252(b)), Some(b), "{b:#x}");
        }
        assert_eq!(cp1252(0x93), '“');
        assert_eq!(cp1252(0x9F), 'Ÿ');
        assert_eq!(cp1252_byte('ễ'), None);
    }

    #[test]
    fn parse_and_name() {
        for enc in Legacy::ALL {
            assert_eq!(Legacy::parse(enc.name()), Some(enc));
            // What messages show is accepted back too.
            assert_eq!(Legacy::parse(&enc.to_string()), Some(enc));
        }
        assert_eq!(Legacy::parse("ABC"), Some(Legacy::Tcvn3));
        assert_eq!(Legacy::parse(".VnTime"), Some(Legacy::Tcvn3));
        assert_eq!(Legacy::parse("VNI-Windows"), Some(Legacy::Vni));
        assert_eq!(Legacy::parse("Windows-1258"), Some(Legacy::Cp1258));
        assert_eq!(Legacy::parse("utf-8"), None);
    }

    /// (Unicode, TCVN3, VNI, CP1258) for words whose bytes were worked out by
    /// hand from the published tables.
    type Known = (&'static str, &'static [u8], &'static [u8], &'static [u8]);
    const KNOWN: &[Known] = &[
        (
            "Nguyễn Văn An",
            b"Nguy\xD4n V\xA8n An",
            b"Nguye\xE3n Va\xEAn An",
            b"Nguy\xEA\xDEn V\xE3n An",
        ),
        (
            "Trần Thị Bích Ngọc",
            b"Tr\xC7n Th\xDE B\xDDch Ng\xE4c",
            b"Tra\xE0n Th\xF2 B\xEDch Ngo\xEFc",
            b"Tr\xE2\xCCn Thi\xF2 B\xEDch Ngo\xF2c",
        ),
        ("Đặng", b"\xA7\xC6ng", b"\xD1a\xEBng", b"\xD0\xE3\xF2ng"),
        (
            "Hà Nội",
            b"H\xB5 N\xE9i",
            b"Ha\xF8 No\xE4i",
            b"H\xE0 N\xF4\xF2i",
        ),
        (
            "Đắk Lắk",
            b"\xA7\xBEk L\xBEk",
            b"\xD1a\xE9k La\xE9k",
            b"\xD0\xE3\xECk L\xE3\xECk",
        ),
        (
            "Trường Đại học",
            b"Tr\xAD\xEAng \xA7\xB9i h\xE4c",
            b"Tr\xF6\xF4\xF8ng \xD1a\xEFi ho\xEFc",
            b"Tr\xFD\xF5\xCCng \xD0a\xF2i ho\xF2c",
        ),
        (
            "Lý Thường Kiệt",
            b"L\xFD Th\xAD\xEAng Ki\xD6t",
            b"Ly\xF9 Th\xF6\xF4\xF8ng Kie\xE4t",
            b"Ly\xEC Th\xFD\xF5\xCCng Ki\xEA\xF2t",
        ),
    ];

    #[test]
    fn known_words_decode_and_encode() {
        for &(text, tcvn3, vni, cp1258) in KNOWN {
            for (enc, bytes) in [
                (Legacy::Tcvn3, tcvn3),
                (Legacy::Vni, vni),
                (Legacy::Cp1258, cp1258),
            ] {
                assert_eq!(decode(bytes, enc), text, "{enc} decode of {text}");
                if enc != Legacy::Cp1258 {
                    assert_eq!(
                        encode(text, enc).as_deref(),
                        Some(bytes),
                        "{enc} encode of {text}"
                    );
                }
                assert_eq!(
                    encode(text, enc).map(|b| decode(&b, enc)).as_deref(),
                    Some(text)
                );
            }
        }
    }

    #[test]
    fn samples_from_other_converters() {
        // Published examples of existing converters, independent of the tables here.
        let tcvn3 = |s: &str| repair(s, Legacy::Tcvn3);
        assert_eq!(tcvn3("NguyÔn V¨n An").as_deref(), Some("Nguyễn Văn An"));
        assert_eq!(tcvn3("B¶o Th¾ng").as_deref(), Some("Bảo Thắng"));
        assert_eq!(
            tcvn3("M\u{AD}êng Kh\u{AD}¬ng").as_deref(),
            Some("Mường Khương")
        );
        assert_eq!(tcvn3("B¸t X¸t").as_deref(), Some("Bát Xát"));
        assert_eq!(tcvn3("Ninh B×nh").as_deref(), Some("Ninh Bình"));
        let vni = |s: &str| repair(s, Legacy::Vni);
        assert_eq!(vni("Nguyeãn Vaên An").as_deref(), Some("Nguyễn Văn An"));
        assert_eq!(
            vni("Xin chaøo caùc baïn").as_deref(),
            Some("Xin chào các bạn")
        );
        assert_eq!(vni("Vieät Nam").as_deref(), Some("Việt Nam"));
        assert_eq!(vni("NGUYEÃN VAÊN AN").as_deref(), Some("NGUYỄN VĂN AN"));
    }

    #[test]
    fn cp1258_accepts_precomposed_and_combining_forms() {
        assert_eq!(decode(b"B\xEDch", Legacy::Cp1258), "Bích");
        assert_eq!(decode(b"Bi\xECch", Legacy::Cp1258), "Bích");
        assert_eq!(decode(b"\xC0 \xC1", Legacy::Cp1258), "À Á");
        assert_eq!(decode(b"\xFE", Legacy::Cp1258), "₫");
        assert_eq!(
            encode("100₫", Legacy::Cp1258).as_deref(),
            Some(&b"100\xFE"[..])
        );
    }

    /// Every vowel with every tone, both cases, plus đ/Đ.
    fn all_letters() -> Vec<char> {
        let mut all = vec!['đ', 'Đ'];
        for row in VOWELS {
            for c in row {
                all.push(c);
                all.push(to_upper(c));
            }
        }
        all
    }

    #[test]
    fn every_letter_round_trips() {
        for c in all_letters() {
            let s = c.to_string();
            for enc in Legacy::ALL {
                let bytes = encode(&s, enc).unwrap_or_else(|| panic!("{enc} cannot encode {c}"));
                let back = decode(&bytes, enc);
                let toned_capital = matches!(vowel_of(c), Some((_, t, true)) if t != NO_TONE);
                if enc == Legacy::Tcvn3 && toned_capital {
                    // TCVN3 has no toned capitals: alone they come back lowercase,
                    // inside an all-capitals run they come back as capitals.
                    assert_eq!(back, to_lower(c).to_string(), "{enc} {c}");
                    let word = format!("NG{c}N");
                    let bytes = encode(&word, enc).unwrap_or_default();
                    assert_eq!(decode(&bytes, enc), word, "{enc} {word}");
                } else {
                    assert_eq!(back, s, "{enc} {c} via {bytes:x?}");
                }
            }
        }
    }

    #[test]
    fn encodings_are_injective_on_letters() {
        for enc in Legacy::ALL {
            let mut seen = std::collections::HashMap::new();
            for c in all_letters() {
                if enc == Legacy::Tcvn3 && matches!(vowel_of(c), Some((_, t, true)) if t != NO_TONE)
                {
                    continue;
                }
                let bytes = encode(&c.to_string(), enc).unwrap_or_default();
                if let Some(other) = seen.insert(bytes.clone(), c) {
                    panic!("{enc}: {c} and {other} share {bytes:x?}");
                }
            }
        }
    }

    #[test]
    fn letters_round_trip_in_context() {
        // Marks must attach to the right base even between other letters.
        let text = "ƯỚC MƠ Ước mơ, ỷ lại; QUỲNH Quỳnh; ĐỖ đỗ; Ỵ ỵ; ỳ ỹ ỷ; Ĩ ĩ ì";
        for enc in [Legacy::Vni, Legacy::Cp1258] {
            let bytes = encode(text, enc).unwrap_or_default();
            assert_eq!(decode(&bytes, enc), text, "{enc}");
        }
    }

    #[test]
    fn every_byte_decodes() {
        let all: Vec<u8> = (0..=255).collect();
        for enc in Legacy::ALL {
            let text = decode(&all, enc);
            assert!(text.chars().count() >= 200, "{enc}");
            assert!(text.starts_with('\0'));
        }
        // Unassigned bytes keep their Windows-1252 meaning.
        assert_eq!(decode(b"\x93x\x94 \xB0", Legacy::Tcvn3), "“x” °");
        assert_eq!(decode(b"\x93x\x94 \xB0", Legacy::Vni), "“x” °");
    }

    #[test]
    fn tcvn3_capitals_restored_only_in_capital_runs() {
        let enc = Legacy::Tcvn3;
        assert_eq!(decode(b"NGUY\xD4N V\xA8N AN", enc), "NGUYỄN VĂN AN");
        assert_eq!(decode(b"H\xB5 N\xE9I", enc), "HÀ NỘI");
        assert_eq!(decode(b"H\xB5", enc), "Hà");
        assert_eq!(decode(b"H\xB5 N\xE9i", enc), "Hà Nội");
        assert_eq!(decode(b"TR\xC7N,H\xB5", enc), "TRẦN,Hà");
    }

    #[test]
    fn encode_rejects_unrepresentable() {
        assert_eq!(encode("漢", Legacy::Tcvn3), None);
        assert_eq!(encode("ñ", Legacy::Vni), None);
        assert_eq!(encode("ł", Legacy::Cp1258), None);
        assert_eq!(
            encode("“a”", Legacy::Vni).as_deref(),
            Some(&b"\x93a\x94"[..])
        );
    }

    const MODERN: &[&str] = &[
        "Nguyễn Thị Ánh",
        "Đắk Lắk",
        "Trần Văn Hùng",
        "Lê Thành Tâm",
        "Võ Tú",
        "Châu Hoàng Lâm",
        "Tô Hoài",
        "Lê Hà",
        "Hà Tiên",
        "Hòa Bình",
        "Hoà Bình",
        "Thúy Vân",
        "Thuý Kiều",
        "Ô Môn",
        "Lý Tú Châu",
        "Hoàng Yên",
        "Tài Thành Tân",
        "Bà Châu",
        "LÊ THÀNH TÂM",
        "CHÂU HOÀNG LÂM",
        "ÁNH",
        "Ý Lan",
        "Kim Ánh",
        "Á Châu",
        "Võ Thị Sáu",
        "Hà Nội",
        "Thành phố Hồ Chí Minh",
        "Bà Rịa - Vũng Tàu",
        "Phường Bến Nghé, Quận 1",
        "Xã Tân Hòa, huyện Châu Thành",
        "Đoàn Thị Điểm",
        "Ngô Quyền",
        "Buôn Ma Thuột",
        "Krông Pắc",
        "H'Hen Niê",
        "Y Bih Niê",
        "Sinh ngày 01/02/1990 tại Hà Nội",
        "Số CMND: 012345678",
        "Mẹ: Lê Thị Hà",
        "Café Trung Nguyên",
        "José Nguyễn",
        "Müller",
        "Zürich, Genève",
        "São Paulo",
        "Hello world",
        "123 Main St.",
        "Apt. #4B, 25°C",
        "© 2024 ACME®",
        "email: an@example.com",
        "ACME Corp – Q3 report “final”",
        "naïve résumé",
        "Crème brûlée",
        "Tâm Hà Lê",
        "Thành Tâm Ái",
        "Hàn Mặc Tử",
        "Nhà số 5, ngõ 12",
        "½ kg, 3×4",
    ];

    #[test]
    fn modern_text_is_not_flagged() {
        for text in MODERN {
            assert_eq!(looks_like_legacy(text), None, "{text}");
        }
        assert_eq!(looks_like_legacy(""), None);
        assert_eq!(looks_like_legacy("Nguyen Van An"), None);
    }

    const NAMES: &[&str] = &[
        "Nguyễn Văn An",
        "Trần Thị Bích Ngọc",
        "Đặng Văn Lâm",
        "Lê Thị Hồng Nhung",
        "Phạm Minh Tuấn",
        "Hoàng Văn Thụ",
        "Vũ Thị Thu Hà",
        "Đỗ Mười",
        "Bùi Thị Xuân",
        "Ngô Bảo Châu",
        "Huỳnh Thúc Kháng",
        "Dương Quốc Trung",
        "Lý Thường Kiệt",
        "Hồ Xuân Hương",
        "Đinh Bộ Lĩnh",
        "Trương Định",
        "Phan Bội Châu",
        "Nguyễn Thị Minh Khai",
        "Võ Nguyên Giáp",
        "Hà Nội",
        "Đắk Lắk",
        "Thành phố Hồ Chí Minh",
        "Xã Tân Hòa, huyện Châu Thành, tỉnh Tiền Giang",
        "NGUYỄN VĂN AN",
        "Nghiêm Xuân Yêm",
        "Khuất Duy Tiến",
    ];

    #[test]
    fn legacy_text_is_caught_and_repaired() {
        for enc in Legacy::ALL {
            for name in NAMES {
                let bytes = encode(name, enc).unwrap_or_default();
                let misread = as_cp1252(&bytes);
                if misread == *name {
                    // Possible with Windows-1258, whose Latin-1 letters match.
                    continue;
                }
                assert_eq!(
                    looks_like_legacy(&misread),
                    Some(enc),
                    "{enc}: {name} as {misread}"
                );
                assert_eq!(
                    repair(&misread, enc).as_deref(),
                    Some(*name),
                    "{enc}: {misread}"
                );
            }
        }
    }

    #[test]
    fn literal_misreadings_are_caught() {
        assert_eq!(looks_like_legacy("NguyÔn V¨n An"), Some(Legacy::Tcvn3));
        assert_eq!(looks_like_legacy("Nguyeãn Vaên An"), Some(Legacy::Vni));
        assert_eq!(looks_like_legacy("TrÇn Hïng"), Some(Legacy::Tcvn3));
        assert_eq!(looks_like_legacy("Hå Hïng"), Some(Legacy::Tcvn3));
        assert_eq!(looks_like_legacy("Leâ Thò Lan"), Some(Legacy::Vni));
        // One plausible-looking word is not enough: it may be foreign.
        assert_eq!(looks_like_legacy("Hïng"), None);
        assert_eq!(looks_like_legacy("Loïc Martin"), None);
        assert_eq!(looks_like_legacy("Traàn Thò Bích Ngoïc"), Some(Legacy::Vni));
    }

    #[test]
    fn foreign_names_are_not_flagged() {
        for text in [
            "Loïc Martin",
            "Loïc Nguyen",
            "François Müller",
            "José García",
            "Seán Murphy",
            "Zoë Saldaña",
            "Thaï",
            "Noël Dupont",
            "Anaïs Nguyen",
            "Hélène Lê",
            "Jürgen Hà",
            "Søren Kierkegaard",
            "Ångström",
            "Dvořák",
        ] {
            assert_eq!(looks_like_legacy(text), None, "{text}");
        }
    }

    #[test]
    fn windows_1258_misreading_is_caught() {
        let misread = "NguyêÞn Vãn An";
        assert_eq!(looks_like_legacy(misread), Some(Legacy::Cp1258));
        assert_eq!(
            repair(misread, Legacy::Cp1258).as_deref(),
            Some("Nguyễn Văn An")
        );
    }

    #[test]
    fn repair_refuses_text_windows_1252_cannot_produce() {
        assert_eq!(repair("Nguyễn", Legacy::Tcvn3), None);
        assert_eq!(repair("Nguy\u{0065}\u{0302}\u{0303}n", Legacy::Vni), None);
    }

    #[test]
    fn syllable_checker() {
        for ok in [
            "hoà",
            "hòa",
            "thuý",
            "thúy",
            "ngoài",
            "khuỷu",
            "người",
            "giường",
            "Nguyễn",
            "nghiêng",
            "khuya",
            "quốc",
            "giữ",
            "gìn",
            "Đắk",
            "xoong",
            "huých",
            "Hmông",
            "oanh",
            "TRƯỜNG",
            "yêu",
            "ý",
            "khuyên",
            "thuở",
            "Krông",
            "ăn",
        ] {
            assert!(is_vietnamese_word(ok), "{ok}");
        }
        for bad in [
            "vuị", "hoaì", "NguyÔn", "V¨n", "Nguyeãn", "Vaên", "Tuù", "kan", "ghu", "cet", "bàt",
            "ănh", "Café", "Müller",
        ] {
            assert!(!is_vietnamese_word(bad), "{bad}");
        }
    }
}
