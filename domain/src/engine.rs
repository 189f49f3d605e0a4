//! The case engine: what every move means, decided in one place.
//!
//! [`decide_intake`] creates a case from an application and [`decide`] applies a command to a
//! case. Both are pure — time (`now`) and working time ([`WorkingTime`]) are passed in — and
//! return a [`Transition`]: the step closed (with its outcome and whether it was on time), the
//! next stop with its due time, the case as it is after the move, the documents issued, the
//! applicant's notice and the event for the case's chain. The store persists a transition in
//! one transaction and decides nothing; the generator of test data builds its histories from the
//! same functions.
//!
//! Who may act is decided here too ([`may_act`], [`available_actions`]), so the API tells each
//! caller exactly what the engine will accept.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::case::{
    creation_stop, route, status_at, storage_months, Action, Attributes, CaseError, CaseStatus,
    Holder, Stage, Stop, ALL_ACTIONS,
};
use crate::deadline::{DurationUnit, Intake, LegalDuration, WorkingClock};
use crate::documents::{
    ReasonedRefusal, Receipt, Refusal, RefusalReceipt, Registration, ServiceResult, Signature,
};
use crate::identity::Role;
use crate::regulation::{Channel, DurationSpec, Mailbox, Regulation};

/// An organisation taking part in a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    /// Identifier.
    pub id: i64,
    /// Code, as printed on documents.
    pub code: String,
    /// Region code.
    pub region: String,
    /// Kind (`SCHOOL`, `STATE_CORPORATION`…).
    pub kind: String,
}

/// The provider and, on the State Corporation channel, the branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parties {
    /// The provider.
    pub provider: Org,
    /// The State Corporation branch.
    pub corporation: Option<Org>,
}

impl Parties {
    /// The organisation holding a stop.
    pub fn org(&self, holder: Holder) -> Result<&Org, CaseError> {
        match holder {
            Holder::Provider => Ok(&self.provider),
            Holder::Corporation => self.corporation.as_ref().ok_or_else(|| {
                CaseError::InvalidTransition("this case has no State Corporation branch".into())
            }),
        }
    }
}

/// Who acts: a staff user or an applicant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The staff user's id; none for an applicant.
    pub user_id: Option<i64>,
    /// A name for the history: a username, or `applicant:ID`.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The staff user's organisation.
    pub organisation_id: Option<i64>,
    /// The applicant's IIN, for an applicant.
    pub iin: Option<String>,
}

/// A staff user named in a command (the executor a head assigns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffRef {
    /// Identifier.
    pub id: i64,
    /// Username.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Organisation.
    pub organisation_id: Option<i64>,
    /// Whether the account is active.
    pub active: bool,
}

/// A command with what it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Register (or refuse) a submitted or delivered application.
    CompleteIntake {
        /// Documents missing.
        missing: Vec<String>,
        /// Documents expired.
        expired: Vec<String>,
    },
    /// Assign an executor; `None` when the name is not a known user.
    AssignExecutor {
        /// The name given.
        name: String,
        /// The user of that name, if any.
        executor: Option<StaffRef>,
    },
    /// Prepare the result, or a reasoned refusal when grounds are given.
    Prepare {
        /// Grounds of a reasoned refusal.
        refusal_grounds: Option<String>,
        /// A note for the head.
        note: Option<String>,
    },
    /// Sign.
    Sign,
    /// Return to the executor with a comment.
    ReturnToExecutor {
        /// What to correct.
        comment: String,
    },
    /// Issue (or hand to the courier).
    Issue,
    /// The courier delivered the documents.
    DeliverToProvider,
    /// The result arrived at the State Corporation.
    ReceiveResult,
    /// Issued at the counter.
    IssueAtCorporation,
    /// Uncollected: back to the provider.
    ReturnUncollected,
    /// Ask the provider for the stored result.
    RequestRedelivery,
    /// Send the stored result back.
    Redeliver,
}

impl Command {
    /// The action it performs.
    pub fn action(&self) -> Action {
        match self {
            Command::CompleteIntake { .. } => Action::CompleteIntake,
            Command::AssignExecutor { .. } => Action::AssignExecutor,
            Command::Prepare { .. } => Action::PrepareResult,
            Command::Sign => Action::SignResult,
            Command::ReturnToExecutor { .. } => Action::ReturnToExecutor,
            Command::Issue => Action::IssueResult,
            Command::DeliverToProvider => Action::DeliverToProvider,
            Command::ReceiveResult => Action::ReceiveResult,
            Command::IssueAtCorporation => Action::IssueAtCorporation,
            Command::ReturnUncollected => Action::ReturnUncollected,
            Command::RequestRedelivery => Action::RequestRedelivery,
            Command::Redeliver => Action::Redeliver,
        }
    }
}

/// A document of an application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SubmittedDocument {
    /// What it is, e.g. "birth certificate".
    pub name: String,
    /// Whether it was handed in.
    pub provided: bool,
    /// Whether it has expired.
    pub expired: bool,
}

/// The applicant as written on the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applicant {
    /// IIN (already checked).
    pub iin: String,
    /// Full name.
    pub full_name: String,
}

/// An application as it comes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    /// The applicant.
    pub applicant: Applicant,
    /// The documents.
    pub documents: Vec<SubmittedDocument>,
    /// Attributes the regulation depends on; only declared names and values.
    pub attributes: Attributes,
    /// Which acceptance window governs it.
    pub applies_to: Option<String>,
}

/// Where a case is: the stop's holder and mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    /// Whose mailbox.
    pub holder: Holder,
    /// Which mailbox.
    pub mailbox: Mailbox,
}

/// A result delivered to the applicant's channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delivery {
    /// When.
    pub at: DateTime<Utc>,
    /// Whether by the legal result date.
    pub on_time: bool,
    /// Working days from registration.
    pub working_days: Option<f64>,
}

