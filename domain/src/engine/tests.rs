//! Given/when/then tests of the engine: every kind of move, receipt, refusal, storage and notice.

use super::*;
use crate::calendar::WorkingCalendar;
use crate::deadline::{WorkingClock, WorkingHours};
use crate::regulation::BUNDLED_REGULATIONS;
use chrono::NaiveDate;
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
fn given_atyrau_via_the_state_corporation_when_accepted_then_the_courier_leg_is_inside_step_5() {
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
    // Then, by hand: the courier to the provider is not timed by the act (p.8 describes only
    // the electronic request), so it adds nothing; intake 15 min (Mon 10:15); resolution 30
    // min (10:45); preparation 2 working days (Wed 17th 18:30); signature 30 min (Thu 18th
    // 09:30); step 5, registered and sent by courier, 1 working day (Fri 19th 18:30). No day
    // for either courier leg.
    assert_eq!(t.case.term_due, Some(at("2025-09-19T18:30:00+05:00")));
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
        let t = decide(&w.ctx(*now), &case, cmd, actor).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        case = t.case.clone();
        out.push(t);
    }
    out
}

#[test]
fn given_a_state_corporation_receipt_when_the_office_registers_then_the_receipt_never_changes() {
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
    let far =
        decide_intake(&w.ctx(now), Channel::ProviderOffice, &a, &clerk, date).expect("registered");
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

mod limits;
