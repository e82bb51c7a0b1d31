//! Deterministic generator of valid ~1 KB civil-status records, for tests
//! and benchmarks. The same (seed, index) always gives the same record;
//! every index has its own book entry, so no two records conflict.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
];
const MIDDLE_M: &[&str] = &["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công"];
const MIDDLE_F: &[&str] = &["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Hồng"];
const GIVEN_M: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Hùng", "Khánh", "Long", "Nam", "Phúc", "Quang", "Sơn", "Tuấn",
];
const GIVEN_F: &[&str] = &[
    "Anh", "Chi", "Dung", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Ngân", "Thảo", "Trang",
];
const ETHNIC: &[&str] = &[
    "Kinh", "Tày", "Thái", "Mường", "Khmer", "H'Mông", "Nùng", "Ê-đê", "Ba Na", "Gia Rai",
];
const PLACES: &[&str] = &[
    "Thôn 2, xã Tân Lập, huyện Krông Ana, tỉnh Đắk Lắk",
    "Xóm Đông, xã Quảng Điền, huyện Krông Ana, tỉnh Đắk Lắk",
    "Tổ dân phố 5, phường Tân Lợi, thành phố Buôn Ma Thuột",
    "Bản Na Hang, xã Đồng Văn, huyện Đồng Văn, tỉnh Hà Giang",
    "Ấp Mỹ Hòa, xã Mỹ Thạnh, huyện Giồng Trôm, tỉnh Bến Tre",
    "Khu phố 3, thị trấn Phước Bửu, huyện Xuyên Mộc",
];
const NOTES: &[&str] = &[
    "Sổ gốc bị ẩm mốc ở góc phải trang, chữ ký cán bộ hộ tịch còn đọc được; đã đối chiếu với bản sao lưu tại huyện.",
    "Trang sổ bị rách một phần, phần ghi quê quán được bổ sung theo lời khai của người đi đăng ký và xác nhận của thôn.",
    "Đăng ký quá hạn theo quy định; hồ sơ kèm giấy xác nhận của trạm y tế xã và biên bản xác minh của công an xã.",
    "Bản gốc mờ mực, đã số hóa theo bản chụp độ phân giải cao; cần đối chiếu lại khi có sổ lưu tại Sở Tư pháp.",
];
const PROVINCES: &[u16] = &[1, 31, 48, 66, 79, 89, 92, 38, 40, 2];

