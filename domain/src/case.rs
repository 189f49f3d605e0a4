//! The life of a case, generic over its pinned regulation: which stops it passes through on
//! each channel, and which command is allowed where. Pure: time is passed in.
//!
//! A case is created by intake (at the provider's office, at the State Corporation counter, or
//! by submission on the portal) and then travels the stops of its [`route`]. Each command
//! completes the stop the case is at and moves it on ([`decide`]). After the route, a State
//! Corporation case waits at the counter; a result not collected within the storage period goes
//! back to the provider ([`Stage::ProviderStorage`]) and returns on request ([`Stage::Redelivery`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::regulation::{Channel, DurationSpec, Mailbox, Regulation, Step, StepKind};

/// Where a case stands overall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseStatus {
    /// Submitted on the portal, waiting for the office to register it.
    Submitted,
    /// Registered and moving through the provider's (or the courier's) hands.
    InProgress,
    /// The result waits at the State Corporation counter for the applicant.
    ResultReady,
    /// The result was issued.
    Completed,
    /// Refused at intake (incomplete or expired documents): a refusal receipt was issued.
    RefusedAtIntake,
    /// A reasoned refusal (дәлелді жауап) was issued.
    Refused,
    /// Not collected within the storage period: returned to the provider for storage.
    ReturnedUnclaimed,
    /// Requested back from the provider's storage by the State Corporation.
    Redelivery,
}

impl CaseStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Submitted => "SUBMITTED",
            CaseStatus::InProgress => "IN_PROGRESS",
            CaseStatus::ResultReady => "RESULT_READY",
            CaseStatus::Completed => "COMPLETED",
            CaseStatus::RefusedAtIntake => "REFUSED_AT_INTAKE",
            CaseStatus::Refused => "REFUSED",
            CaseStatus::ReturnedUnclaimed => "RETURNED_UNCLAIMED",
            CaseStatus::Redelivery => "REDELIVERY",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<CaseStatus> {
        ALL_STATUSES.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the case is finished (nothing more will happen unless it is in storage).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            CaseStatus::Completed | CaseStatus::RefusedAtIntake | CaseStatus::Refused
        )
    }
}

/// Every status, in their order.
pub const ALL_STATUSES: [CaseStatus; 8] = [
    CaseStatus::Submitted,
    CaseStatus::InProgress,
    CaseStatus::ResultReady,
    CaseStatus::Completed,
    CaseStatus::RefusedAtIntake,
    CaseStatus::Refused,
    CaseStatus::ReturnedUnclaimed,
    CaseStatus::Redelivery,
];

/// What the case waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Stage {
    /// The provider accepts and registers the documents.
    Intake,
    /// The head assigns an executor.
    Resolution,
    /// The executor prepares the result or a reasoned refusal.
    Prepare,
    /// The head signs or returns it.
    Sign,
    /// The office issues the result (or hands it to the courier).
    Issue,
    /// The courier carries the documents to the provider.
    CorporationTransfer,
    /// The courier carries the result back to the State Corporation.
    ResultBack,
    /// The result waits at the counter for the applicant.
    CorporationIssue,
    /// Uncollected, stored at the provider.
    ProviderStorage,
    /// The provider sends a stored result back to the State Corporation on request.
    Redelivery,
    /// Nothing more: the case is closed.
    Closed,
}

impl Stage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Intake => "INTAKE",
            Stage::Resolution => "RESOLUTION",
            Stage::Prepare => "PREPARE",
            Stage::Sign => "SIGN",
            Stage::Issue => "ISSUE",
            Stage::CorporationTransfer => "CORPORATION_TRANSFER",
            Stage::ResultBack => "RESULT_BACK",
            Stage::CorporationIssue => "CORPORATION_ISSUE",
            Stage::ProviderStorage => "PROVIDER_STORAGE",
            Stage::Redelivery => "REDELIVERY",
            Stage::Closed => "CLOSED",
        }
    }

    /// Every stage, in the order of a case's life.
    pub const ALL: [Stage; 11] = [
        Stage::Intake,
        Stage::Resolution,
        Stage::Prepare,
        Stage::Sign,
        Stage::Issue,
        Stage::CorporationTransfer,
        Stage::ResultBack,
        Stage::CorporationIssue,
        Stage::ProviderStorage,
        Stage::Redelivery,
        Stage::Closed,
    ];

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn of(kind: StepKind) -> Stage {
        match kind {
            StepKind::Intake => Stage::Intake,
            StepKind::Resolution => Stage::Resolution,
            StepKind::Prepare => Stage::Prepare,
            StepKind::Sign => Stage::Sign,
            StepKind::Issue => Stage::Issue,
            StepKind::CorporationTransfer => Stage::CorporationTransfer,
            StepKind::CorporationIssue => Stage::CorporationIssue,
            // Done at creation; never a stop of the route.
            StepKind::CorporationIntake => Stage::Intake,
        }
    }
}

