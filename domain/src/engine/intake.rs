//! An application becomes a case: checked, registered (or refused at intake), its receipt issued.

use chrono::NaiveDate;
use serde_json::json;

use super::*;
use crate::case::{creation_stop, status_at};
use crate::documents::RefusalReceipt;

/// The documents an application lacks, by name, and those expired.
fn gaps(docs: &[SubmittedDocument]) -> (Vec<String>, Vec<String>) {
    (
        docs.iter()
            .filter(|d| !d.provided)
            .map(|d| d.name.clone())
            .collect(),
        docs.iter()
            .filter(|d| d.expired)
            .map(|d| d.name.clone())
            .collect(),
    )
}

/// Checks an application's attributes against the regulation's declared domain and fills in
/// the defaults.
pub fn attributes(reg: &Regulation, given: &Attributes) -> Result<Attributes, CaseError> {
    for (name, value) in given {
        let Some(d) = reg.attribute(name) else {
            let known: Vec<&str> = reg.attributes.iter().map(|a| a.name.as_str()).collect();
            return Err(CaseError::BadInput(if known.is_empty() {
                format!("{} takes no attributes; {name:?} is not one", reg.code)
            } else {
                format!(
                    "unknown attribute {name:?}; {} takes {}",
                    reg.code,
                    known.join(", ")
                )
            }));
        };
        if !d.values.contains(value) {
            return Err(CaseError::BadInput(format!(
                "{name} = {value:?} is not allowed; the values are {}",
                d.values.join(", ")
            )));
        }
    }
    let mut out = given.clone();
    for d in &reg.attributes {
        out.entry(d.name.clone())
            .or_insert_with(|| d.default.clone());
    }
    Ok(out)
}

