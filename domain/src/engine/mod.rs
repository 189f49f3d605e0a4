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
//! - [`intake`]: an application becomes a case;
//! - [`decide`]: a command moves a case;
//! - [`time`]: the working time of the provider and the State Corporation branch.
//!
//! Who may act is decided here too ([`may_act`], [`available_actions`]), so the API tells each
//! caller exactly what the engine will accept.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::case::{
    route, Action, Attributes, CaseError, CaseStatus, Holder, Stage, Stop, ALL_ACTIONS,
};
use crate::documents::{Receipt, Refusal, Registration, ServiceResult};
use crate::identity::Role;
use crate::regulation::{Channel, Mailbox, RefusalCode, RefusedBy, Regulation};

mod decide;
mod intake;
#[cfg(test)]
mod tests;
mod time;

pub use decide::{decide, result_documents, storage_end};
pub use intake::{attributes, decide_intake, registration_number};
pub use time::{bound, WorkingTime};

/// Who refuses at a stop held by `holder`.
pub fn refused_by(holder: Holder) -> crate::regulation::RefusedBy {
    match holder {
        Holder::Provider => crate::regulation::RefusedBy::Provider,
        Holder::Corporation => crate::regulation::RefusedBy::StateCorporation,
    }
}

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

    /// Every outcome.
    pub const ALL: [Outcome; 13] = [
        Outcome::Accepted,
        Outcome::RefusedAtIntake,
        Outcome::Assigned,
        Outcome::ResultPrepared,
        Outcome::ReasonedRefusalPrepared,
        Outcome::Signed,
        Outcome::Returned,
        Outcome::Issued,
        Outcome::Delivered,
        Outcome::Received,
        Outcome::ReturnedUncollected,
        Outcome::Requested,
        Outcome::Redelivered,
    ];

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
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
    /// The refusal the act provides with this action (an intake refusal when registering, a
    /// reasoned refusal when preparing the result); none: the action cannot refuse.
    pub refusal: Option<crate::regulation::RefusalKind>,
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
            refusal: match action {
                Action::CompleteIntake => crate::refusal::offered(
                    reg,
                    RefusalCode::IntakeRefusal,
                    case.channel,
                    RefusedBy::Provider,
                ),
                Action::PrepareResult => crate::refusal::offered(
                    reg,
                    RefusalCode::ReasonedRefusal,
                    case.channel,
                    RefusedBy::Provider,
                ),
                _ => None,
            },
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

/// Puts the case at a newly opened stop.
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

/// Closes the case with `status`.
fn close(case: &mut CaseRecord, status: CaseStatus, now: DateTime<Utc>) {
    case.status = status;
    case.stage = Stage::Closed;
    case.route_index = None;
    case.place = None;
    case.step_due = None;
    case.storage_due = None;
    case.closed_at = Some(now);
}