/// Whose mailbox a stop sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Holder {
    /// The provider organisation.
    Provider,
    /// The State Corporation branch.
    Corporation,
}

/// One stop of a case's route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// What the case waits for there.
    pub stage: Stage,
    /// The mailbox.
    pub mailbox: Mailbox,
    /// Whose mailbox.
    pub holder: Holder,
    /// The legal duration of the stop (for the counter: see [`storage_months`]).
    pub duration: Option<DurationSpec>,
    /// The regulation step it implements, if any.
    pub step_order: Option<u32>,
    /// The State Corporation leg it implements, if any.
    pub leg: Option<&'static str>,
}

/// Why a case cannot be created or moved. Each has a stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The regulation does not accept applications on this channel.
    #[error("this regulation does not accept applications through {0:?}")]
    ChannelNotAllowed(Channel),
    /// The command does not fit where the case is.
    #[error("{0}")]
    InvalidTransition(String),
    /// An uncollected result may go back only after the storage period.
    #[error("the result may go back to the provider only after {0}")]
    StorageNotOver(DateTime<Utc>),
    /// It is not the caller's turn: the case is not in their mailbox, or not assigned to them.
    #[error("it is not your turn to act on this case")]
    NotYourTurn,
    /// The input breaks a rule of the regulation.
    #[error("{0}")]
    BadInput(String),
    /// The regulation's acceptance window is closed.
    #[error("{0}")]
    OutsideWindow(String),
    /// A portal application names another person's IIN.
    #[error("the application's IIN is not the signed-in applicant's")]
    IinMismatch,
    /// A refusal the pinned regulation does not provide there, or not on these grounds; the
    /// message names what the act allows.
    #[error("{0}")]
    RefusalNotProvided(String),
    /// A due time cannot be computed (e.g. the calendar does not cover it).
    #[error("{0}")]
    Deadline(#[from] crate::deadline::DeadlineError),
}

impl CaseError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CaseError::ChannelNotAllowed(_) => "CHANNEL_NOT_ALLOWED",
            CaseError::InvalidTransition(_) | CaseError::StorageNotOver(_) => "INVALID_TRANSITION",
            CaseError::NotYourTurn => "FORBIDDEN",
            CaseError::BadInput(_) => "BAD_USER_INPUT",
            CaseError::OutsideWindow(_) => "OUTSIDE_ACCEPTANCE_WINDOW",
            CaseError::IinMismatch => "IIN_MISMATCH",
            CaseError::RefusalNotProvided(_) => "REFUSAL_NOT_PROVIDED",
            CaseError::Deadline(e) => e.code(),
        }
    }
}

impl From<crate::refusal::NotProvided> for CaseError {
    fn from(e: crate::refusal::NotProvided) -> CaseError {
        CaseError::RefusalNotProvided(e.0)
    }
}

/// Attributes of an application that regulations may depend on (e.g. `location`).
pub type Attributes = BTreeMap<String, String>;

/// A case's whole path on a channel, as a client draws it: the stop where the application is
/// accepted (registered at once at the office or the counter), then the route. A portal
/// application has no such stop: its route starts with the office's registration.
pub fn path(
    reg: &Regulation,
    channel: Channel,
    attrs: &Attributes,
) -> Result<Vec<Stop>, CaseError> {
    let mut stops: Vec<Stop> = creation_stop(reg, channel, attrs)?.into_iter().collect();
    stops.extend(route(reg, channel, attrs)?);
    Ok(stops)
}

/// Where a case at `route_index` of its route stands on its [`path`]; `None` off the route
/// (closed, or in storage at the provider).
pub fn path_position(
    reg: &Regulation,
    channel: Channel,
    attrs: &Attributes,
    route_index: Option<usize>,
) -> Option<usize> {
    let intake = usize::from(creation_stop(reg, channel, attrs).ok()?.is_some());
    route_index.map(|i| i + intake)
}

/// What a stop produces, in English, and the result documents it issues (`results[].code`):
/// the regulation step's stated output, or what a State Corporation leg hands on.
pub fn stop_output(reg: &Regulation, stop: &Stop) -> (String, Vec<String>) {
    if let Some(step) = stop
        .step_order
        .and_then(|o| reg.steps.iter().find(|s| s.order == o))
    {
        return (step.output_en.clone(), step.issues.clone());
    }
    (
        stop.leg.map(leg_output).unwrap_or_default().to_owned(),
        Vec::new(),
    )
}