/// Decides an application: channel, provider, acceptance window, documents and attributes are
/// checked; at the office or the counter the documents are checked at once (a refusal receipt
/// names what is missing or expired); a portal submission waits for the office. Returns the
/// new case (its number empty: see [`Transition::numbered`]).
pub fn decide_intake(
    ctx: &Context<'_>,
    channel: Channel,
    application: &Application,
    actor: &Actor,
    local_date: NaiveDate,
) -> Result<Transition, CaseError> {
    let reg = ctx.regulation;
    let now = ctx.now;
    if !reg.accepts(channel) {
        return Err(CaseError::ChannelNotAllowed(channel));
    }
    let creation = creation_stop(reg, channel, &application.attributes)?;
    // Who may register it: the role of the intake mailbox, in the intake organisation; on the
    // portal, the applicant named on the application.
    match &creation {
        Some(stop) => {
            let org = ctx.parties.org(stop.holder)?;
            if actor.role != mailbox_role(stop.mailbox) || actor.organisation_id != Some(org.id) {
                return Err(CaseError::NotYourTurn);
            }
        }
        None => {
            if actor.role != Role::Applicant {
                return Err(CaseError::NotYourTurn);
            }
            if actor.iin.as_deref() != Some(application.applicant.iin.as_str()) {
                return Err(CaseError::IinMismatch);
            }
        }
    }
    let p = &ctx.parties.provider;
    if p.region != reg.region || !reg.provider_kinds.contains(&p.kind) {
        return Err(CaseError::BadInput(format!(
            "{} does not provide {} (a {} in {} is needed)",
            p.code,
            reg.code,
            reg.provider_kinds.join(" or "),
            reg.region
        )));
    }
    if channel == Channel::StateCorporation {
        let branch = ctx
            .parties
            .corporation
            .as_ref()
            .ok_or(CaseError::NotYourTurn)?;
        if branch.region != p.region {
            return Err(CaseError::BadInput(
                "the provider is outside this branch's region".into(),
            ));
        }
    }
    if application.applicant.full_name.trim().is_empty() {
        return Err(CaseError::BadInput(
            "the applicant's full name is required".into(),
        ));
    }
    if application.documents.is_empty() {
        return Err(CaseError::BadInput(
            "an application needs at least one document (name each document, handed in or missing)"
                .into(),
        ));
    }
    if application
        .documents
        .iter()
        .any(|d| d.name.trim().is_empty())
    {
        return Err(CaseError::BadInput("every document needs a name".into()));
    }
    let attrs = attributes(reg, &application.attributes)?;
    if let Some(a) = &application.applies_to {
        if !reg.acceptance_windows.iter().any(|w| &w.applies_to == a) {
            let known: Vec<&str> = reg
                .acceptance_windows
                .iter()
                .map(|w| w.applies_to.as_str())
                .collect();
            return Err(CaseError::BadInput(format!(
                "{} has no acceptance window {a:?} (it has: {})",
                reg.code,
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    if !reg.window_open(local_date, application.applies_to.as_deref()) {
        return Err(CaseError::OutsideWindow(format!(
            "{} does not accept applications on {local_date}",
            reg.code
        )));
    }
    let creation = creation_stop(reg, channel, &attrs)?;
    let stops = route(reg, channel, &attrs)?;
    let (missing, expired) = gaps(&application.documents);
    // A portal submission is checked by the office later; at a counter, at once.
    let refused = creation.is_some() && (!missing.is_empty() || !expired.is_empty());
    if let (true, Some(stop)) = (refused, &creation) {
        crate::refusal::check_intake(reg, channel, refused_by(stop.holder), &missing, &expired)?;
    }
    let (term_due, provider_due) = if refused {
        (None, None)
    } else {
        let last_day = reg.term_of_service_ends(local_date, application.applies_to.as_deref());
        let (t, p) = ctx.time.legal_term(reg, &stops, channel, now, last_day)?;
        (Some(t), p)
    };
    let mut case = CaseRecord {
        number: String::new(),
        channel,
        status: CaseStatus::Submitted,
        stage: Stage::Intake,
        route_index: None,
        place: None,
        assignee: None,
        applicant: application.applicant.clone(),
        documents: application.documents.clone(),
        attributes: attrs,
        registered_at: now,
        term_due,
        provider_due,
        step_started: None,
        step_due: None,
        storage_due: None,
        receipt: None,
        registration: None,
        refusal: None,
        refusal_prepared: false,
        result: None,
        delivery: None,
        returned_unclaimed: false,
        closed_at: None,
    };
    let created_step = creation
        .as_ref()
        // Completed as it is created: its own duration, no bound (it takes no time).
        .map(|s| ctx.time.open(ctx.parties, s, now, None))
        .transpose()?;
    let intake_org = match &creation {
        Some(s) => ctx.parties.org(s.holder)?.code.clone(),
        None => String::new(),
    };
    let closed = created_step.as_ref().map(|s| ClosedStep {
        stage: s.stop.stage,
        mailbox: s.stop.mailbox,
        finished: now,
        on_time: s.due.map(|d| now <= d),
        used_minutes: Some(0),
        allowed_minutes: s.allowed_minutes,
        outcome: if refused {
            Outcome::RefusedAtIntake
        } else {
            Outcome::Accepted
        },
        comment: None,
        actor_id: actor.user_id,
        actor_name: actor.name.clone(),
    });
    let mut issued = Vec::new();
    let mut opened = None;
    let (kind, notice_kind) = if refused {
        case.refusal = Some(Refusal::IntakeRefusal(RefusalReceipt {
            missing: missing.clone(),
            expired: expired.clone(),
            issued_at: now,
            issued_organisation: intake_org,
            issued_by: actor.name.clone(),
        }));
        issued.push(IssuedDocument::RefusalReceipt);
        case.status = CaseStatus::RefusedAtIntake;
        case.stage = Stage::Closed;
        case.closed_at = Some(now);
        ("REFUSED_AT_INTAKE", Some(NoticeKind::Refused))
    } else {
        if creation.is_some() {
            case.receipt = Some(receipt(ctx, &case, intake_org, actor));
            issued.push(IssuedDocument::Receipt);
        }
        match stops.first() {
            Some(first) => {
                let within = time::bound(first.stage, term_due, provider_due);
                let step = ctx.time.open(ctx.parties, first, now, within)?;
                case.status = if creation.is_some() {
                    status_at(first)
                } else {
                    CaseStatus::Submitted
                };
                enter(&mut case, &step, Some(0));
                opened = Some(step);
            }
            None => {
                // A one-step service: the receipt is the result.
                case.status = CaseStatus::Completed;
                case.stage = Stage::Closed;
                case.result = Some(ServiceResult {
                    documents: reg.results.iter().map(|r| r.code.clone()).collect(),
                    signature: None,
                    issued_at: Some(now),
                    issued_by: Some(actor.name.clone()),
                });
                issued.push(IssuedDocument::ServiceResult);
                case.closed_at = Some(now);
                case.delivery = Some(Delivery {
                    at: now,
                    on_time: true,
                    working_days: Some(0.0),
                });
            }
        }
        match channel {
            Channel::Portal => ("SUBMITTED", None),
            Channel::StateCorporation => ("ACCEPTED_AT_CORPORATION", Some(NoticeKind::Registered)),
            Channel::ProviderOffice => ("REGISTERED", Some(NoticeKind::Registered)),
        }
    };
    let event = Event {
        kind,
        payload: json!({
            "channel": channel_name(channel), "regulation": reg.code, "version": ctx.regulation_version,
            "missing": missing, "expired": expired, "termDue": term_due.map(|t| t.to_rfc3339()),
        }),
    };
    Ok(Transition {
        notice: notice_kind.map(|k| notice(k, &case)),
        closed,
        created_step,
        opened,
        case,
        issued,
        event,
    })
}

/// The receipt for the documents accepted from the applicant: issued once, by whoever accepts
/// them (the office, the counter, or the office registering a portal application), and never
/// rewritten.
pub(super) fn receipt(
    ctx: &Context<'_>,
    case: &CaseRecord,
    organisation: String,
    actor: &Actor,
) -> Receipt {
    let reg = ctx.regulation;
    Receipt {
        number: case.number.clone(),
        regulation: reg.code.clone(),
        regulation_version: ctx.regulation_version,
        service: reg.name_kk.clone(),
        channel: case.channel,
        applicant: case.applicant.full_name.trim().to_owned(),
        iin: case.applicant.iin.clone(),
        documents: case
            .documents
            .iter()
            .filter(|d| d.provided)
            .map(|d| d.name.clone())
            .collect(),
        legal_result_date: case.term_due,
        accepted_at: ctx.now,
        accepted_organisation: organisation,
        accepted_by: actor.name.clone(),
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::ProviderOffice => "PROVIDER_OFFICE",
        Channel::StateCorporation => "STATE_CORPORATION",
        Channel::Portal => "PORTAL",
    }
}

impl Transition {
    /// Gives the new case its registration number (known once it is stored), on the case, its
    /// receipt and its notice.
    pub fn numbered(mut self, number: String) -> Transition {
        if let Some(r) = &mut self.case.receipt {
            r.number = number.clone();
        }
        if let Some(n) = &mut self.notice {
            n.number = number.clone();
        }
        self.case.number = number;
        self
    }
}

/// The registration number: region, local registration date, the case id.
pub fn registration_number(region_iso: &str, local_date: NaiveDate, id: i64) -> String {
    format!(
        "{}-{}-{id:07}",
        region_iso.replace('-', ""),
        local_date.format("%Y%m%d")
    )
}
