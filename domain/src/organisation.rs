//! The providers directory file: organisations with their kind, region and working hours.

use serde::Deserialize;

use crate::deadline::WorkingHours;
use crate::regulation::PROVIDER_KINDS;

/// The kind of a State Corporation branch.
pub const STATE_CORPORATION: &str = "STATE_CORPORATION";

/// One organisation as in the directory file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationEntry {
    /// Stable code.
    pub code: String,
    /// A provider kind (see [`PROVIDER_KINDS`]) or `STATE_CORPORATION`.
    pub kind: String,
    /// Region code.
    pub region: String,
    /// District or city, where useful.
    pub district: Option<String>,
    /// Name in Kazakh.
    pub name_kk: String,
    /// Name in English.
    pub name_en: String,
    /// Name in Russian: a translation unless the organisation publishes its own.
    #[serde(default)]
    pub name_ru: Option<String>,
    /// Own working hours; absent: the default for the kind.
    pub working_hours: Option<WorkingHours>,
}

impl OrganisationEntry {
    /// The hours that apply: its own, or the default for its kind.
    pub fn hours(&self) -> WorkingHours {
        self.working_hours
            .unwrap_or_else(|| default_hours(&self.kind))
    }
}

/// Default working hours for a kind of organisation.
pub fn default_hours(kind: &str) -> WorkingHours {
    if kind == STATE_CORPORATION {
        WorkingHours::corporation_default()
    } else {
        WorkingHours::provider_default()
    }
}

/// Whether `kind` is a known organisation kind.
pub fn is_known_kind(kind: &str) -> bool {
    kind == STATE_CORPORATION || PROVIDER_KINDS.contains(&kind)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    organisation: Vec<OrganisationEntry>,
}

/// Parses and checks a directory file: known kinds, valid hours, unique codes.
pub fn parse_organisations(text: &str) -> Result<Vec<OrganisationEntry>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = std::collections::BTreeSet::new();
    for o in &file.organisation {
        if !seen.insert(o.code.as_str()) {
            return Err(format!("organisation {}: duplicate code", o.code));
        }
        if !is_known_kind(&o.kind) {
            return Err(format!(
                "organisation {}: unknown kind {:?}",
                o.code, o.kind
            ));
        }
        if let Some(h) = o.working_hours {
            WorkingHours::new(h.open, h.close, h.lunch)
                .map_err(|e| format!("organisation {}: {e}", o.code))?;
        }
    }
    Ok(file.organisation)
}

/// The directory shipped with qyzmet.
pub const BUNDLED_ORGANISATIONS: &str = include_str!("../../data/organisations.toml");