/// What a State Corporation leg hands on (English; `language::text` gives the others).
pub fn leg_output(leg: &str) -> &'static str {
    match leg {
        "intake" => "the documents accepted at the counter with a receipt, or a refusal receipt",
        "transfer_to_provider" => "the documents delivered to the provider's office",
        "result_back" => "the result delivered to the State Corporation",
        "issue" => "the result handed to the applicant at the counter",
        _ => "",
    }
}

fn step_stop(step: &Step, attrs: &Attributes) -> Stop {
    Stop {
        stage: Stage::of(step.kind),
        mailbox: step.mailbox,
        holder: if step.mailbox == Mailbox::Corporation {
            Holder::Corporation
        } else {
            Holder::Provider
        },
        duration: Some(step.duration_for(|a| attrs.get(a).cloned())),
        step_order: Some(step.order),
        leg: None,
    }
}

fn leg_stop(stage: Stage, leg: &'static str, duration: Option<DurationSpec>) -> Stop {
    Stop {
        stage,
        mailbox: Mailbox::Corporation,
        holder: Holder::Corporation,
        duration,
        step_order: None,
        leg: Some(leg),
    }
}

/// What intake does at creation, on each channel: the stop completed by creating the case
/// (`None` for a portal submission, which the office registers later).
pub fn creation_stop(
    reg: &Regulation,
    channel: Channel,
    attrs: &Attributes,
) -> Result<Option<Stop>, CaseError> {
    if !reg.accepts(channel) {
        return Err(CaseError::ChannelNotAllowed(channel));
    }
    Ok(match channel {
        Channel::ProviderOffice => reg.step(StepKind::Intake).map(|s| step_stop(s, attrs)),
        Channel::Portal => None,
        Channel::StateCorporation => Some(match reg.step(StepKind::CorporationIntake) {
            Some(s) => step_stop(s, attrs),
            None => {
                let intake = reg.corporation.as_ref().and_then(|c| c.intake.duration());
                Stop {
                    stage: Stage::Intake,
                    mailbox: Mailbox::Corporation,
                    holder: Holder::Corporation,
                    duration: intake,
                    step_order: None,
                    leg: Some("intake"),
                }
            }
        }),
    })
}

/// The stops after creation, in order, for a case on `channel`.
pub fn route(
    reg: &Regulation,
    channel: Channel,
    attrs: &Attributes,
) -> Result<Vec<Stop>, CaseError> {
    if !reg.accepts(channel) {
        return Err(CaseError::ChannelNotAllowed(channel));
    }
    let provider_steps = reg.steps.iter().filter(|s| {
        !matches!(
            s.kind,
            StepKind::CorporationIntake
                | StepKind::CorporationTransfer
                | StepKind::CorporationIssue
        )
    });
    let mut stops = Vec::new();
    match channel {
        Channel::ProviderOffice => {
            stops.extend(
                provider_steps
                    .filter(|s| s.kind != StepKind::Intake)
                    .map(|s| step_stop(s, attrs)),
            );
        }
        Channel::Portal => stops.extend(provider_steps.map(|s| step_stop(s, attrs))),
        Channel::StateCorporation => {
            let legs = reg.corporation.as_ref();
            match (reg.step(StepKind::CorporationTransfer), legs) {
                (Some(s), _) => stops.push(step_stop(s, attrs)),
                (None, Some(l)) => stops.push(leg_stop(
                    Stage::CorporationTransfer,
                    "transfer_to_provider",
                    l.transfer_to_provider.duration(),
                )),
                (None, None) => {}
            }
            stops.extend(provider_steps.map(|s| step_stop(s, attrs)));
            match (reg.step(StepKind::CorporationIssue), legs) {
                // The act's own last step issues at the counter; its office step carried the result back.
                (Some(s), _) => stops.push(step_stop(s, attrs)),
                (None, Some(l)) => {
                    // A leg the act puts inside its issue step adds no stop of its own.
                    if l.result_back.within_step.is_none() {
                        stops.push(leg_stop(
                            Stage::ResultBack,
                            "result_back",
                            l.result_back.duration(),
                        ));
                    }
                    let mut counter =
                        leg_stop(Stage::CorporationIssue, "issue", l.issue.duration());
                    counter.duration = None;
                    stops.push(counter);
                }
                (None, None) => {}
            }
        }
    }
    // At the counter the case waits for the applicant: its due time is the end of storage.
    for s in &mut stops {
        if s.stage == Stage::CorporationIssue {
            s.duration = None;
        }
    }
    Ok(stops)
}