/// A case as the engine needs it. The store maps it to and from its row.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseRecord {
    /// Registration number (empty until assigned).
    pub number: String,
    /// The channel it came through.
    pub channel: Channel,
    /// Overall status.
    pub status: CaseStatus,
    /// What it waits for.
    pub stage: Stage,
    /// Position on the route, for route stages.
    pub route_index: Option<usize>,
    /// Where it is; none once closed.
    pub place: Option<Place>,
    /// The executor assigned.
    pub assignee: Option<i64>,
    /// The applicant.
    pub applicant: Applicant,
    /// The documents as submitted.
    pub documents: Vec<SubmittedDocument>,
    /// Attributes, with declared defaults filled in.
    pub attributes: Attributes,
    /// When registered (the legal term starts here).
    pub registered_at: DateTime<Utc>,
    /// The legal result date.
    pub term_due: Option<DateTime<Utc>>,
    /// The provider's own deadline on the State Corporation channel.
    pub provider_due: Option<DateTime<Utc>>,
    /// When the current stop started.
    pub step_started: Option<DateTime<Utc>>,
    /// When the current stop is due; none where nobody on the staff is due (waiting for the
    /// applicant, storage).
    pub step_due: Option<DateTime<Utc>>,
    /// End of storage at the counter, while the result waits there.
    pub storage_due: Option<DateTime<Utc>>,
    /// The receipt, once issued.
    pub receipt: Option<Receipt>,
    /// The provider's registration of a portal or State Corporation application.
    pub registration: Option<Registration>,
    /// A refusal receipt, or a reasoned refusal (a draft until signed).
    pub refusal: Option<Refusal>,
    /// Whether the executor's draft is a reasoned refusal.
    pub refusal_prepared: bool,
    /// The result, once signed.
    pub result: Option<ServiceResult>,
    /// When the result (or reasoned refusal) reached the applicant's channel.
    pub delivery: Option<Delivery>,
    /// Whether it went back to the provider unclaimed.
    pub returned_unclaimed: bool,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// What came of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted and registered.
    Accepted,
    /// Refused at intake.
    RefusedAtIntake,
    /// The head assigned an executor.
    Assigned,
    /// The executor prepared the result.
    ResultPrepared,
    /// The executor prepared a reasoned refusal.
    ReasonedRefusalPrepared,
    /// The head signed.
    Signed,
    /// The head returned the draft.
    Returned,
    /// Issued (or handed to the courier).
    Issued,
    /// The courier delivered the documents.
    Delivered,
    /// The State Corporation received the result.
    Received,
    /// Sent back to the provider uncollected.
    ReturnedUncollected,
    /// Requested back from storage.
    Requested,
    /// Sent back from storage.
    Redelivered,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "ACCEPTED",
            Outcome::RefusedAtIntake => "REFUSED_AT_INTAKE",
            Outcome::Assigned => "ASSIGNED",
            Outcome::ResultPrepared => "RESULT_PREPARED",
            Outcome::ReasonedRefusalPrepared => "REASONED_REFUSAL_PREPARED",
            Outcome::Signed => "SIGNED",
            Outcome::Returned => "RETURNED",
            Outcome::Issued => "ISSUED",
            Outcome::Delivered => "DELIVERED",
            Outcome::Received => "RECEIVED",
            Outcome::ReturnedUncollected => "RETURNED_UNCOLLECTED",
            Outcome::Requested => "REQUESTED",
            Outcome::Redelivered => "REDELIVERED",
        }
    }
}

/// A step that starts now.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenedStep {
    /// The stop.
    pub stop: Stop,
    /// The organisation holding it.
    pub org_id: i64,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it is due; none where no staff deadline runs (waiting, storage).
    pub due: Option<DateTime<Utc>>,
    /// Working minutes allowed.
    pub allowed_minutes: Option<i64>,
    /// When it will have used 80% of its allowed time.
    pub risk_at: Option<DateTime<Utc>>,
}

/// The step a move finishes.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedStep {
    /// Its stage.
    pub stage: Stage,
    /// Its mailbox.
    pub mailbox: Mailbox,
    /// When it finished.
    pub finished: DateTime<Utc>,
    /// Whether by its due time; none for a step with no staff deadline (it never counts as
    /// late or on time).
    pub on_time: Option<bool>,
    /// Working minutes used.
    pub used_minutes: Option<i64>,
    /// Working minutes allowed.
    pub allowed_minutes: Option<i64>,
    /// What came of it.
    pub outcome: Outcome,
    /// A comment (a return's reason, an executor's note).
    pub comment: Option<String>,
    /// Who finished it.
    pub actor_id: Option<i64>,
    /// Their name.
    pub actor_name: String,
}

/// A document issued by a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuedDocument {
    /// The receipt.
    Receipt,
    /// The provider's registration record.
    Registration,
    /// The refusal receipt at intake.
    RefusalReceipt,
    /// The signed reasoned refusal.
    ReasonedRefusal,
    /// The signed result.
    ServiceResult,
}

/// What the applicant is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// Registered, with the legal result date.
    Registered,
    /// The result is ready (issued, on the portal, or at the counter).
    ResultReady,
    /// Refused (at intake, or a reasoned refusal delivered).
    Refused,
    /// The uncollected result went back to the provider.
    ReturnedToProvider,
}

impl NoticeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Registered => "REGISTERED",
            NoticeKind::ResultReady => "RESULT_READY",
            NoticeKind::Refused => "REFUSED",
            NoticeKind::ReturnedToProvider => "RETURNED_TO_PROVIDER",
        }
    }
}

/// The applicant's notice: only what the applicant may see.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// What happened.
    #[serde(skip)]
    pub kind: NoticeKind,
    /// The registration number.
    pub number: String,
    /// The applicant's IIN (the address of the notice).
    pub iin: String,
    /// The case's status.
    pub status: &'static str,
    /// The public label of where it stands.
    pub progress: &'static str,
    /// The legal result date (RFC 3339, UTC).
    pub legal_result_date: Option<String>,
}

/// An event for the case's hash chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// What happened, e.g. `REGISTERED`, `SIGN_RESULT`.
    pub kind: &'static str,
    /// Details.
    pub payload: Value,
}