/// A seeded generator (fastrand's wyrand): the same seed gives the same
/// records on every platform.
#[derive(Debug, Clone)]
pub struct Rng(fastrand::Rng);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(fastrand::Rng::with_seed(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.u64(..)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n.max(1))
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The smallest valid birth record: book "01" of 1998 in `commune`, with
/// this entry number and child's name. Unit tests build conflicts and
/// corrections from it (same entry, other name; `supersedes`).
pub fn minimal_birth(commune: &str, entry: u32, full_name: &str) -> Value {
    json!({
        "kind": "birth", "commune_code": commune,
        "register": {"year": 1998, "book": "01", "entry": entry},
        "registered_on": "1998-03-20",
        "child": {"full_name": full_name, "sex": "male", "date_of_birth": "1998-03-15"}
    })
}

fn date(days: i64) -> String {
    hotich_protocol::CivilDate::from_days_since_epoch(days).to_string()
}

fn year_of(days: i64) -> i32 {
    hotich_protocol::CivilDate::from_days_since_epoch(days).year
}

fn name(rng: &mut Rng, female: bool) -> String {
    let (mid, given) = if female {
        (MIDDLE_F, GIVEN_F)
    } else {
        (MIDDLE_M, GIVEN_M)
    };
    format!("{} {} {}", rng.pick(FAMILY), rng.pick(mid), rng.pick(given))
}

fn personal_id(rng: &mut Rng, female: bool, birth_year: i32) -> String {
    let province = PROVINCES[rng.below(PROVINCES.len() as u64) as usize];
    let century = (birth_year - 1900) / 100 * 2 + i32::from(female);
    format!(
        "{province:03}{century}{:02}{:06}",
        birth_year % 100,
        rng.below(1_000_000)
    )
}

/// Generates records of one commune.
#[derive(Debug, Clone)]
pub struct RecordGen {
    pub seed: u64,
    pub commune: String,
}

impl RecordGen {
    pub fn new(seed: u64, commune: &str) -> Self {
        RecordGen {
            seed,
            commune: commune.to_string(),
        }
    }

    /// The record with this index: valid, about 1 KB in canonical form.
    pub fn record(&self, index: u64) -> Value {
        let mut rng = Rng::new(self.seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
        // Events between 1960 and 2020 (days since 1970).
        let event = -3650 + rng.below(22_000) as i64;
        let registered = event + 1 + rng.below(50) as i64;
        let register = json!({
            "year": year_of(registered),
            "book": format!("{:03}", index / 10_000),
            "entry": index % 10_000 + 1,
            "authority": format!("UBND xã Tân Lập, huyện Krông Ana (sổ {})", index / 10_000),
        });
        let kind = match rng.below(10) {
            0..=6 => "birth",
            7 | 8 => "death",
            _ => "marriage",
        };
        let mut r = json!({
            "kind": kind,
            "commune_code": self.commune,
            "register": register,
            "registered_on": date(registered),
            "notes": rng.pick(NOTES),
        });
        match kind {
            "birth" => {
                let female = rng.below(2) == 1;
                let by = year_of(event);
                r["child"] = json!({
                    "full_name": name(&mut rng, female),
                    "sex": if female { "female" } else { "male" },
                    "date_of_birth": date(event),
                    "place_of_birth": rng.pick(PLACES),
                    "ethnicity": rng.pick(ETHNIC),
                    "nationality": "Việt Nam",
                    "hometown": rng.pick(PLACES),
                    "personal_id": personal_id(&mut rng, female, by),
                });
                let my = by - 18 - rng.below(20) as i32;
                r["mother"] = json!({
                    "full_name": name(&mut rng, true), "birth_year": my,
                    "ethnicity": rng.pick(ETHNIC), "nationality": "Việt Nam", "residence": rng.pick(PLACES),
                });
                r["father"] = json!({
                    "full_name": name(&mut rng, false), "birth_year": my - rng.below(8) as i32,
                    "ethnicity": rng.pick(ETHNIC), "nationality": "Việt Nam", "residence": rng.pick(PLACES),
                });
                r["declarant"] =
                    json!({"full_name": r["father"]["full_name"].clone(), "relationship": "cha"});
            }
            "death" => {
                let female = rng.below(2) == 1;
                let born = event - 365 * (20 + rng.below(70) as i64);
                r["deceased"] = json!({
                    "full_name": name(&mut rng, female),
                    "sex": if female { "female" } else { "male" },
                    "date_of_birth": date(born.max(-25_000)),
                    "personal_id": personal_id(&mut rng, female, year_of(born.max(-25_000))),
                    "ethnicity": rng.pick(ETHNIC), "nationality": "Việt Nam", "residence": rng.pick(PLACES),
                });
                r["date_of_death"] = json!(date(event));
                r["place_of_death"] = json!(rng.pick(PLACES));
                r["cause"] = json!("Bệnh già, mất tại nhà");
                r["declarant"] =
                    json!({"full_name": name(&mut rng, !female), "relationship": "con"});
            }
            _ => {
                let hb = event - 365 * (20 + rng.below(15) as i64);
                let wb = event - 365 * (18 + rng.below(15) as i64);
                r["husband"] = json!({
                    "full_name": name(&mut rng, false), "date_of_birth": date(hb),
                    "ethnicity": rng.pick(ETHNIC), "nationality": "Việt Nam", "residence": rng.pick(PLACES),
                    "personal_id": personal_id(&mut rng, false, year_of(hb)),
                });
                r["wife"] = json!({
                    "full_name": name(&mut rng, true), "date_of_birth": date(wb),
                    "ethnicity": rng.pick(ETHNIC), "nationality": "Việt Nam", "residence": rng.pick(PLACES),
                    "personal_id": personal_id(&mut rng, true, year_of(wb)),
                });
            }
        }
        r
    }

    /// Writes records `from..to` as JSON Lines.
    pub fn write_jsonl(&self, path: &Path, from: u64, to: u64) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for i in from..to {
            serde_json::to_writer(&mut out, &self.record(i))?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// The content hashes of records `from..to`, as the agent will compute them.
    pub fn hashes(&self, from: u64, to: u64) -> Vec<String> {
        let today = hotich_protocol::CivilDate::today_in_vietnam(hotich_protocol::Timestamp::now());
        (from..to)
            .map(
                |i| match hotich_protocol::prepare_record(self.record(i), today) {
                    Ok(p) => p.hash.to_hex(),
                    Err(e) => panic!("generated record {i} is invalid: {e:?}"),
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_records_are_valid_about_1kb_and_distinct() {
        let g = RecordGen::new(7, "00004");
        let today = hotich_protocol::CivilDate::today_in_vietnam(hotich_protocol::Timestamp::now());
        let mut sizes = Vec::new();
        let mut keys = std::collections::HashSet::new();
        for i in 0..3000 {
            let p = hotich_protocol::prepare_record(g.record(i), today)
                .unwrap_or_else(|e| panic!("record {i}: {e:?}\n{}", g.record(i)));
            sizes.push(p.canonical.len());
            assert!(keys.insert(p.key.storage_key()));
        }
        let mean = sizes.iter().sum::<usize>() / sizes.len();
        assert!((700..1400).contains(&mean), "mean size {mean}");
        assert_eq!(g.record(5), RecordGen::new(7, "00004").record(5));
    }
}