/// Months a result waits at the State Corporation counter before going back to the provider.
pub fn storage_months(reg: &Regulation) -> u32 {
    reg.corporation.as_ref().map_or(1, |c| c.storage_months)
}

/// What can be done to a case, without what it carries (the engine's `Command` carries it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The office registers a submitted or delivered application; incomplete documents refuse it.
    CompleteIntake,
    /// The head assigns an executor.
    AssignExecutor,
    /// The executor prepares the result or a reasoned refusal.
    PrepareResult,
    /// The head signs.
    SignResult,
    /// The head returns the draft to the executor.
    ReturnToExecutor,
    /// The office issues the result (or hands it to the courier).
    IssueResult,
    /// The courier delivers the documents to the provider.
    DeliverToProvider,
    /// The State Corporation receives the result from the courier.
    ReceiveResult,
    /// The operator issues the result on presentation.
    IssueAtCorporation,
    /// An uncollected result goes back to the provider for storage.
    ReturnUncollected,
    /// The State Corporation asks for a stored result back.
    RequestRedelivery,
    /// The provider sends the stored result back.
    Redeliver,
}

/// Every action, in life-cycle order.
pub const ALL_ACTIONS: [Action; 12] = [
    Action::CompleteIntake,
    Action::AssignExecutor,
    Action::PrepareResult,
    Action::SignResult,
    Action::ReturnToExecutor,
    Action::IssueResult,
    Action::DeliverToProvider,
    Action::ReceiveResult,
    Action::IssueAtCorporation,
    Action::ReturnUncollected,
    Action::RequestRedelivery,
    Action::Redeliver,
];

impl Action {
    /// A stable name for events and errors.
    pub fn name(self) -> &'static str {
        match self {
            Action::CompleteIntake => "COMPLETE_INTAKE",
            Action::AssignExecutor => "ASSIGN_EXECUTOR",
            Action::PrepareResult => "PREPARE_RESULT",
            Action::SignResult => "SIGN_RESULT",
            Action::ReturnToExecutor => "RETURN_TO_EXECUTOR",
            Action::IssueResult => "ISSUE_RESULT",
            Action::DeliverToProvider => "DELIVER_TO_PROVIDER",
            Action::ReceiveResult => "RECEIVE_RESULT",
            Action::IssueAtCorporation => "ISSUE_AT_CORPORATION",
            Action::ReturnUncollected => "RETURN_UNCOLLECTED",
            Action::RequestRedelivery => "REQUEST_REDELIVERY",
            Action::Redeliver => "REDELIVER",
        }
    }

    /// The stage the action acts on.
    pub fn stage(self) -> Stage {
        match self {
            Action::CompleteIntake => Stage::Intake,
            Action::AssignExecutor => Stage::Resolution,
            Action::PrepareResult => Stage::Prepare,
            Action::SignResult | Action::ReturnToExecutor => Stage::Sign,
            Action::IssueResult => Stage::Issue,
            Action::DeliverToProvider => Stage::CorporationTransfer,
            Action::ReceiveResult => Stage::ResultBack,
            Action::IssueAtCorporation | Action::ReturnUncollected => Stage::CorporationIssue,
            Action::RequestRedelivery => Stage::ProviderStorage,
            Action::Redeliver => Stage::Redelivery,
        }
    }
}

