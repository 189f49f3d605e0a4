//! What the reports count, defined once.
//!
//! Each [`Measure`] is a condition ([`Cond`]) on a case's facts ([`CaseFacts`]): its status
//! (typed) and four facts the engine records — delivered, a reasoned refusal, on time, returned
//! unclaimed. The store evaluates the same condition in Rust when it maintains the report rollup
//! as a case moves, and renders it to SQL for the rebuild and for the reports' raw rows, so
//! the rollup, the rebuild and the reports cannot count differently.
//!
//! "Overdue now" is the one measure that depends on the moment: an [`Measure::InProgress`] case
//! whose legal result date has passed ([`overdue`]).

use chrono::{DateTime, Utc};

use crate::case::CaseStatus;

/// What a report needs to know of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseFacts {
    /// Its status.
    pub status: CaseStatus,
    /// The result (or the reasoned refusal) reached the applicant's channel: issued at the
    /// office or on the portal, or arrived at the State Corporation counter.
    pub delivered: bool,
    /// What was prepared is a reasoned refusal.
    pub refusal_prepared: bool,
    /// Delivered by the legal result date (`None`: not delivered).
    pub on_time: Option<bool>,
    /// The result was returned to the provider uncollected (it stays so after a redelivery).
    pub returned_unclaimed: bool,
}

/// A fact about a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    /// See [`CaseFacts::delivered`].
    Delivered,
    /// See [`CaseFacts::refusal_prepared`].
    RefusalPrepared,
    /// Delivered by the legal result date.
    OnTime,
    /// Delivered after it.
    Late,
    /// See [`CaseFacts::returned_unclaimed`].
    ReturnedUnclaimed,
}

/// A condition on a case's facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    /// Every case.
    Always,
    /// The status is one of these.
    Status(&'static [CaseStatus]),
    /// The fact holds.
    Is(Fact),
    /// The condition does not hold.
    Not(&'static Cond),
    /// Every condition holds.
    All(&'static [Cond]),
}

impl Cond {
    /// Whether the condition holds for `f`.
    pub fn holds(&self, f: &CaseFacts) -> bool {
        match self {
            Cond::Always => true,
            Cond::Status(s) => s.contains(&f.status),
            Cond::Is(Fact::Delivered) => f.delivered,
            Cond::Is(Fact::RefusalPrepared) => f.refusal_prepared,
            Cond::Is(Fact::OnTime) => f.on_time == Some(true),
            Cond::Is(Fact::Late) => f.on_time == Some(false),
            Cond::Is(Fact::ReturnedUnclaimed) => f.returned_unclaimed,
            Cond::Not(c) => !c.holds(f),
            Cond::All(cs) => cs.iter().all(|c| c.holds(f)),
        }
    }
}

const DELIVERED: Cond = Cond::Is(Fact::Delivered);
const REFUSAL: Cond = Cond::Is(Fact::RefusalPrepared);
const REFUSED_AT_INTAKE: Cond = Cond::Status(&[CaseStatus::RefusedAtIntake]);
/// Registered, not refused at intake, nothing delivered yet: the staff are still working.
const IN_PROGRESS: Cond = Cond::All(&[Cond::Not(&DELIVERED), Cond::Not(&REFUSED_AT_INTAKE)]);
/// A result (not a reasoned refusal) delivered.
const COMPLETED: Cond = Cond::All(&[DELIVERED, Cond::Not(&REFUSAL)]);
const COMPLETED_ON_TIME: Cond = Cond::All(&[COMPLETED, Cond::Is(Fact::OnTime)]);
const COMPLETED_LATE: Cond = Cond::All(&[COMPLETED, Cond::Is(Fact::Late)]);
const REFUSED_WITH_REASONS: Cond = Cond::All(&[DELIVERED, REFUSAL]);
/// Ready and not yet in the applicant's hands: waiting at the counter, stored at the provider
/// after the storage month, or on its way back to the counter on request. Waiting for the
/// applicant is not staff time: these cases are not in progress and never overdue.
const AWAITING_COLLECTION: Cond = Cond::Status(&[
    CaseStatus::ResultReady,
    CaseStatus::ReturnedUnclaimed,
    CaseStatus::Redelivery,
]);

/// A count in the SLA report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// Registered (refusals at intake included).
    Received,
    /// Not refused at intake, nothing delivered yet.
    InProgress,
    /// A result delivered.
    Completed,
    /// Of which by the legal result date.
    CompletedOnTime,
    /// Of which after it.
    CompletedLate,
    /// Refused at intake with a refusal receipt.
    RefusedAtIntake,
    /// A reasoned refusal delivered.
    RefusedWithReasons,
    /// Returned to the provider uncollected at the end of storage.
    ReturnedUnclaimed,
    /// Ready, not yet collected by the applicant.
    AwaitingCollection,
}

/// Every measure, in the order of the rollup's columns.
pub const MEASURES: [Measure; 9] = [
    Measure::Received,
    Measure::InProgress,
    Measure::Completed,
    Measure::CompletedOnTime,
    Measure::CompletedLate,
    Measure::RefusedAtIntake,
    Measure::RefusedWithReasons,
    Measure::ReturnedUnclaimed,
    Measure::AwaitingCollection,
];

impl Measure {
    /// The condition a case meets to be counted.
    pub fn rule(self) -> &'static Cond {
        match self {
            Measure::Received => &Cond::Always,
            Measure::InProgress => &IN_PROGRESS,
            Measure::Completed => &COMPLETED,
            Measure::CompletedOnTime => &COMPLETED_ON_TIME,
            Measure::CompletedLate => &COMPLETED_LATE,
            Measure::RefusedAtIntake => &REFUSED_AT_INTAKE,
            Measure::RefusedWithReasons => &REFUSED_WITH_REASONS,
            Measure::ReturnedUnclaimed => &Cond::Is(Fact::ReturnedUnclaimed),
            Measure::AwaitingCollection => &AWAITING_COLLECTION,
        }
    }

    /// Its name in storage and SQL (a column of the report rollup).
    pub fn column(self) -> &'static str {
        match self {
            Measure::Received => "received",
            Measure::InProgress => "in_progress",
            Measure::Completed => "completed",
            Measure::CompletedOnTime => "completed_on_time",
            Measure::CompletedLate => "completed_late",
            Measure::RefusedAtIntake => "refused_at_intake",
            Measure::RefusedWithReasons => "refused_with_reasons",
            Measure::ReturnedUnclaimed => "returned_unclaimed",
            Measure::AwaitingCollection => "awaiting_collection",
        }
    }

    /// Whether the case counts.
    pub fn counts(self, f: &CaseFacts) -> bool {
        self.rule().holds(f)
    }
}

