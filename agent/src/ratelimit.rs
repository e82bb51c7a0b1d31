//! The upload rate limit: the commune's one link also carries the
//! officials' daily work, so during office hours (Vietnam time) the agent
//! may be told to use only part of it. Every request body the agent sends
//! (records, have/lack pages, heartbeats) goes through one [`Pacer`], which
//! hands the body to the connection in small chunks no faster than the
//! limit in force at that moment.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Vietnam is UTC+7 all year (no summer time).
const VIETNAM_OFFSET_MS: i64 = 7 * 3600 * 1000;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// The same days as Vietnamese calendars write them: Thứ Hai is T2, Chủ nhật CN.
const DAY_NAMES_VI: [&str; 7] = ["T2", "T3", "T4", "T5", "T6", "T7", "CN"];

/// `[upload_limit]` in config.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadLimit {
    /// At most this many kilobits per second inside the window (0: no limit).
    pub kbit_per_s: u64,
    /// The days of the window: `Mon-Sat`, `Mon,Wed,Fri`, `T2-T7`; empty: every day.
    pub days: String,
    /// The hours of the window, Vietnam time: `07:00-17:00`; empty: all day.
    pub hours: String,
    /// At most this many kilobits per second outside the window (0: no limit).
    pub outside_kbit_per_s: u64,
}

impl Default for UploadLimit {
    fn default() -> Self {
        UploadLimit {
            kbit_per_s: 0,
            days: "Mon-Sat".into(),
            hours: "07:00-17:00".into(),
            outside_kbit_per_s: 0,
        }
    }
}

/// The window parsed: a set of weekdays (Mon = 0) and minutes of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    days: [bool; 7],
    from_min: u32,
    to_min: u32,
}

fn parse_day(text: &str) -> Option<usize> {
    let t = text.trim();
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(t))
        .or_else(|| DAY_NAMES_VI.iter().position(|d| d.eq_ignore_ascii_case(t)))
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    if text.trim().is_empty() {
        return Ok([true; 7]);
    }
    let mut days = [false; 7];
    for part in text.split(',') {
        let bad = || {
            format!(
                "upload_limit.days = \"{text}\": write days as Mon-Sat or Mon,Wed,Fri (or T2-T7, CN)"
            )
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse_day(a).ok_or_else(bad)?, parse_day(b).ok_or_else(bad)?);
                let mut d = a;
                loop {
                    days[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[parse_day(part).ok_or_else(bad)?] = true,
        }
    }
    Ok(days)
}

fn parse_clock(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

fn parse_hours(text: &str) -> Result<(u32, u32), String> {
    if text.trim().is_empty() {
        return Ok((0, 24 * 60));
    }
    let bad = || format!("upload_limit.hours = \"{text}\": write hours as 07:00-17:00");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (a, b) = (
        parse_clock(a).ok_or_else(bad)?,
        parse_clock(b).ok_or_else(bad)?,
    );
    if a == b {
        return Err(bad());
    }
    Ok((a, b))
}

impl UploadLimit {
    pub fn is_off(&self) -> bool {
        self.kbit_per_s == 0 && self.outside_kbit_per_s == 0
    }

    fn window(&self) -> Result<Window, String> {
        let days = parse_days(&self.days)?;
        let (from_min, to_min) = parse_hours(&self.hours)?;
        Ok(Window {
            days,
            from_min,
            to_min,
        })
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("kbit_per_s", self.kbit_per_s),
            ("outside_kbit_per_s", self.outside_kbit_per_s),
        ] {
            // Under 16 kbit/s the server takes a body for one that stalled.
            if v != 0 && !(16..=10_000_000).contains(&v) {
                return Err(format!(
                    "upload_limit.{name} = {v}: must be 0 (no limit) or between 16 and 10000000"
                ));
            }
        }
        self.window().map(|_| ())
    }

    /// Whether `utc_ms` (milliseconds since 1970, UTC) is inside the window.
    pub fn in_window(&self, utc_ms: i64) -> bool {
        let Ok(w) = self.window() else {
            return false;
        };
        let local = utc_ms + VIETNAM_OFFSET_MS;
        let day = local.div_euclid(86_400_000);
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = (day + 3).rem_euclid(7) as usize;
        let minute = (local.rem_euclid(86_400_000) / 60_000) as u32;
        if w.from_min < w.to_min {
            w.days[weekday] && (w.from_min..w.to_min).contains(&minute)
        } else {
            // Overnight (22:00-06:00): the part after midnight belongs to
            // the day the window started.
            let yesterday = (weekday + 6) % 7;
            (w.days[weekday] && minute >= w.from_min) || (w.days[yesterday] && minute < w.to_min)
        }
    }

    /// Bytes per second allowed at `utc_ms`, `None` for no limit.
    pub fn bytes_per_sec_at(&self, utc_ms: i64) -> Option<u64> {
        let kbit = if self.in_window(utc_ms) {
            self.kbit_per_s
        } else {
            self.outside_kbit_per_s
        };
        (kbit > 0).then_some(kbit * 1000 / 8)
    }

    pub fn bytes_per_sec_now(&self) -> Option<u64> {
        self.bytes_per_sec_at(hotich_protocol::Timestamp::now().millis())
    }
}

/// Paces request bodies to the limit in force. Shared by every request of
/// one client, so two requests in flight share the limit too.
#[derive(Debug)]
pub struct Pacer {
    limit: UploadLimit,
    /// When the next byte may go.
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(limit: UploadLimit) -> Arc<Pacer> {
        Arc::new(Pacer {
            limit,
            next: Mutex::new(None),
        })
    }