/// The status a case has while at a stop.
pub fn status_at(stop: &Stop) -> CaseStatus {
    if stop.stage == Stage::CorporationIssue {
        CaseStatus::ResultReady
    } else {
        CaseStatus::InProgress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regulation::BUNDLED_REGULATIONS;

    fn reg(code: &str) -> Regulation {
        let (f, t) = BUNDLED_REGULATIONS
            .iter()
            .find(|(f, _)| f.contains(code))
            .expect("bundled");
        Regulation::parse(f, t).expect("valid")
    }

    fn stages(r: &[Stop]) -> Vec<Stage> {
        r.iter().map(|s| s.stage).collect()
    }

    use Stage::*;

    #[test]
    fn given_an_office_application_when_routed_then_intake_is_done_and_four_stops_remain() {
        let r = reg("mangystau-school-admission");
        let attrs = Attributes::new();
        assert_eq!(
            creation_stop(&r, Channel::ProviderOffice, &attrs)
                .expect("ok")
                .map(|s| s.stage),
            Some(Intake)
        );
        assert_eq!(
            stages(&route(&r, Channel::ProviderOffice, &attrs).expect("ok")),
            [Resolution, Prepare, Sign, Issue]
        );
        assert_eq!(
            stages(&route(&r, Channel::Portal, &attrs).expect("ok")),
            [Intake, Resolution, Prepare, Sign, Issue]
        );
        assert_eq!(
            route(&r, Channel::StateCorporation, &attrs),
            Err(CaseError::ChannelNotAllowed(Channel::StateCorporation))
        );
    }

    #[test]
    fn given_a_state_corporation_case_then_the_courier_legs_frame_the_provider_steps() {
        let r = reg("mangystau-secondary-education-duplicates");
        let stops = route(&r, Channel::StateCorporation, &Attributes::new()).expect("ok");
        assert_eq!(
            stages(&stops),
            [
                CorporationTransfer,
                Intake,
                Resolution,
                Prepare,
                Sign,
                Issue,
                ResultBack,
                CorporationIssue
            ]
        );
        assert_eq!(stops[0].leg, Some("transfer_to_provider"));
        assert_eq!(
            stops[7].duration, None,
            "the counter waits for the applicant, bounded by storage"
        );
    }

    #[test]
    fn given_a_path_then_it_starts_where_the_application_is_accepted() {
        let r = reg("mangystau-secondary-education-duplicates");
        let attrs = Attributes::new();
        let counter = path(&r, Channel::StateCorporation, &attrs).expect("ok");
        assert_eq!(counter[0].leg, Some("intake"));
        assert_eq!(counter[0].mailbox, Mailbox::Corporation);
        assert_eq!(
            stages(&counter[1..]),
            stages(&route(&r, Channel::StateCorporation, &attrs).expect("ok"))
        );
        // At route stop 0 (the courier), the case is at path position 1; off the route, nowhere.
        assert_eq!(
            path_position(&r, Channel::StateCorporation, &attrs, Some(0)),
            Some(1)
        );
        assert_eq!(
            path_position(&r, Channel::StateCorporation, &attrs, None),
            None
        );
        // A portal application's path is its route: the office registers it first.
        let e = reg("mangystau-externat-permission");
        let portal = path(&e, Channel::Portal, &attrs).expect("ok");
        assert_eq!(portal[0].stage, Intake);
        assert_eq!(portal[0].mailbox, Mailbox::Office);
        assert_eq!(path_position(&e, Channel::Portal, &attrs, Some(0)), Some(0));
        // What each stop produces: the act's step output, or the leg's.
        let (out, _) = stop_output(&r, &counter[0]);
        assert!(out.contains("receipt"), "{out}");
        let last = counter.last().expect("the counter");
        assert_eq!(last.stage, CorporationIssue);
        assert!(stop_output(&r, last).0.contains("applicant"));
        let issue = counter
            .iter()
            .find(|s| s.stage == Issue)
            .expect("issue step");
        assert!(!stop_output(&r, issue).0.is_empty());
    }

    #[test]
    fn given_the_acts_own_corporation_steps_then_they_replace_the_legs() {
        let r = reg("west-kazakhstan-externat-permission");
        let attrs = Attributes::new();
        assert_eq!(
            creation_stop(&r, Channel::StateCorporation, &attrs)
                .expect("ok")
                .and_then(|s| s.step_order),
            Some(1)
        );
        let stops = route(&r, Channel::StateCorporation, &attrs).expect("ok");
        assert_eq!(
            stages(&stops),
            [
                CorporationTransfer,
                Intake,
                Resolution,
                Prepare,
                Sign,
                Issue,
                CorporationIssue
            ]
        );
        assert_eq!(stops[0].step_order, Some(2));
        // On the portal the State Corporation steps are skipped.
        assert_eq!(
            stages(&route(&r, Channel::Portal, &attrs).expect("ok")),
            [Intake, Resolution, Prepare, Sign, Issue]
        );
    }

    #[test]
    fn given_a_one_step_regulation_then_intake_completes_the_case() {
        let r = reg("west-kazakhstan-college-document-acceptance");
        assert!(route(&r, Channel::ProviderOffice, &Attributes::new())
            .expect("ok")
            .is_empty());
    }

    #[test]
    fn given_the_atyrau_location_attribute_then_the_executor_duration_follows_it() {
        let r = reg("atyrau-teacher-attestation-intake");
        let mut attrs = Attributes::new();
        let local = route(&r, Channel::ProviderOffice, &attrs).expect("ok");
        attrs.insert("location".into(), "elsewhere".into());
        let elsewhere = route(&r, Channel::ProviderOffice, &attrs).expect("ok");
        assert_eq!(local[1].duration.map(|d| d.value), Some(2));
        assert_eq!(elsewhere[1].duration.map(|d| d.value), Some(6));
    }
}
