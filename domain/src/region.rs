//! The directory of places: Kazakhstan's regions with their IANA time zones.

use chrono_tz::Tz;
use serde::Deserialize;

/// An oblast or a city of republican significance.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// qyzmet's stable key, e.g. `mangystau`.
    pub code: String,
    /// ISO 3166-2:KZ code.
    pub iso_code: String,
    /// `OBLAST` or `CITY`.
    pub kind: RegionKind,
    /// Name in Kazakh.
    pub name_kk: String,
    /// Name in English.
    pub name_en: String,
    /// Name in Russian (the usual Russian form of the official name).
    #[serde(default)]
    pub name_ru: Option<String>,
    /// IANA time zone name.
    pub time_zone: String,
}

/// What kind of region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegionKind {
    /// An oblast.
    Oblast,
    /// A city of republican significance.
    City,
}

impl RegionKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionKind::Oblast => "OBLAST",
            RegionKind::City => "CITY",
        }
    }
}

impl Region {
    /// The region's time zone.
    pub fn tz(&self) -> Result<Tz, RegionError> {
        self.time_zone.parse().map_err(|_| RegionError::Invalid {
            field: format!("region {}.time_zone", self.code),
            reason: format!("{:?} is not an IANA time zone", self.time_zone),
        })
    }
}

/// Why the regions file cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    /// A malformed file or entry.
    #[error("regions {field}: {reason}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionsFile {
    region: Vec<Region>,
}

/// Parses and checks a regions file: unique codes, valid time zones.
pub fn parse_regions(text: &str) -> Result<Vec<Region>, RegionError> {
    let file: RegionsFile = toml::from_str(text).map_err(|e| RegionError::Invalid {
        field: "file".into(),
        reason: e.to_string(),
    })?;
    let mut seen = std::collections::BTreeSet::new();
    for r in &file.region {
        if !seen.insert(r.code.as_str()) {
            return Err(RegionError::Invalid {
                field: format!("region {}", r.code),
                reason: "duplicate code".into(),
            });
        }
        r.tz()?;
    }
    Ok(file.region)
}

/// The regions shipped with qyzmet.
pub const BUNDLED_REGIONS: &str = include_str!("../../data/regions.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn all_twenty_regions_load_with_their_zones() {
        let regions = parse_regions(BUNDLED_REGIONS).expect("bundled regions are valid");
        assert_eq!(regions.len(), 20);
        let zone = |code: &str| {
            regions
                .iter()
                .find(|r| r.code == code)
                .map(|r| r.time_zone.as_str())
        };
        assert_eq!(zone("mangystau"), Some("Asia/Aqtau"));
        assert_eq!(zone("west-kazakhstan"), Some("Asia/Oral"));
        assert_eq!(zone("atyrau"), Some("Asia/Atyrau"));
        assert_eq!(zone("east-kazakhstan"), Some("Asia/Almaty"));
    }

    #[test]
    fn the_zone_data_carries_the_2024_move_of_eastern_regions_to_utc_plus_5() {
        let tz: Tz = "Asia/Almaty".parse().expect("zone");
        let offset = |y, m, d| {
            tz.offset_from_utc_datetime(
                &Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap().naive_utc(),
            )
            .to_string()
        };
        assert_eq!(offset(2023, 6, 1), "+06");
        assert_eq!(offset(2024, 6, 1), "+05");
    }

    #[test]
    fn a_bad_zone_or_duplicate_is_refused() {
        let bad = BUNDLED_REGIONS.replace("Asia/Aqtau", "Asia/Nowhere");
        assert!(parse_regions(&bad)
            .unwrap_err()
            .to_string()
            .contains("mangystau"));
        let dup = BUNDLED_REGIONS.replace("code = \"abai\"", "code = \"akmola\"");
        assert!(parse_regions(&dup)
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
    }
}