    /// How long `bytes` take at the limit in force (zero without one), so
    /// that a request's timeout can allow for it.
    pub fn time_for(&self, bytes: usize) -> Duration {
        match self.limit.bytes_per_sec_now() {
            Some(rate) => Duration::from_secs_f64(bytes as f64 / rate as f64),
            None => Duration::ZERO,
        }
    }

    /// Waits until `n` more bytes may be sent at `rate` bytes per second.
    async fn take(&self, n: usize, rate: u64) {
        let now = Instant::now();
        let start = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let start = next.filter(|t| *t > now).unwrap_or(now);
            *next = Some(start + Duration::from_secs_f64(n as f64 / rate as f64));
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// The body of a request, paced when a limit is in force now.
    pub fn body(self: &Arc<Self>, bytes: Vec<u8>) -> reqwest::Body {
        let Some(rate) = self.limit.bytes_per_sec_now() else {
            return reqwest::Body::from(bytes);
        };
        // About eight chunks a second: smooth on the wire, few wake-ups.
        let chunk = (rate as usize / 8).clamp(512, 16 * 1024);
        let pacer = self.clone();
        // Shared, not copied per chunk: a body is up to about 1 MB compressed.
        let bytes = Arc::new(bytes);
        let stream = futures_util::stream::unfold(0usize, move |offset| {
            let pacer = pacer.clone();
            let bytes = bytes.clone();
            async move {
                if offset >= bytes.len() {
                    return None;
                }
                let end = (offset + chunk).min(bytes.len());
                pacer.take(end - offset, rate).await;
                Some((Ok::<_, std::io::Error>(bytes[offset..end].to_vec()), end))
            }
        });
        reqwest::Body::wrap_stream(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds since 1970 of a Vietnam local time.
    fn vn(date: &str, time: &str) -> i64 {
        hotich_protocol::Timestamp::parse_rfc3339(&format!("{date}T{time}:00+07:00"))
            .unwrap()
            .millis()
    }

    fn office_hours() -> UploadLimit {
        UploadLimit {
            kbit_per_s: 256,
            ..UploadLimit::default()
        }
    }

    #[test]
    fn office_hours_are_monday_to_saturday_seven_to_five_vietnam_time() {
        let l = office_hours();
        // 2026-11-30 is a Monday.
        assert!(l.in_window(vn("2026-11-30", "07:00")));
        assert!(l.in_window(vn("2026-11-30", "16:59")));
        assert!(!l.in_window(vn("2026-11-30", "17:00")));
        assert!(!l.in_window(vn("2026-11-30", "06:59")));
        assert!(l.in_window(vn("2026-12-05", "10:00")), "Saturday");
        assert!(!l.in_window(vn("2026-12-06", "10:00")), "Sunday");
        // 08:00 in Hà Nội is 01:00 UTC.
        assert_eq!(
            vn("2026-11-30", "08:00"),
            hotich_protocol::Timestamp::parse_rfc3339("2026-11-30T01:00:00Z")
                .unwrap()
                .millis()
        );
        assert_eq!(l.bytes_per_sec_at(vn("2026-11-30", "08:00")), Some(32_000));
        assert_eq!(l.bytes_per_sec_at(vn("2026-11-30", "20:00")), None);
    }

    #[test]
    fn windows_can_cross_midnight_and_use_vietnamese_day_names() {
        let l = UploadLimit {
            kbit_per_s: 64,
            days: "T2-T6".into(),
            hours: "22:00-06:00".into(),
            outside_kbit_per_s: 512,
        };
        assert!(l.in_window(vn("2026-12-04", "23:00")), "Friday night");
        assert!(
            l.in_window(vn("2026-12-05", "05:00")),
            "Saturday early, Friday's window"
        );
        assert!(!l.in_window(vn("2026-12-05", "23:00")), "Saturday night");
        assert_eq!(l.bytes_per_sec_at(vn("2026-12-05", "12:00")), Some(64_000));
        let every_day = UploadLimit {
            kbit_per_s: 16,
            days: "Sat-Mon".into(),
            hours: String::new(),
            outside_kbit_per_s: 0,
        };
        assert!(
            every_day.in_window(vn("2026-12-06", "03:00")),
            "Sunday in Sat-Mon"
        );
        assert!(!every_day.in_window(vn("2026-12-02", "03:00")), "Wednesday");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (l, key) in [
            (
                UploadLimit {
                    days: "Mon-Funday".into(),
                    ..office_hours()
                },
                "upload_limit.days",
            ),
            (
                UploadLimit {
                    hours: "7-17".into(),
                    ..office_hours()
                },
                "upload_limit.hours",
            ),
            (
                UploadLimit {
                    hours: "25:00-26:00".into(),
                    ..office_hours()
                },
                "upload_limit.hours",
            ),
            (
                UploadLimit {
                    kbit_per_s: 3,
                    ..office_hours()
                },
                "upload_limit.kbit_per_s",
            ),
        ] {
            let err = l.check().unwrap_err();
            assert!(err.starts_with(key), "{err}");
        }
        assert!(office_hours().check().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_bytes_at_the_rate() {
        let pacer = Pacer::new(UploadLimit::default());
        let start = Instant::now();
        // 10 chunks of 1,000 bytes at 2,000 bytes/s: the last may start at 4.5 s.
        for _ in 0..10 {
            pacer.take(1000, 2000).await;
        }
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(4500) && waited < Duration::from_millis(4600),
            "{waited:?}"
        );
    }
}