/// Everything a move means. The store persists it as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The step the move finished.
    pub closed: Option<ClosedStep>,
    /// For intake: the stop that creation completed, started and finished now.
    pub created_step: Option<OpenedStep>,
    /// The step that starts now.
    pub opened: Option<OpenedStep>,
    /// The case after the move.
    pub case: CaseRecord,
    /// Documents issued by the move.
    pub issued: Vec<IssuedDocument>,
    /// What the applicant is told, if anything.
    pub notice: Option<Notice>,
    /// The event.
    pub event: Event,
}

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
    fn open(
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

/// What a move works with besides the case: the pinned regulation, the parties, working time
/// and the moment.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The pinned regulation.
    pub regulation: &'a Regulation,
    /// Its version.
    pub regulation_version: i32,
    /// The provider and the branch.
    pub parties: &'a Parties,
    /// Their working time.
    pub time: &'a WorkingTime<'a>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The role that works a mailbox.
pub fn mailbox_role(m: Mailbox) -> Role {
    match m {
        Mailbox::Office => Role::OfficeClerk,
        Mailbox::Head => Role::Head,
        Mailbox::Executor => Role::Executor,
        Mailbox::Corporation => Role::CorporationOperator,
    }
}

/// Whether `actor` may take `action` on the case now: the case is at the action's stage and in
/// the actor's mailbox (a stored result is requested back by the case's State Corporation
/// branch; a draft is the assigned executor's alone).
pub fn may_act(case: &CaseRecord, parties: &Parties, action: Action, actor: &Actor) -> bool {
    if case.stage != action.stage() {
        return false;
    }
    turn_is(case, parties, action, actor)
}

fn turn_is(case: &CaseRecord, parties: &Parties, action: Action, actor: &Actor) -> bool {
    let Some(place) = case.place else {
        return false;
    };
    let (org, role) = match action {
        Action::RequestRedelivery => (
            parties.corporation.as_ref().map(|c| c.id),
            Role::CorporationOperator,
        ),
        _ => (
            parties.org(place.holder).ok().map(|o| o.id),
            mailbox_role(place.mailbox),
        ),
    };
    if org.is_none() || actor.organisation_id != org || actor.role != role {
        return false;
    }
    match action {
        Action::PrepareResult => actor.user_id.is_some() && actor.user_id == case.assignee,
        _ => true,
    }
}

/// One action open to a caller now.
#[derive(Clone, Debug, PartialEq)]
pub struct AvailableAction {
    /// The action.
    pub action: Action,
    /// When the stop it completes is due (none: no staff deadline).
    pub due: Option<DateTime<Utc>>,
    /// Not before this instant (returning an uncollected result waits for the end of storage).
    pub not_before: Option<DateTime<Utc>>,
}

/// The actions `actor` may take on the case now; empty when it is not their turn.
pub fn available_actions(
    case: &CaseRecord,
    parties: &Parties,
    reg: &Regulation,
    actor: &Actor,
) -> Vec<AvailableAction> {
    let has_prepare = route(reg, case.channel, &case.attributes)
        .map(|r| r.iter().any(|s| s.stage == Stage::Prepare))
        .unwrap_or(false);
    ALL_ACTIONS
        .into_iter()
        .filter(|a| may_act(case, parties, *a, actor))
        .filter(|a| *a != Action::ReturnToExecutor || has_prepare)
        .map(|action| AvailableAction {
            action,
            due: case.step_due,
            not_before: (action == Action::ReturnUncollected)
                .then_some(case.storage_due)
                .flatten(),
        })
        .collect()
}

fn transition_error(action: Action, stage: Stage) -> CaseError {
    CaseError::InvalidTransition(format!(
        "{} is not possible while the case is at {}",
        action.name(),
        stage.as_str()
    ))
}

/// The public label of where a case stands, as the applicant's notice gives it.
pub fn progress_label(status: CaseStatus, stage: Stage) -> &'static str {
    crate::view::public_progress(status, stage).as_str()
}

