//! The working time of a case's organisations: due times, minutes used, risk, the legal term.

use chrono::{DateTime, Utc};

use super::*;
use crate::deadline::{DurationUnit, Intake, LegalDuration, WorkingClock};
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

    /// The step that starts at `stop` at `now`.
    pub(super) fn open(
        &self,
        parties: &Parties,
        stop: &Stop,
        now: DateTime<Utc>,
    ) -> Result<OpenedStep, CaseError> {
        let org_id = parties.org(stop.holder)?.id;
        let due = self.due(stop.holder, now, stop.duration)?;
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
    /// the last stop when every stop takes its full time.
    pub fn legal_term(
        &self,
        reg: &Regulation,
        stops: &[Stop],
        channel: Channel,
        registered: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), CaseError> {
        let intake = if channel == Channel::StateCorporation {
            Intake::StateCorporation
        } else {
            Intake::Provider
        };
        if let Some(t) = &reg.legal_term {
            let d = LegalDuration::new(t.value, t.unit)?;
            let term = self.provider.case_term(registered, d, intake)?;
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
