//! Who acts: staff roles and applicants' IINs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A staff role, or the applicant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Registers applications and issues results at a provider's office.
    OfficeClerk,
    /// Resolves (assigns an executor) and signs.
    Head,
    /// Prepares results and reasoned refusals.
    Executor,
    /// Works at a State Corporation branch counter.
    CorporationOperator,
    /// Reads reports for one region, or nationally.
    Analyst,
    /// Administers organisations, users, regulations and the calendar.
    Admin,
    /// A citizen following their own applications.
    Applicant,
}

impl Role {
    /// The stored and claimed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::OfficeClerk => "OFFICE_CLERK",
            Role::Head => "HEAD",
            Role::Executor => "EXECUTOR",
            Role::CorporationOperator => "CORPORATION_OPERATOR",
            Role::Analyst => "ANALYST",
            Role::Admin => "ADMIN",
            Role::Applicant => "APPLICANT",
        }
    }

    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::OfficeClerk,
        Role::Head,
        Role::Executor,
        Role::CorporationOperator,
        Role::Analyst,
        Role::Admin,
        Role::Applicant,
    ];

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this staff role must belong to an organisation.
    pub fn needs_organisation(self) -> bool {
        matches!(
            self,
            Role::OfficeClerk | Role::Head | Role::Executor | Role::CorporationOperator
        )
    }
}

/// A valid individual identification number (ЖСН/ИИН): 12 digits whose last is the check digit.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iin(String);

/// Why a string is not an IIN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    /// Not 12 ASCII digits.
    #[error("an IIN is 12 digits")]
    Format,
    /// The check digit does not match.
    #[error("the IIN's check digit does not match")]
    CheckDigit,
}

impl Iin {
    /// Parses and checks an IIN.
    pub fn parse(s: &str) -> Result<Iin, IinError> {
        let s = s.trim();
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IinError::Format);
        }
        let d: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        let weighted = |w: [u32; 11]| d.iter().zip(w).map(|(a, b)| a * b).sum::<u32>() % 11;
        let mut check = weighted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        if check == 10 {
            check = weighted([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
        }
        if check == 10 || check != d[11] {
            return Err(IinError::CheckDigit);
        }
        Ok(Iin(s.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Iin {
    type Error = IinError;
    fn try_from(s: String) -> Result<Iin, IinError> {
        Iin::parse(&s)
    }
}

impl From<Iin> for String {
    fn from(i: Iin) -> String {
        i.0
    }
}

impl fmt::Debug for Iin {
    // An IIN is personal data: debug output shows only its last four digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iin(********{})", &self.0[8..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_iins_pass_and_a_changed_digit_fails() {
        for ok in ["850305400120", "901122600340", "010715500567"] {
            assert!(Iin::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Iin::parse("850305400121"), Err(IinError::CheckDigit));
        assert_eq!(Iin::parse("85030540012"), Err(IinError::Format));
        assert_eq!(Iin::parse("85030540012x"), Err(IinError::Format));
    }

    #[test]
    fn the_second_weight_set_decides_when_the_first_gives_ten() {
        // 90010130081: weights 1..11 give 10, weights 3..11,1,2 give 1 (computed outside this code).
        assert!(Iin::parse("900101300811").is_ok());
        assert_eq!(Iin::parse("900101300810"), Err(IinError::CheckDigit));
    }

    #[test]
    fn roles_round_trip() {
        for r in [
            "OFFICE_CLERK",
            "HEAD",
            "EXECUTOR",
            "CORPORATION_OPERATOR",
            "ANALYST",
            "ADMIN",
            "APPLICANT",
        ] {
            assert_eq!(Role::parse(r).map(Role::as_str), Some(r));
        }
        assert_eq!(Role::parse("ROOT"), None);
    }
}