fn notice(kind: NoticeKind, c: &CaseRecord) -> Notice {
    Notice {
        kind,
        number: c.number.clone(),
        iin: c.applicant.iin.clone(),
        status: c.status.as_str(),
        progress: progress_label(c.status, c.stage),
        legal_result_date: c.term_due.map(|t| t.to_rfc3339()),
    }
}

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
    let (term_due, provider_due) = if refused {
        (None, None)
    } else {
        let (t, p) = ctx.time.legal_term(reg, &stops, channel, now)?;
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
        .map(|s| ctx.time.open(ctx.parties, s, now))
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
            case.receipt = Some(Receipt {
                number: String::new(),
                regulation: reg.code.clone(),
                regulation_version: ctx.regulation_version,
                service: reg.name_kk.clone(),
                channel,
                applicant: application.applicant.full_name.trim().to_owned(),
                iin: application.applicant.iin.clone(),
                documents: application
                    .documents
                    .iter()
                    .filter(|d| d.provided)
                    .map(|d| d.name.clone())
                    .collect(),
                legal_result_date: term_due,
                accepted_at: now,
                accepted_organisation: intake_org,
                accepted_by: actor.name.clone(),
            });
            issued.push(IssuedDocument::Receipt);
        }
        match stops.first() {
            Some(first) => {
                let step = ctx.time.open(ctx.parties, first, now)?;
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

fn enter(case: &mut CaseRecord, step: &OpenedStep, index: Option<usize>) {
    case.stage = step.stop.stage;
    case.route_index = index;
    case.place = Some(Place {
        holder: step.stop.holder,
        mailbox: step.stop.mailbox,
    });
    case.step_started = Some(step.started);
    case.step_due = step.due;
    case.storage_due = None;
}

fn close(case: &mut CaseRecord, status: CaseStatus, now: DateTime<Utc>) {
    case.status = status;
    case.stage = Stage::Closed;
    case.route_index = None;
    case.place = None;
    case.step_due = None;
    case.storage_due = None;
    case.closed_at = Some(now);
}

/// Applies `command` by `actor` to `case`, or says why it cannot be done (nothing changes).
pub fn decide(
    ctx: &Context<'_>,
    case: &CaseRecord,
    command: &Command,
    actor: &Actor,
) -> Result<Transition, CaseError> {
    let reg = ctx.regulation;
    let now = ctx.now;
    let action = command.action();
    if case.place.is_none() {
        return Err(CaseError::InvalidTransition("the case is closed".into()));
    }
    // Not their mailbox (or not their draft): FORBIDDEN; their mailbox, another stage:
    // INVALID_TRANSITION.
    if !turn_is(case, ctx.parties, action, actor) {
        return Err(CaseError::NotYourTurn);
    }
    if case.stage != action.stage() {
        return Err(transition_error(action, case.stage));
    }
    let stops = route(reg, case.channel, &case.attributes)?;
    let here = || {
        case.route_index
            .filter(|i| *i < stops.len())
            .ok_or_else(|| CaseError::InvalidTransition("the case is not on its route".into()))
    };
    let mut next = case.clone();
    let mut issued = Vec::new();
    let mut comment = None;
    let mut payload = json!({ "command": action.name(), "from": case.stage.as_str() });
    let outcome = match command {
        Command::CompleteIntake { missing, expired } => {
            // The office names what the Standard requires and is missing, listed on the
            // application or not.
            if missing.iter().chain(expired).any(|d| d.trim().is_empty()) {
                return Err(CaseError::BadInput("a document needs a name".into()));
            }
            if missing.is_empty() && expired.is_empty() {
                let org = ctx.parties.provider.code.clone();
                next.registration = Some(Registration {
                    registered_at: now,
                    organisation: org.clone(),
                    registered_by: actor.name.clone(),
                });
                issued.push(IssuedDocument::Registration);
                // A portal application gets its receipt now; a State Corporation one has had
                // its receipt since the counter, and keeps it unchanged.
                if next.receipt.is_none() {
                    next.receipt = Some(Receipt {
                        number: case.number.clone(),
                        regulation: reg.code.clone(),
                        regulation_version: ctx.regulation_version,
                        service: reg.name_kk.clone(),
                        channel: case.channel,
                        applicant: case.applicant.full_name.clone(),
                        iin: case.applicant.iin.clone(),
                        documents: case
                            .documents
                            .iter()
                            .filter(|d| d.provided)
                            .map(|d| d.name.clone())
                            .collect(),
                        legal_result_date: case.term_due,
                        accepted_at: now,
                        accepted_organisation: org,
                        accepted_by: actor.name.clone(),
                    });
                    issued.push(IssuedDocument::Receipt);
                }
                Outcome::Accepted
            } else {
                next.refusal = Some(Refusal::IntakeRefusal(RefusalReceipt {
                    missing: missing.clone(),
                    expired: expired.clone(),
                    issued_at: now,
                    issued_organisation: ctx.parties.provider.code.clone(),
                    issued_by: actor.name.clone(),
                }));
                issued.push(IssuedDocument::RefusalReceipt);
                payload["missing"] = json!(missing);
                payload["expired"] = json!(expired);
                Outcome::RefusedAtIntake
            }
        }
        Command::AssignExecutor { name, executor } => {
            let ok = executor.as_ref().filter(|u| {
                u.active
                    && u.role == Role::Executor
                    && u.organisation_id == Some(ctx.parties.provider.id)
            });
            let Some(u) = ok else {
                return Err(CaseError::BadInput(format!(
                    "{name:?} is not an active executor of this case's provider"
                )));
            };
            next.assignee = Some(u.id);
            payload["executor"] = json!(u.name);
            Outcome::Assigned
        }
        Command::Prepare {
            refusal_grounds,
            note,
        } => {
            comment = note.clone();
            match refusal_grounds {
                Some(g) if g.trim().is_empty() => {
                    return Err(CaseError::BadInput(
                        "the grounds of a reasoned refusal must not be empty".into(),
                    ))
                }
                Some(g) => {
                    next.refusal_prepared = true;
                    next.refusal = Some(Refusal::ReasonedRefusal(ReasonedRefusal {
                        grounds: g.trim().to_owned(),
                        prepared_by: actor.name.clone(),
                        prepared_at: Some(now),
                        signature: None,
                    }));
                    payload["refusal"] = json!(g);
                    Outcome::ReasonedRefusalPrepared
                }
                None => {
                    next.refusal_prepared = false;
                    next.refusal = None;
                    Outcome::ResultPrepared
                }
            }
        }
        Command::Sign => {
            let signature = Signature {
                signed_by: actor.name.clone(),
                signed_at: now,
            };
            payload["signedBy"] = json!(actor.name);
            match (&case.refusal, case.refusal_prepared) {
                (Some(Refusal::ReasonedRefusal(draft)), true) => {
                    next.refusal = Some(Refusal::ReasonedRefusal(ReasonedRefusal {
                        signature: Some(signature),
                        ..draft.clone()
                    }));
                    issued.push(IssuedDocument::ReasonedRefusal);
                }
                _ => {
                    next.result = Some(ServiceResult {
                        documents: result_documents(reg),
                        signature: Some(signature),
                        issued_at: None,
                        issued_by: None,
                    });
                    issued.push(IssuedDocument::ServiceResult);
                }
            }
            Outcome::Signed
        }
        Command::ReturnToExecutor { comment: c } => {
            if c.trim().is_empty() {
                return Err(CaseError::BadInput(
                    "a comment is required when returning to the executor".into(),
                ));
            }
            payload["comment"] = json!(c);
            comment = Some(c.clone());
            Outcome::Returned
        }
        Command::Issue => Outcome::Issued,
        Command::DeliverToProvider => Outcome::Delivered,
        Command::ReceiveResult => Outcome::Received,
        Command::IssueAtCorporation => Outcome::Issued,
        Command::ReturnUncollected => match case.storage_due {
            Some(due) if now >= due => Outcome::ReturnedUncollected,
            Some(due) => return Err(CaseError::StorageNotOver(due)),
            None => {
                return Err(CaseError::InvalidTransition(
                    "no storage period is running".into(),
                ))
            }
        },
        Command::RequestRedelivery => Outcome::Requested,
        Command::Redeliver => Outcome::Redelivered,
    };

    // The step this move finishes.
    let holder = case.place.map_or(Holder::Provider, |p| p.holder);
    let started = case.step_started.unwrap_or(case.registered_at);
    let closed = ClosedStep {
        stage: case.stage,
        mailbox: case.place.map_or(Mailbox::Office, |p| p.mailbox),
        finished: now,
        on_time: case.step_due.map(|d| now <= d),
        used_minutes: ctx.time.minutes(holder, started, now),
        allowed_minutes: case
            .step_due
            .and_then(|d| ctx.time.minutes(holder, started, d)),
        outcome,
        comment,
        actor_id: actor.user_id,
        actor_name: actor.name.clone(),
    };

    // Where the case goes.
    let finished_status = if case.refusal_prepared || next.refusal_prepared {
        CaseStatus::Refused
    } else {
        CaseStatus::Completed
    };
    let mut opened = None;
    let mut go = |next: &mut CaseRecord, stop: &Stop, index: Option<usize>, status: CaseStatus| {
        let mut step = ctx.time.open(ctx.parties, stop, now)?;
        if stop.stage == Stage::CorporationIssue {
            // The result waits for the applicant: no staff deadline runs, only storage.
            step.due = None;
            step.allowed_minutes = None;
            step.risk_at = None;
        }
        enter(next, &step, index);
        if stop.stage == Stage::CorporationIssue {
            next.storage_due = Some(storage_end(reg, now));
        }
        next.status = status;
        opened = Some(step);
        Ok::<(), CaseError>(())
    };
    match command {
        Command::CompleteIntake { .. } if outcome == Outcome::RefusedAtIntake => {
            next.term_due = None;
            next.provider_due = None;
            close(&mut next, CaseStatus::RefusedAtIntake, now);
        }
        Command::ReturnToExecutor { .. } => {
            let prepare = stops
                .iter()
                .position(|s| s.stage == Stage::Prepare)
                .ok_or_else(|| {
                    CaseError::InvalidTransition("this regulation has no executor step".into())
                })?;
            go(
                &mut next,
                &stops[prepare],
                Some(prepare),
                CaseStatus::InProgress,
            )?;
        }
        Command::Issue if case.channel != Channel::StateCorporation => {
            // Issued at the office or delivered to the portal: the case ends here.
            close(&mut next, finished_status, now);
        }
        Command::IssueAtCorporation => close(&mut next, finished_status, now),
        Command::ReturnUncollected => {
            let stop = Stop {
                stage: Stage::ProviderStorage,
                mailbox: Mailbox::Office,
                holder: Holder::Provider,
                duration: None,
                step_order: None,
                leg: Some("return_to_provider"),
            };
            next.returned_unclaimed = true;
            go(&mut next, &stop, None, CaseStatus::ReturnedUnclaimed)?;
        }
        Command::RequestRedelivery => {
            let stop = Stop {
                stage: Stage::Redelivery,
                mailbox: Mailbox::Office,
                holder: Holder::Provider,
                duration: reg.corporation.as_ref().map(|c| c.redelivery.duration()),
                step_order: None,
                leg: Some("redelivery"),
            };
            go(&mut next, &stop, None, CaseStatus::Redelivery)?;
        }
        Command::Redeliver => {
            let index = stops
                .iter()
                .position(|s| s.stage == Stage::CorporationIssue)
                .ok_or_else(|| {
                    CaseError::InvalidTransition(
                        "this case has no State Corporation counter".into(),
                    )
                })?;
            go(
                &mut next,
                &stops[index],
                Some(index),
                CaseStatus::ResultReady,
            )?;
        }
        _ => {
            let i = here()?;
            if i + 1 < stops.len() {
                let stop = &stops[i + 1];
                go(&mut next, stop, Some(i + 1), status_at(stop))?;
            } else {
                close(&mut next, finished_status, now);
            }
        }
    }
    if next.stage == Stage::Closed {
        payload["closed"] = json!(next.status.as_str());
    }
    if let Some(s) = &opened {
        payload["to"] = json!(s.stop.stage.as_str());
        payload["due"] = json!(s.due.map(|d| d.to_rfc3339()));
    }

    // The result reaches the applicant's channel: issued at the office or on the portal, or
    // arrived at the State Corporation counter (the first time; a redelivery is not a result).
    let delivered = case.delivery.is_none()
        && match command {
            Command::Issue => next.stage == Stage::Closed || next.stage == Stage::CorporationIssue,
            Command::ReceiveResult => next.stage == Stage::CorporationIssue,
            _ => false,
        };
    if delivered {
        next.delivery = Some(Delivery {
            at: now,
            on_time: case.term_due.is_none_or(|t| now <= t),
            working_days: ctx
                .time
                .provider
                .elapsed(case.registered_at, now)
                .ok()
                .map(|e| e.working_days),
        });
    }
    if next.stage == Stage::Closed
        && matches!(command, Command::Issue | Command::IssueAtCorporation)
    {
        if let Some(r) = &mut next.result {
            // Handed to the applicant (at the office, on the portal or at the counter).
            r.issued_at = Some(now);
            r.issued_by = Some(actor.name.clone());
        }
    }
    let notice_kind = match command {
        Command::CompleteIntake { .. } if outcome == Outcome::RefusedAtIntake => {
            Some(NoticeKind::Refused)
        }
        // A State Corporation application was registered at the counter and told so there.
        Command::CompleteIntake { .. } if case.channel == Channel::Portal => {
            Some(NoticeKind::Registered)
        }
        Command::ReturnUncollected => Some(NoticeKind::ReturnedToProvider),
        _ if delivered && next.refusal_prepared => Some(NoticeKind::Refused),
        _ if delivered => Some(NoticeKind::ResultReady),
        _ => None,
    };
    Ok(Transition {
        closed: Some(closed),
        created_step: None,
        opened,
        notice: notice_kind.map(|k| notice(k, &next)),
        case: next,
        issued,
        event: Event {
            kind: action.name(),
            payload,
        },
    })
}

/// The regulation's result documents a signed result carries (the receipt is not a result).
pub fn result_documents(reg: &Regulation) -> Vec<String> {
    let issued: Vec<String> = reg
        .steps
        .iter()
        .flat_map(|s| s.issues.iter().cloned())
        .filter(|d| d != "receipt")
        .collect();
    if issued.is_empty() {
        reg.results.iter().map(|r| r.code.clone()).collect()
    } else {
        issued
    }
}

/// When storage at the counter ends for a result that arrived at `from`.
pub fn storage_end(reg: &Regulation, from: DateTime<Utc>) -> DateTime<Utc> {
    from.checked_add_months(Months::new(storage_months(reg)))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::WorkingCalendar;
    use crate::deadline::WorkingHours;
    use crate::regulation::BUNDLED_REGULATIONS;
    use std::sync::OnceLock;

    fn calendar() -> &'static WorkingCalendar {
        static C: OnceLock<WorkingCalendar> = OnceLock::new();
        C.get_or_init(|| WorkingCalendar::from_toml(crate::BUNDLED_CALENDAR, 1).expect("compiles"))
    }

    fn reg(code: &str) -> Regulation {
        let (f, t) = BUNDLED_REGULATIONS
            .iter()
            .find(|(f, _)| f.contains(code))
            .expect("bundled");
        Regulation::parse(f, t).expect("valid")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn org(id: i64, code: &str, region: &str, kind: &str) -> Org {
        Org {
            id,
            code: code.into(),
            region: region.into(),
            kind: kind.into(),
        }
    }

    fn parties(region: &str, kind: &str) -> Parties {
        Parties {
            provider: org(1, "provider", region, kind),
            corporation: Some(org(2, "branch", region, "STATE_CORPORATION")),
        }
    }

    fn time() -> WorkingTime<'static> {
        let tz: chrono_tz::Tz = "Asia/Atyrau".parse().expect("zone");
        WorkingTime {
            provider: WorkingClock::new(calendar(), WorkingHours::provider_default(), tz),
            corporation: Some(WorkingClock::new(
                calendar(),
                WorkingHours::corporation_default(),
                tz,
            )),
        }
    }

    fn staff(id: i64, role: Role, org: i64) -> Actor {
        Actor {
            user_id: Some(id),
            name: format!("user{id}"),
            role,
            organisation_id: Some(org),
            iin: None,
        }
    }

    fn application() -> Application {
        Application {
            applicant: Applicant {
                iin: "850305400120".into(),
                full_name: "Айгүл Серікқызы".into(),
            },
            documents: vec![SubmittedDocument {
                name: "application".into(),
                provided: true,
                expired: false,
            }],
            attributes: Attributes::new(),
            applies_to: None,
        }
    }

    struct World {
        reg: Regulation,
        parties: Parties,
        time: WorkingTime<'static>,
    }

    impl World {
        fn atyrau() -> World {
            World {
                reg: reg("atyrau-teacher-attestation-intake"),
                parties: parties("atyrau", "EDUCATION_DEPARTMENT"),
                time: time(),
            }
        }

        fn ctx(&self, now: DateTime<Utc>) -> Context<'_> {
            Context {
                regulation: &self.reg,
                regulation_version: 2,
                parties: &self.parties,
                time: &self.time,
                now,
            }
        }
    }

    const CLERK: i64 = 10;
    const HEAD: i64 = 11;
    const EXECUTOR: i64 = 12;
    const OPERATOR: i64 = 20;

    fn executor_ref() -> StaffRef {
        StaffRef {
            id: EXECUTOR,
            name: "user12".into(),
            role: Role::Executor,
            organisation_id: Some(1),
            active: true,
        }
    }

    #[test]
    fn given_atyrau_via_the_state_corporation_when_accepted_then_the_courier_leg_is_inside_step_5()
    {
        // Given: accepted at the counter on Monday 15 September 2025, 10:00 local (UTC+5).
        let w = World::atyrau();
        let operator = staff(OPERATOR, Role::CorporationOperator, 2);
        let t = decide_intake(
            &w.ctx(at("2025-09-15T10:00:00+05:00")),
            Channel::StateCorporation,
            &application(),
            &operator,
            NaiveDate::from_ymd_opt(2025, 9, 15).expect("date"),
        )
        .expect("accepted");
        // Then, by hand: courier to the provider 1 working day (Tue 16th 18:00, branch hours);
        // intake 15 min (Tue 18:15); resolution 30 min (Wed 17th 09:15); preparation 2 working
        // days (Fri 19th 18:30); signature 30 min (Mon 22nd 09:30); step 5, registered and
        // sent by courier, 1 working day (Tue 23rd 18:30). No second day for the courier.
        assert_eq!(t.case.term_due, Some(at("2025-09-23T18:30:00+05:00")));
        let receipt = t.case.receipt.as_ref().expect("a receipt at the counter");
        assert_eq!(receipt.legal_result_date, t.case.term_due);
        assert_eq!(receipt.accepted_by, "user20");
        assert_eq!(receipt.accepted_organisation, "branch");
        assert_eq!(receipt.documents, ["application"]);
        let stages: Vec<Stage> = route(&w.reg, Channel::StateCorporation, &t.case.attributes)
            .expect("route")
            .iter()
            .map(|s| s.stage)
            .collect();
        assert!(!stages.contains(&Stage::ResultBack), "{stages:?}");
    }

    /// Drives a case through `steps` commands, each at `now` + one minute.
    fn run(
        w: &World,
        mut case: CaseRecord,
        steps: &[(Command, Actor)],
        now: &mut DateTime<Utc>,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        for (cmd, actor) in steps {
            *now += chrono::Duration::minutes(1);
            let t =
                decide(&w.ctx(*now), &case, cmd, actor).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            case = t.case.clone();
            out.push(t);
        }
        out
    }

    #[test]
    fn given_a_state_corporation_receipt_when_the_office_registers_then_the_receipt_never_changes()
    {
        let w = World::atyrau();
        let mut now = at("2025-09-15T10:00:00+05:00");
        let t0 = decide_intake(
            &w.ctx(now),
            Channel::StateCorporation,
            &application(),
            &staff(OPERATOR, Role::CorporationOperator, 2),
            now.date_naive(),
        )
        .expect("accepted")
        .numbered("KZ23-20250915-0000001".into());
        let receipt = t0.case.receipt.clone();
        let steps = run(
            &w,
            t0.case,
            &[
                (
                    Command::DeliverToProvider,
                    staff(OPERATOR, Role::CorporationOperator, 2),
                ),
                (
                    Command::CompleteIntake {
                        missing: vec![],
                        expired: vec![],
                    },
                    staff(CLERK, Role::OfficeClerk, 1),
                ),
            ],
            &mut now,
        );
        let after = &steps[1].case;
        // Then the receipt is the counter's, unchanged; the registration is its own record.
        assert_eq!(after.receipt, receipt);
        let reg = after.registration.as_ref().expect("registered");
        assert_eq!(reg.registered_by, "user10");
        assert_eq!(reg.organisation, "provider");
        assert_eq!(steps[1].issued, [IssuedDocument::Registration]);
        assert_eq!(steps[1].notice, None, "told at the counter already");
    }

    #[test]
    fn given_a_result_at_the_counter_then_waiting_for_the_applicant_is_not_staff_time() {
        let w = World::atyrau();
        let mut now = at("2025-09-15T10:00:00+05:00");
        let operator = staff(OPERATOR, Role::CorporationOperator, 2);
        let t0 = decide_intake(
            &w.ctx(now),
            Channel::StateCorporation,
            &application(),
            &operator,
            now.date_naive(),
        )
        .expect("accepted");
        let steps = run(
            &w,
            t0.case,
            &[
                (Command::DeliverToProvider, operator.clone()),
                (
                    Command::CompleteIntake {
                        missing: vec![],
                        expired: vec![],
                    },
                    staff(CLERK, Role::OfficeClerk, 1),
                ),
                (
                    Command::AssignExecutor {
                        name: "user12".into(),
                        executor: Some(executor_ref()),
                    },
                    staff(HEAD, Role::Head, 1),
                ),
                (
                    Command::Prepare {
                        refusal_grounds: None,
                        note: Some("ready".into()),
                    },
                    staff(EXECUTOR, Role::Executor, 1),
                ),
                (Command::Sign, staff(HEAD, Role::Head, 1)),
                (Command::Issue, staff(CLERK, Role::OfficeClerk, 1)),
            ],
            &mut now,
        );
        let issued = steps.last().expect("steps");
        // Step 5 hands the result to the counter directly (the courier is inside it).
        assert_eq!(issued.case.stage, Stage::CorporationIssue);
        assert_eq!(issued.case.status, CaseStatus::ResultReady);
        assert!(issued.case.delivery.is_some_and(|d| d.on_time));
        assert_eq!(
            issued.notice.as_ref().map(|n| n.kind),
            Some(NoticeKind::ResultReady)
        );
        // The wait at the counter has no staff due time; storage ends a month later.
        let waiting = issued.opened.as_ref().expect("the counter stop");
        assert_eq!(waiting.due, None);
        assert_eq!(waiting.allowed_minutes, None);
        assert_eq!(issued.case.step_due, None);
        let storage = issued.case.storage_due.expect("storage runs");
        // When: two months later the operator returns it; the closed wait is neither late nor
        // on time.
        let mut later = storage + chrono::Duration::days(30);
        let back = run(
            &w,
            issued.case.clone(),
            &[(Command::ReturnUncollected, operator)],
            &mut later,
        );
        let closed = back[0].closed.as_ref().expect("closed");
        assert_eq!(closed.on_time, None);
        assert_eq!(closed.allowed_minutes, None);
        assert_eq!(back[0].case.status, CaseStatus::ReturnedUnclaimed);
        assert!(back[0].case.returned_unclaimed);
        assert_eq!(
            back[0].notice.as_ref().map(|n| n.kind),
            Some(NoticeKind::ReturnedToProvider)
        );
    }

    #[test]
    fn given_an_uncollected_result_when_returned_before_storage_ends_then_it_is_refused() {
        let w = World::atyrau();
        let now = at("2025-09-15T10:00:00+05:00");
        let mut case = decide_intake(
            &w.ctx(now),
            Channel::StateCorporation,
            &application(),
            &staff(OPERATOR, Role::CorporationOperator, 2),
            now.date_naive(),
        )
        .expect("accepted")
        .case;
        case.stage = Stage::CorporationIssue;
        case.status = CaseStatus::ResultReady;
        case.place = Some(Place {
            holder: Holder::Corporation,
            mailbox: Mailbox::Corporation,
        });
        case.storage_due = Some(now + chrono::Duration::days(3));
        let operator = staff(OPERATOR, Role::CorporationOperator, 2);
        assert!(matches!(
            decide(&w.ctx(now), &case, &Command::ReturnUncollected, &operator),
            Err(CaseError::StorageNotOver(_))
        ));
        let actions = available_actions(&case, &w.parties, &w.reg, &operator);
        let names: Vec<Action> = actions.iter().map(|a| a.action).collect();
        assert_eq!(
            names,
            [Action::IssueAtCorporation, Action::ReturnUncollected]
        );
        assert_eq!(actions[1].not_before, case.storage_due);
    }

    #[test]
    fn given_a_case_in_the_heads_mailbox_then_only_the_head_may_act_and_only_at_its_stage() {
        let w = World::atyrau();
        let now = at("2025-09-15T10:00:00+05:00");
        let clerk = staff(CLERK, Role::OfficeClerk, 1);
        let case = decide_intake(
            &w.ctx(now),
            Channel::ProviderOffice,
            &application(),
            &clerk,
            now.date_naive(),
        )
        .expect("registered")
        .case;
        assert_eq!(case.stage, Stage::Resolution);
        let head = staff(HEAD, Role::Head, 1);
        let other_head = staff(99, Role::Head, 7);
        assert_eq!(
            available_actions(&case, &w.parties, &w.reg, &head)
                .iter()
                .map(|a| a.action)
                .collect::<Vec<_>>(),
            [Action::AssignExecutor]
        );
        assert!(available_actions(&case, &w.parties, &w.reg, &clerk).is_empty());
        assert_eq!(
            decide(&w.ctx(now), &case, &Command::Sign, &clerk),
            Err(CaseError::NotYourTurn)
        );
        assert_eq!(
            decide(&w.ctx(now), &case, &Command::Sign, &other_head),
            Err(CaseError::NotYourTurn)
        );
        assert!(matches!(
            decide(&w.ctx(now), &case, &Command::Sign, &head),
            Err(CaseError::InvalidTransition(_))
        ));
        // An executor of another organisation cannot be assigned.
        let mut stranger = executor_ref();
        stranger.organisation_id = Some(7);
        assert!(matches!(
            decide(
                &w.ctx(now),
                &case,
                &Command::AssignExecutor {
                    name: "x".into(),
                    executor: Some(stranger)
                },
                &head
            ),
            Err(CaseError::BadInput(_))
        ));
    }

    #[test]
    fn given_a_reasoned_refusal_when_prepared_then_it_is_a_draft_until_the_head_signs() {
        let w = World::atyrau();
        let mut now = at("2025-09-15T10:00:00+05:00");
        let clerk = staff(CLERK, Role::OfficeClerk, 1);
        let case = decide_intake(
            &w.ctx(now),
            Channel::ProviderOffice,
            &application(),
            &clerk,
            now.date_naive(),
        )
        .expect("registered")
        .case;
        let steps = run(
            &w,
            case,
            &[
                (
                    Command::AssignExecutor {
                        name: "user12".into(),
                        executor: Some(executor_ref()),
                    },
                    staff(HEAD, Role::Head, 1),
                ),
                (
                    Command::Prepare {
                        refusal_grounds: Some("para 10 of the Standard".into()),
                        note: None,
                    },
                    staff(EXECUTOR, Role::Executor, 1),
                ),
                (Command::Sign, staff(HEAD, Role::Head, 1)),
                (Command::Issue, clerk.clone()),
            ],
            &mut now,
        );
        match &steps[1].case.refusal {
            Some(Refusal::ReasonedRefusal(r)) => assert_eq!(r.signature, None),
            other => panic!("{other:?}"),
        }
        assert_eq!(steps[2].issued, [IssuedDocument::ReasonedRefusal]);
        match &steps[2].case.refusal {
            Some(Refusal::ReasonedRefusal(r)) => {
                assert_eq!(
                    r.signature.as_ref().map(|s| s.signed_by.as_str()),
                    Some("user11")
                )
            }
            other => panic!("{other:?}"),
        }
        let last = &steps[3];
        assert_eq!(last.case.status, CaseStatus::Refused);
        assert_eq!(
            last.notice.as_ref().map(|n| n.kind),
            Some(NoticeKind::Refused)
        );
        assert_eq!(last.case.result, None);
    }

    #[test]
    fn given_an_application_with_bad_input_then_it_is_refused_with_what_is_allowed() {
        let w = World::atyrau();
        let now = at("2025-09-15T10:00:00+05:00");
        let clerk = staff(CLERK, Role::OfficeClerk, 1);
        let date = now.date_naive();
        let mut a = application();
        a.attributes.insert("location".into(), "Elsewhere".into());
        match decide_intake(&w.ctx(now), Channel::ProviderOffice, &a, &clerk, date) {
            Err(CaseError::BadInput(m)) => assert!(m.contains("local, elsewhere"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut a = application();
        a.attributes.insert("colour".into(), "red".into());
        assert!(matches!(
            decide_intake(&w.ctx(now), Channel::ProviderOffice, &a, &clerk, date),
            Err(CaseError::BadInput(_))
        ));
        let mut a = application();
        a.documents.clear();
        assert!(matches!(
            decide_intake(&w.ctx(now), Channel::ProviderOffice, &a, &clerk, date),
            Err(CaseError::BadInput(_))
        ));
        // A declared value changes the executor's time; the default is filled in.
        let mut a = application();
        a.attributes.insert("location".into(), "elsewhere".into());
        let far = decide_intake(&w.ctx(now), Channel::ProviderOffice, &a, &clerk, date)
            .expect("registered");
        let near = decide_intake(
            &w.ctx(now),
            Channel::ProviderOffice,
            &application(),
            &clerk,
            date,
        )
        .expect("registered");
        assert_eq!(
            near.case.attributes.get("location").map(String::as_str),
            Some("local")
        );
        assert!(far.case.term_due > near.case.term_due);
    }

    #[test]
    fn given_missing_documents_at_the_office_then_a_refusal_receipt_names_them() {
        let w = World::atyrau();
        let now = at("2025-09-15T10:00:00+05:00");
        let mut a = application();
        a.documents.push(SubmittedDocument {
            name: "diploma".into(),
            provided: false,
            expired: false,
        });
        let t = decide_intake(
            &w.ctx(now),
            Channel::ProviderOffice,
            &a,
            &staff(CLERK, Role::OfficeClerk, 1),
            now.date_naive(),
        )
        .expect("decided");
        assert_eq!(t.case.status, CaseStatus::RefusedAtIntake);
        assert_eq!(t.case.receipt, None);
        match &t.case.refusal {
            Some(Refusal::IntakeRefusal(r)) => assert_eq!(r.missing, ["diploma"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.notice.as_ref().map(|n| n.kind), Some(NoticeKind::Refused));
        assert_eq!(
            t.closed.as_ref().map(|c| c.outcome),
            Some(Outcome::RefusedAtIntake)
        );
    }

    #[test]
    fn given_a_portal_submission_then_only_the_named_applicant_may_submit() {
        let w = World {
            reg: reg("mangystau-school-admission"),
            parties: Parties {
                provider: org(1, "school", "mangystau", "SCHOOL"),
                corporation: None,
            },
            time: time(),
        };
        let now = at("2025-06-02T10:00:00+05:00");
        let me = Actor {
            user_id: None,
            name: "applicant:1".into(),
            role: Role::Applicant,
            organisation_id: None,
            iin: Some("901122600340".into()),
        };
        let mut a = application();
        a.applies_to = None;
        let r = decide_intake(&w.ctx(now), Channel::Portal, &a, &me, now.date_naive());
        assert_eq!(r.err(), Some(CaseError::IinMismatch));
    }
}
