//! Calendar dates and timestamps, without a date library: records need only
//! proleptic Gregorian dates, and the wire needs RFC 3339 UTC timestamps.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Vietnam has one time zone, UTC+7, without daylight saving. "Not in the
/// future" for a record means not after today's date in Vietnam.
pub const VIETNAM_OFFSET_MS: i64 = 7 * 3600 * 1000;

const MS_PER_DAY: i64 = 86_400_000;

/// A date as written in a civil-status register: `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("must be a date written YYYY-MM-DD")]
    Format,
    #[error("{0} is not a real date")]
    NotReal(String),
}

impl CivilDate {
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(CivilDate { year, month, day })
    }

    pub fn parse(text: &str) -> Result<Self, DateError> {
        let b = text.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(DateError::Format);
        }
        let num = |r: std::ops::Range<usize>| -> i32 {
            b[r].iter().fold(0, |acc, d| acc * 10 + i32::from(d - b'0'))
        };
        let (year, month, day) = (num(0..4), num(5..7), num(8..10));
        CivilDate::new(year, month as u8, day as u8).ok_or_else(|| DateError::NotReal(text.into()))
    }

    /// Days since 1970-01-01 (negative before). Howard Hinnant's algorithm.
    pub fn days_since_epoch(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days_since_epoch(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        CivilDate { year, month, day }
    }

    /// Today's date in Vietnam at the given instant.
    pub fn today_in_vietnam(now: Timestamp) -> Self {
        Self::from_days_since_epoch((now.0 + VIETNAM_OFFSET_MS).div_euclid(MS_PER_DAY))
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for CivilDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CivilDate::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A date as far as an old register gives it: a year (`1965`), a month and
/// year (`1965-03`), or a full date. Never filled up to a full date: an
/// unknown day is not the 1st.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialDate {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

impl PartialDate {
    pub fn parse(text: &str) -> Result<Self, DateError> {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        match text.len() {
            4 if digits(text) => Ok(PartialDate {
                year: text.parse().map_err(|_| DateError::Format)?,
                month: None,
                day: None,
            }),
            7 if text.as_bytes()[4] == b'-' && digits(&text[..4]) && digits(&text[5..]) => {
                let year: i32 = text[..4].parse().map_err(|_| DateError::Format)?;
                let month: u8 = text[5..].parse().map_err(|_| DateError::Format)?;
                if !(1..=12).contains(&month) {
                    return Err(DateError::NotReal(text.into()));
                }
                Ok(PartialDate {
                    year,
                    month: Some(month),
                    day: None,
                })
            }
            _ => CivilDate::parse(text).map(PartialDate::from),
        }
    }

    /// The first day it may mean.
    pub fn earliest(&self) -> CivilDate {
        CivilDate {
            year: self.year,
            month: self.month.unwrap_or(1),
            day: self.day.unwrap_or(1),
        }
    }

    /// The last day it may mean.
    pub fn latest(&self) -> CivilDate {
        let month = self.month.unwrap_or(12);
        CivilDate {
            year: self.year,
            month,
            day: self.day.unwrap_or_else(|| days_in_month(self.year, month)),
        }
    }

    pub fn is_full(&self) -> bool {
        self.day.is_some()
    }
}

impl From<CivilDate> for PartialDate {
    fn from(d: CivilDate) -> Self {
        PartialDate {
            year: d.year,
            month: Some(d.month),
            day: Some(d.day),
        }
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.month, self.day) {
            (Some(m), Some(d)) => write!(f, "{:04}-{m:02}-{d:02}", self.year),
            (Some(m), None) => write!(f, "{:04}-{m:02}", self.year),
            _ => write!(f, "{:04}", self.year),
        }
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        PartialDate::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Milliseconds since the Unix epoch, UTC; RFC 3339 text on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        };
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_ms(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-27T21:11:17.120Z`.
    pub fn to_rfc3339(self) -> String {
        self.format_with_offset(0, "Z")
    }

    /// The same instant as Vietnam's wall clock, e.g. `2026-11-28 04:11:17 (UTC+7)`:
    /// what a commune official's PC clock shows.
    pub fn to_vietnam_local(self) -> String {
        let mut text = self.format_with_offset(VIETNAM_OFFSET_MS, " (UTC+7)");
        // `YYYY-MM-DDTHH:MM:SS.mmm (UTC+7)`: drop the milliseconds, space for T.
        text.replace_range(19..23, "");
        text.replace_range(10..11, " ");
        text
    }

    fn format_with_offset(self, offset_ms: i64, suffix: &str) -> String {
        let local = self.0 + offset_ms;
        let date = CivilDate::from_days_since_epoch(local.div_euclid(MS_PER_DAY));
        let ms_of_day = local.rem_euclid(MS_PER_DAY);
        let secs = ms_of_day / 1000;
        format!(
            "{date}T{:02}:{:02}:{:02}.{:03}{suffix}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ms_of_day % 1000
        )
    }

    /// Parses RFC 3339 (`Z` or `±hh:mm` offset, optional fraction).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let (date, rest) = text.split_at_checked(10)?;
        let date = CivilDate::parse(date).ok()?;
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let b = rest.as_bytes();
        if b.len() < 8 || b[2] != b':' || b[5] != b':' {
            return None;
        }
        let two = |i: usize| -> Option<i64> {
            let s = rest.get(i..i + 2)?;
            if !s.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let (h, m, s) = (two(0)?, two(3)?, two(6)?);
        if h > 23 || m > 59 || s > 60 {
            return None;
        }
        let mut tail = &rest[8..];
        let mut frac_ms = 0i64;
        if let Some(f) = tail.strip_prefix('.') {
            let end = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
            if end == 0 {
                return None;
            }
            let digits = &f[..end.min(3)];
            frac_ms = digits.parse::<i64>().ok()? * 10i64.pow(3 - digits.len() as u32);
            tail = &f[end..];
        }
        let offset_ms = match tail {
            "Z" | "z" => 0,
            _ => {
                let sign = match tail.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let t = &tail[1..];
                if t.len() != 5 || t.as_bytes()[2] != b':' {
                    return None;
                }
                let oh: i64 = t[..2].parse().ok()?;
                let om: i64 = t[3..].parse().ok()?;
                sign * (oh * 3600 + om * 60) * 1000
            }
        };
        let ms = date.days_since_epoch() * MS_PER_DAY + (h * 3600 + m * 60 + s) * 1000 + frac_ms
            - offset_ms;
        Some(Timestamp(ms))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format_args!("not an RFC 3339 time: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_real() {
        assert_eq!(
            CivilDate::parse("1998-03-20"),
            Ok(CivilDate {
                year: 1998,
                month: 3,
                day: 20
            })
        );
        assert!(matches!(
            CivilDate::parse("1998-02-30"),
            Err(DateError::NotReal(_))
        ));
        assert!(CivilDate::parse("2000-02-29").is_ok());
        assert!(CivilDate::parse("1900-02-29").is_err());
        for bad in [
            "1998-3-20",
            "20/03/1998",
            "1998-03-20T00:00",
            "١٩٩٨-03-20",
            "",
        ] {
            assert_eq!(CivilDate::parse(bad), Err(DateError::Format), "{bad}");
        }
    }

    #[test]
    fn partial_dates_go_only_as_far_as_written() {
        let y = PartialDate::parse("1965").unwrap();
        assert_eq!(
            (y.earliest().to_string(), y.latest().to_string()),
            ("1965-01-01".into(), "1965-12-31".into())
        );
        let m = PartialDate::parse("1964-02").unwrap();
        assert_eq!(m.latest().to_string(), "1964-02-29");
        assert_eq!(m.to_string(), "1964-02");
        assert!(PartialDate::parse("1998-03-20").unwrap().is_full());
        assert!(matches!(
            PartialDate::parse("1965-13"),
            Err(DateError::NotReal(_))
        ));
        for bad in ["65", "1965-3", "03/1965", "1965-02-30x", ""] {
            assert!(PartialDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn day_numbers_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let d = CivilDate::from_days_since_epoch(days);
            assert_eq!(d.days_since_epoch(), days);
            assert!(CivilDate::new(d.year, d.month, d.day).is_some());
        }
        assert_eq!(
            CivilDate::from_days_since_epoch(0).to_string(),
            "1970-01-01"
        );
    }

    #[test]
    fn vietnam_today_is_seven_hours_ahead() {
        let t = Timestamp::parse_rfc3339("2026-11-27T18:00:00Z").unwrap();
        assert_eq!(CivilDate::today_in_vietnam(t).to_string(), "2026-11-28");
        assert_eq!(t.to_vietnam_local(), "2026-11-28 01:00:00 (UTC+7)");
    }

    #[test]
    fn rfc3339_round_trip_and_offsets() {
        let t = Timestamp::parse_rfc3339("2026-11-27T21:11:17.12Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-27T21:11:17.120Z");
        let v = Timestamp::parse_rfc3339("2026-11-28T04:11:17.120+07:00").unwrap();
        assert_eq!(t, v);
        assert!(Timestamp::parse_rfc3339("2026-11-27 21:11").is_none());
        assert!(Timestamp::parse_rfc3339("2026-11-27T25:00:00Z").is_none());
    }
}