/// A case is counted while its staff can still be late: see [`Measure::InProgress`].
pub fn open(f: &CaseFacts) -> bool {
    Measure::InProgress.counts(f)
}

/// In progress and past its legal result date at `now`.
pub fn overdue(f: &CaseFacts, term_due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    open(f) && term_due.is_some_and(|t| t < now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: CaseStatus) -> CaseFacts {
        CaseFacts {
            status,
            delivered: false,
            refusal_prepared: false,
            on_time: None,
            returned_unclaimed: false,
        }
    }

    fn counted(f: &CaseFacts) -> Vec<Measure> {
        MEASURES.into_iter().filter(|m| m.counts(f)).collect()
    }

    #[test]
    fn every_case_is_in_exactly_one_of_in_progress_completed_refused() {
        use CaseStatus::*;
        let partition = [
            Measure::InProgress,
            Measure::Completed,
            Measure::RefusedAtIntake,
            Measure::RefusedWithReasons,
        ];
        for status in [
            Submitted,
            InProgress,
            ResultReady,
            Completed,
            RefusedAtIntake,
            Refused,
            ReturnedUnclaimed,
            Redelivery,
        ] {
            for delivered in [false, true] {
                for refusal_prepared in [false, true] {
                    let f = CaseFacts {
                        status,
                        delivered: delivered && status != RefusedAtIntake,
                        refusal_prepared,
                        on_time: delivered.then_some(true),
                        returned_unclaimed: false,
                    };
                    let n = partition.iter().filter(|m| m.counts(&f)).count();
                    assert_eq!(n, 1, "{f:?}");
                }
            }
        }
    }

    #[test]
    fn a_result_waiting_at_the_counter_is_awaiting_collection_not_in_progress_nor_overdue() {
        let f = CaseFacts {
            delivered: true,
            on_time: Some(true),
            ..facts(CaseStatus::ResultReady)
        };
        assert_eq!(
            counted(&f),
            [
                Measure::Received,
                Measure::Completed,
                Measure::CompletedOnTime,
                Measure::AwaitingCollection
            ]
        );
        let past = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert!(!overdue(&f, Some(past), past + chrono::Duration::days(90)));
    }

    #[test]
    fn returned_unclaimed_stays_counted_after_redelivery_and_issue() {
        let stored = CaseFacts {
            delivered: true,
            on_time: Some(false),
            returned_unclaimed: true,
            ..facts(CaseStatus::ReturnedUnclaimed)
        };
        assert_eq!(
            counted(&stored),
            [
                Measure::Received,
                Measure::Completed,
                Measure::CompletedLate,
                Measure::ReturnedUnclaimed,
                Measure::AwaitingCollection
            ]
        );
        let issued = CaseFacts {
            status: CaseStatus::Completed,
            ..stored
        };
        assert!(Measure::ReturnedUnclaimed.counts(&issued));
        assert!(!Measure::AwaitingCollection.counts(&issued));
    }

    #[test]
    fn an_open_case_is_overdue_once_its_legal_date_has_passed() {
        let f = facts(CaseStatus::InProgress);
        let due = DateTime::parse_from_rfc3339("2025-03-03T13:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert!(!overdue(&f, Some(due), due));
        assert!(overdue(&f, Some(due), due + chrono::Duration::seconds(1)));
        assert!(!overdue(&f, None, due));
        let refused = facts(CaseStatus::RefusedAtIntake);
        assert_eq!(
            counted(&refused),
            [Measure::Received, Measure::RefusedAtIntake]
        );
        assert!(!overdue(
            &refused,
            Some(due),
            due + chrono::Duration::days(1)
        ));
    }

    #[test]
    fn a_reasoned_refusal_counts_as_refused_with_reasons_not_completed() {
        let f = CaseFacts {
            delivered: true,
            refusal_prepared: true,
            on_time: Some(true),
            ..facts(CaseStatus::Refused)
        };
        assert_eq!(
            counted(&f),
            [Measure::Received, Measure::RefusedWithReasons]
        );
    }
}
