//! The working time of a case's organisations: due times, minutes used, risk, the legal term.

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::deadline::{DeadlineError, DurationUnit, Intake, LegalDuration, WorkingClock};
use crate::regulation::DurationSpec;

/// Working time of the organisations of a case.
#[derive(Clone, Copy, Debug)]
pub struct WorkingTime<'a> {
    /// The provider's clock.
    pub provider: WorkingClock<'a>,
    /// The branch's clock, on the State Corporation channel.
    pub corporation: Option<WorkingClock<'a>>,
}

impl WorkingTime<'_> {
    fn clock(&self, holder: Holder) -> Result<&WorkingClock<'_>, CaseError> {
        match holder {
            Holder::Provider => Ok(&self.provider),
            Holder::Corporation => self.corporation.as_ref().ok_or_else(|| {
                CaseError::InvalidTransition("this case has no State Corporation branch".into())
            }),
        }
    }

    /// The due time of `d` started at `start`.
    pub fn due(
        &self,
        holder: Holder,
        start: DateTime<Utc>,
        d: Option<DurationSpec>,
    ) -> Result<Option<DateTime<Utc>>, CaseError> {
        let Some(d) = d else { return Ok(None) };
        Ok(Some(self.clock(holder)?.deadline(start, d.legal())?.at))
    }

    /// Working minutes between two instants on the holder's clock.
    pub fn minutes(&self, holder: Holder, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<i64> {
        let clock = self.clock(holder).ok()?;
        clock
            .elapsed(from, to)
            .ok()
            .map(|e| e.working_minutes as i64)
    }

    /// When a step started at `start` will have used 80% of its allowed working time.
    pub fn risk_at(
        &self,
        holder: Holder,
        start: DateTime<Utc>,
        allowed: Option<i64>,
    ) -> Option<DateTime<Utc>> {
        let clock = self.clock(holder).ok()?;
        let minutes = u32::try_from((allowed? * 4 + 4) / 5).ok()?;
        if minutes == 0 {
            return Some(start);
        }
        let d = LegalDuration::new(minutes, DurationUnit::Minutes).ok()?;
        clock.deadline(start, d).ok().map(|due| due.at)
    }

    /// The step that starts at `stop` at `now`, due by its own duration but never after
    /// `bound` (see [`bound`]); a stop without a duration of its own inside the term is due at
    /// the bound.
    pub(super) fn open(
        &self,
        parties: &Parties,
        stop: &Stop,
        now: DateTime<Utc>,
        bound: Option<DateTime<Utc>>,
    ) -> Result<OpenedStep, CaseError> {
        let org_id = parties.org(stop.holder)?.id;
        let own = self.due(stop.holder, now, stop.duration)?;
        let due = match (own, bound) {
            (Some(own), Some(bound)) => Some(own.min(bound)),
            (None, Some(bound)) => Some(bound),
            (own, None) => own,
        };
        let allowed = due.and_then(|d| self.minutes(stop.holder, now, d));
        Ok(OpenedStep {
            stop: stop.clone(),
            org_id,
            started: now,
            due,
            allowed_minutes: allowed,
            risk_at: due.and_then(|_| self.risk_at(stop.holder, now, allowed)),
        })
    }

    /// The legal result date and, on the State Corporation channel with a stated term, the
    /// provider's own deadline: the stated term, or where the act states none, the due time of
    /// the last stop when every stop takes its full time (a leg the act does not time takes
    /// none). On the State Corporation channel a stated term runs on the branch's working
    /// hours, where the applicant collects the result.
    pub fn legal_term(
        &self,
        reg: &Regulation,
        stops: &[Stop],
        channel: Channel,
        registered: DateTime<Utc>,
        last_day: Option<NaiveDate>,
    ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), CaseError> {
        let (term, provider) = self.term_before_cap(reg, stops, channel, registered)?;
        let Some(last_day) = last_day else {
            return Ok((term, provider));
        };
        // The act's term of the service ends on a day of the year: no result date after it.
        let clock = self.clock_of(channel);
        let cap = clock.close_by(last_day).map_err(DeadlineError::from)?;
        Ok((term.min(cap), provider.map(|p| p.min(cap))))
    }

    fn clock_of(&self, channel: Channel) -> &WorkingClock<'_> {
        match (channel, &self.corporation) {
            (Channel::StateCorporation, Some(branch)) => branch,
            _ => &self.provider,
        }
    }

    fn term_before_cap(
        &self,
        reg: &Regulation,
        stops: &[Stop],
        channel: Channel,
        registered: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), CaseError> {
        // On the State Corporation channel the applicant collects the result at the counter:
        // the term ends when the branch closes, and the provider's delivery is due by the
        // branch's close the day before.
        let clock = self.clock_of(channel);
        let intake = if channel == Channel::StateCorporation {
            Intake::StateCorporation
        } else {
            Intake::Provider
        };
        if let Some(t) = reg.legal_term.as_ref().filter(|t| t.applies_to(channel)) {
            let d = LegalDuration::new(t.value, t.unit)?;
            let term = clock.case_term(registered, d, intake)?;
            return Ok((term.due.at, term.provider_due.map(|p| p.at)));
        }
        let mut at = registered;
        for s in stops {
            if let Some(d) = s.duration {
                at = self.clock(s.holder)?.deadline(at, d.legal())?.at;
            }
        }
        Ok((at, None))
    }
}

/// The latest instant a stop may be due: every stop before the result reaches the applicant's
/// channel lies inside the legal term — on the State Corporation channel with a stated term
/// inside the provider's own deadline (the result must reach the counter a day before the
/// term ends), otherwise inside the legal result date. The counter, storage and redelivery come
/// after the term and have none.
pub fn bound(
    stage: Stage,
    term_due: Option<DateTime<Utc>>,
    provider_due: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match stage {
        Stage::CorporationIssue | Stage::ProviderStorage | Stage::Redelivery | Stage::Closed => {
            None
        }
        _ => provider_due.or(term_due),
    }
}
