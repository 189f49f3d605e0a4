//! The schema's own scalars, documented for clients (format, example, `@specifiedBy`), instead
//! of the descriptions and Rust names the library gives chrono's types.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// An instant: an RFC 3339 date-time with an offset, e.g. `2026-11-30T10:00:00+05:00`. Answers
/// are always in UTC (`2026-11-30T05:00:00+00:00`); inputs may carry any offset. Show it in
/// the region's time (Kazakhstan is UTC+5 everywhere since 1 March 2024).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub DateTime<Utc>);

/// An instant: an RFC 3339 date-time with an offset, e.g. `2026-11-30T10:00:00+05:00`. Answers
/// are always in UTC (`2026-11-30T05:00:00+00:00`); inputs may carry any offset.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://scalars.graphql.org/andimarek/date-time"
)]
impl ScalarType for Instant {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Instant(t.with_timezone(&Utc)))
                .map_err(|_| {
                    InputValueError::custom(format!(
                        "expected an RFC 3339 date-time with an offset, e.g. \
                         2026-11-30T10:00:00+05:00; got {s:?}"
                    ))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

/// A calendar date in Kazakhstan, `YYYY-MM-DD` (RFC 3339 full-date), e.g. `2026-12-16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD` (RFC 3339 full-date), e.g. `2026-12-16`.
#[Scalar(
    name = "Date",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    InputValueError::custom(format!("expected a date YYYY-MM-DD; got {s:?}"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// A time of day on the local clock, `HH:MM` (24-hour), e.g. `09:00`; seconds are accepted on
/// input (`09:00:00`) and never given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime(pub NaiveTime);

/// A time of day on the local clock, `HH:MM` (24-hour), e.g. `09:00`; `HH:MM:SS` is accepted on
/// input.
#[Scalar(
    name = "LocalTime",
    specified_by_url = "https://scalars.graphql.org/andimarek/local-time"
)]
impl ScalarType for LocalTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveTime::parse_from_str(s, "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
                .map(LocalTime)
                .map_err(|_| InputValueError::custom(format!("expected a time HH:MM; got {s:?}"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%H:%M").to_string())
    }
}

impl From<DateTime<Utc>> for Instant {
    fn from(t: DateTime<Utc>) -> Self {
        Instant(t)
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

impl From<NaiveTime> for LocalTime {
    fn from(t: NaiveTime) -> Self {
        LocalTime(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_and_write_their_documented_formats() {
        let t = Instant::parse(Value::from("2026-11-30T10:00:00+05:00")).expect("instant");
        assert_eq!(t.to_value(), Value::from("2026-11-30T05:00:00+00:00"));
        assert!(Instant::parse(Value::from("2026-11-30 10:00")).is_err());
        assert!(Instant::parse(Value::from(5)).is_err());
        let d = Date::parse(Value::from("2026-12-16")).expect("date");
        assert_eq!(d.to_value(), Value::from("2026-12-16"));
        assert!(Date::parse(Value::from("16.12.2026")).is_err());
        let h = LocalTime::parse(Value::from("09:00:00")).expect("time");
        assert_eq!(h.to_value(), Value::from("09:00"));
        assert!(LocalTime::parse(Value::from("9 am")).is_err());
    }
}
