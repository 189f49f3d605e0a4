//! The acts' own limits: no time the act does not grant, no refusal it does not provide.

use super::*;
use crate::refusal;
use crate::regulation::{RefusalCode, RefusedBy};

fn world(code: &str, region: &str, kind: &str) -> World {
    World {
        reg: reg(code),
        parties: parties(region, kind),
        time: time(),
    }
}

fn guardianship() -> World {
    world(
        "east-kazakhstan-guardianship-orphans",
        "east-kazakhstan",
        "LOCAL_EXECUTIVE_BODY",
    )
}

fn camp() -> World {
    world(
        "east-kazakhstan-camp-vouchers",
        "east-kazakhstan",
        "EDUCATION_ORGANISATION",
    )
}

fn with_documents(missing: bool, expired: bool) -> Application {
    let mut a = application();
    a.documents.push(SubmittedDocument {
        name: "medical certificate".into(),
        provided: !missing,
        expired,
    });
    a
}

fn operator() -> Actor {
    staff(OPERATOR, Role::CorporationOperator, 2)
}

fn accept(
    w: &World,
    now: DateTime<Utc>,
    channel: Channel,
    a: &Application,
) -> Result<Transition, CaseError> {
    let actor = match channel {
        Channel::StateCorporation => operator(),
        _ => staff(CLERK, Role::OfficeClerk, 1),
    };
    decide_intake(&w.ctx(now), channel, a, &actor, now.date_naive())
}

/// The staff move that completes whatever stop the case is at, taken at `now`.
fn next_move(case: &CaseRecord) -> (Command, Actor) {
    match case.stage {
        Stage::CorporationTransfer => (Command::DeliverToProvider, operator()),
        Stage::Intake => (
            Command::CompleteIntake {
                missing: vec![],
                expired: vec![],
            },
            staff(CLERK, Role::OfficeClerk, 1),
        ),
        Stage::Resolution => (
            Command::AssignExecutor {
                name: "user12".into(),
                executor: Some(executor_ref()),
            },
            staff(HEAD, Role::Head, 1),
        ),
        Stage::Prepare => (
            Command::Prepare {
                refusal_grounds: None,
                note: None,
            },
            staff(EXECUTOR, Role::Executor, 1),
        ),
        Stage::Sign => (Command::Sign, staff(HEAD, Role::Head, 1)),
        Stage::Issue => (Command::Issue, staff(CLERK, Role::OfficeClerk, 1)),
        Stage::ResultBack => (Command::ReceiveResult, operator()),
        other => panic!("no staff move at {other:?}"),
    }
}

/// Moves a case on, one staff move every `step` from `now`, until it reaches `stage`.
fn drive(
    w: &World,
    mut case: CaseRecord,
    stage: Stage,
    mut now: DateTime<Utc>,
    step: chrono::Duration,
) -> CaseRecord {
    while case.stage != stage {
        let (cmd, actor) = next_move(&case);
        case = decide(&w.ctx(now), &case, &cmd, &actor)
            .expect("moves")
            .case;
        now += step;
    }
    case
}

/// Drives a case to the counter with every stop taking all of its time (each move at its due
/// time), returning every transition.
fn slowest(w: &World, first: Transition) -> Vec<Transition> {
    let mut out = vec![first];
    loop {
        let case = out.last().expect("a transition").case.clone();
        if matches!(case.stage, Stage::CorporationIssue | Stage::Closed) {
            return out;
        }
        let now = case.step_due.expect("every stop before the counter is due");
        let (cmd, actor) = next_move(&case);
        let t = decide(&w.ctx(now), &case, &cmd, &actor).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        out.push(t);
    }
}

#[test]
fn given_guardianship_at_the_state_corporation_then_the_term_is_19_working_days_at_the_branch_close_and_the_provider_is_due_a_day_earlier(
) {
    // Given: accepted at the counter on Monday 15 September 2025, 10:00 local.
    let w = guardianship();
    let t = accept(
        &w,
        at("2025-09-15T10:00:00+05:00"),
        Channel::StateCorporation,
        &application(),
    )
    .expect("accepted");
    // Then: the day of acceptance is not counted; the 19th working day after it is Friday 10
    // October, and the term ends when the branch closes (18:00), where the result is collected.
    assert_eq!(t.case.term_due, Some(at("2025-10-10T18:00:00+05:00")));
    // The provider must have the result at the State Corporation one day earlier.
    assert_eq!(t.case.provider_due, Some(at("2025-10-09T18:00:00+05:00")));
    // The courier to the provider is not timed by the act: due at the provider's deadline.
    assert_eq!(t.case.stage, Stage::CorporationTransfer);
    assert_eq!(t.case.step_due, t.case.provider_due);
}

#[test]
fn given_guardianship_when_every_stop_takes_all_its_time_then_no_stop_is_due_after_the_providers_deadline(
) {
    let w = guardianship();
    let first = accept(
        &w,
        at("2025-09-15T10:00:00+05:00"),
        Channel::StateCorporation,
        &application(),
    )
    .expect("accepted");
    let (term, provider) = (first.case.term_due, first.case.provider_due);
    let moves = slowest(&w, first);
    // Then: every stop before the counter was due no later than the provider's deadline (so
    // inside the legal term) although the steps alone sum to 18 working days + 45 minutes.
    for t in &moves {
        if let Some(s) = &t.opened {
            if s.stop.stage != Stage::CorporationIssue {
                assert!(s.due <= provider, "{:?} due {:?}", s.stop.stage, s.due);
            }
        }
        if let Some(d) = t
            .case
            .step_due
            .filter(|_| t.case.stage != Stage::CorporationIssue)
        {
            assert!(Some(d) <= term);
        }
    }
    let last = moves.last().expect("moves");
    assert_eq!(last.case.stage, Stage::CorporationIssue);
    let delivery = last.case.delivery.expect("delivered to the counter");
    assert!(delivery.on_time, "arrived by the provider's deadline");
}

#[test]
fn given_guardianship_when_the_result_reaches_the_counter_on_the_last_day_then_the_provider_was_late(
) {
    let w = guardianship();
    let first = accept(
        &w,
        at("2025-09-15T10:00:00+05:00"),
        Channel::StateCorporation,
        &application(),
    )
    .expect("accepted");
    let case = drive(
        &w,
        first.case,
        Stage::ResultBack,
        at("2025-09-16T10:00:00+05:00"),
        chrono::Duration::minutes(5),
    );
    // When: the result arrives on the term's last day, before it ends.
    let last_day = at("2025-10-10T11:00:00+05:00");
    assert!(Some(last_day) < case.term_due);
    let t = decide(
        &w.ctx(last_day),
        &case,
        &Command::ReceiveResult,
        &operator(),
    )
    .expect("received");
    // Then: the act wanted it a day earlier: the provider's delivery is late.
    let d = t.case.delivery.expect("delivered");
    assert!(!d.on_time);
    assert_eq!(t.closed.expect("closed").on_time, Some(false));
}

#[test]
fn given_duplicates_at_the_state_corporation_then_the_result_date_has_no_courier_day() {
    // Given: Mangystau duplicates (no stated term): the date is the chain of the provider's
    // steps, and neither courier leg is timed by the act.
    let w = world(
        "mangystau-secondary-education-duplicates",
        "mangystau",
        "SCHOOL",
    );
    let now = at("2025-09-15T10:00:00+05:00");
    let sc = accept(&w, now, Channel::StateCorporation, &application()).expect("accepted");
    let office = accept(&w, now, Channel::ProviderOffice, &application()).expect("accepted");
    // The office channel's chain starts after the office's own intake step (15 minutes).
    let intake = w
        .reg
        .step(crate::regulation::StepKind::Intake)
        .expect("an intake step");
    let from_intake = w
        .time
        .provider
        .deadline(now, intake.duration.legal())
        .expect("due")
        .at;
    let mut at_sc = now;
    for s in route(&w.reg, Channel::StateCorporation, &sc.case.attributes).expect("route") {
        if let Some(d) = s.duration {
            at_sc = w.time.provider.deadline(at_sc, d.legal()).expect("due").at;
        }
    }
    assert_eq!(sc.case.term_due, Some(at_sc));
    // Then: the State Corporation's date is the office's plus the 15 minutes of the office's
    // intake of the delivered documents — and not one day more.
    assert!(
        sc.case.term_due
            <= office
                .case
                .term_due
                .map(|t| t + chrono::Duration::minutes(15))
    );
    assert!(office.case.term_due.is_some_and(|t| t >= from_intake));
}

#[test]
fn given_camp_vouchers_at_the_counter_when_only_expired_documents_are_named_then_the_refusal_is_not_provided(
) {
    let w = camp();
    let now = at("2025-09-15T10:00:00+05:00");
    // When: the set is complete but a document has expired.
    let e = accept(
        &w,
        now,
        Channel::StateCorporation,
        &with_documents(false, true),
    )
    .expect_err("no refusal for expired documents at the counter");
    // Then: a typed error naming what the act allows there.
    assert_eq!(e.code(), "REFUSAL_NOT_PROVIDED");
    assert!(e.to_string().contains("an incomplete package"), "{e}");
    // An incomplete set is a ground at the counter.
    let t = accept(
        &w,
        now,
        Channel::StateCorporation,
        &with_documents(true, false),
    )
    .expect("refused");
    assert_eq!(t.case.status, CaseStatus::RefusedAtIntake);
}

#[test]
fn given_camp_vouchers_at_the_office_then_only_incomplete_and_expired_together_refuse() {
    let w = camp();
    let now = at("2025-09-15T10:00:00+05:00");
    for (missing, expired) in [(true, false), (false, true)] {
        let e = accept(
            &w,
            now,
            Channel::ProviderOffice,
            &with_documents(missing, expired),
        )
        .expect_err("one ground alone is not the act's condition");
        assert_eq!(e.code(), "REFUSAL_NOT_PROVIDED");
        assert!(
            e.to_string()
                .contains("an incomplete package and expired documents"),
            "{e}"
        );
    }
    let t = accept(
        &w,
        now,
        Channel::ProviderOffice,
        &with_documents(true, true),
    )
    .expect("refused");
    assert_eq!(t.case.status, CaseStatus::RefusedAtIntake);
}

#[test]
fn given_mangystau_duplicates_when_the_executor_prepares_a_reasoned_refusal_then_it_is_not_provided_and_nothing_changes(
) {
    let w = world(
        "mangystau-secondary-education-duplicates",
        "mangystau",
        "SCHOOL",
    );
    let mut case = accept(
        &w,
        at("2025-09-15T10:00:00+05:00"),
        Channel::ProviderOffice,
        &application(),
    )
    .expect("registered")
    .case;
    let now = at("2025-09-15T11:00:00+05:00");
    case = drive(&w, case, Stage::Prepare, now, chrono::Duration::zero());
    let executor = staff(EXECUTOR, Role::Executor, 1);
    // Then: the executor is not offered a refusal, and one sent anyway is refused whole.
    let offered = available_actions(&case, &w.parties, &w.reg, &executor);
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].action, Action::PrepareResult);
    assert_eq!(offered[0].refusal, None);
    let refuse = Command::Prepare {
        refusal_grounds: Some("not eligible".into()),
        note: None,
    };
    let e = decide(&w.ctx(now), &case, &refuse, &executor).expect_err("not provided");
    assert_eq!(e, CaseError::RefusalNotProvided(e.to_string()));
    assert_eq!(e.code(), "REFUSAL_NOT_PROVIDED");
    // A result is still prepared as the act says.
    let (ok, _) = next_move(&case);
    assert!(decide(&w.ctx(now), &case, &ok, &executor).is_ok());
}

#[test]
fn given_guardianship_then_the_refusals_the_act_provides_are_offered_and_work() {
    let w = guardianship();
    let now = at("2025-09-15T10:00:00+05:00");
    // At the counter: incomplete or expired (and/or).
    for (missing, expired) in [(true, false), (false, true)] {
        let t = accept(
            &w,
            now,
            Channel::StateCorporation,
            &with_documents(missing, expired),
        )
        .expect("refused at the counter");
        assert_eq!(t.case.status, CaseStatus::RefusedAtIntake);
    }
    // At the provider's office, on the courier's delivery, and a reasoned refusal later.
    let mut case = accept(&w, now, Channel::StateCorporation, &application())
        .expect("ok")
        .case;
    case = decide(&w.ctx(now), &case, &Command::DeliverToProvider, &operator())
        .expect("ok")
        .case;
    let clerk = staff(CLERK, Role::OfficeClerk, 1);
    let offered = available_actions(&case, &w.parties, &w.reg, &clerk);
    let intake = offered[0]
        .refusal
        .as_ref()
        .expect("an intake refusal is offered");
    assert_eq!(intake.kind, RefusalCode::IntakeRefusal);
    assert_eq!(intake.by, Some(RefusedBy::Provider));
    let refused = decide(
        &w.ctx(now),
        &case,
        &Command::CompleteIntake {
            missing: vec!["birth certificate".into()],
            expired: vec![],
        },
        &clerk,
    )
    .expect("the office refuses an incomplete package");
    assert_eq!(refused.case.status, CaseStatus::RefusedAtIntake);
    case = drive(&w, case, Stage::Prepare, now, chrono::Duration::zero());
    let executor = staff(EXECUTOR, Role::Executor, 1);
    let offered = available_actions(&case, &w.parties, &w.reg, &executor);
    assert_eq!(
        offered[0].refusal.as_ref().map(|r| r.kind),
        Some(RefusalCode::ReasonedRefusal)
    );
    let t = decide(
        &w.ctx(now),
        &case,
        &Command::Prepare {
            refusal_grounds: Some("para 10 of the Standard".into()),
            note: None,
        },
        &executor,
    )
    .expect("a reasoned refusal the act provides");
    assert!(t.case.refusal_prepared);
}

#[test]
fn given_a_format_1_version_then_its_cases_keep_the_catalogue_and_the_legs_it_had() {
    // Given: a version stored before refusals were rules (format 1), with a courier day.
    let mut w = world(
        "mangystau-secondary-education-duplicates",
        "mangystau",
        "SCHOOL",
    );
    w.reg.format = 1;
    w.reg.refusals.clear();
    if let Some(c) = &mut w.reg.corporation {
        c.transfer_to_provider.value = Some(1);
        c.transfer_to_provider.unit = Some(crate::deadline::DurationUnit::WorkingDays);
    }
    // Then: a reasoned refusal is allowed as it was, and the courier day still counts.
    assert_eq!(
        refusal::check_reasoned(&w.reg, Channel::ProviderOffice),
        Ok(())
    );
    let now = at("2025-09-15T10:00:00+05:00");
    let old = accept(&w, now, Channel::StateCorporation, &application()).expect("accepted");
    let new = accept(
        &world(
            "mangystau-secondary-education-duplicates",
            "mangystau",
            "SCHOOL",
        ),
        now,
        Channel::StateCorporation,
        &application(),
    )
    .expect("accepted");
    assert!(old.case.term_due > new.case.term_due);
    assert_eq!(old.case.step_due, Some(at("2025-09-16T18:00:00+05:00")));
}

#[test]
fn given_school_admission_then_the_terms_of_the_service_cap_the_result_date_and_refuse_no_application_for_its_date(
) {
    let w = world("mangystau-school-admission", "mangystau", "SCHOOL");
    let mut first = application();
    first.applies_to = Some("first_grade".into());
    let mut other = application();
    other.applies_to = Some("full_time_or_evening".into());
    // Thursday 28 August 2025: the steps would run into September; the term of the service
    // ends on 30 August, a Saturday, so the result is due by the close of Friday 29 August.
    let late_august = at("2025-08-28T10:00:00+05:00");
    for a in [&first, &other] {
        let t = accept(&w, late_august, Channel::ProviderOffice, a).expect("registered");
        assert_eq!(t.case.term_due, Some(at("2025-08-29T18:30:00+05:00")));
        assert!(t.case.step_due <= t.case.term_due);
    }
    // 1 September: no longer a first-grade term, but full-time and evening study is taken all
    // year (the act gives only its last day), with the full chain of the steps.
    let september = at("2025-09-01T10:00:00+05:00");
    let e = accept(&w, september, Channel::ProviderOffice, &first).expect_err("outside");
    assert_eq!(e.code(), "OUTSIDE_ACCEPTANCE_WINDOW");
    let t = accept(&w, september, Channel::ProviderOffice, &other).expect("registered");
    assert!(t.case.term_due > Some(at("2025-09-05T00:00:00+05:00")));
}

#[test]
fn given_mangystau_externat_then_the_15_working_days_are_the_portal_term_only() {
    let w = world(
        "mangystau-externat-permission",
        "mangystau",
        "LOCAL_EXECUTIVE_BODY",
    );
    let term = w.reg.legal_term.as_ref().expect("a term");
    assert!(term.applies_to(Channel::Portal));
    assert!(!term.applies_to(Channel::StateCorporation));
    // On the State Corporation channel the date is the chain of the steps, with no courier
    // time: 15 working days + 30 minutes of the provider's steps.
    let now = at("2025-09-15T10:00:00+05:00");
    let t = accept(&w, now, Channel::StateCorporation, &application()).expect("accepted");
    let mut chain = now;
    for s in route(&w.reg, Channel::StateCorporation, &t.case.attributes).expect("route") {
        if let Some(d) = s.duration {
            chain = w.time.provider.deadline(chain, d.legal()).expect("due").at;
        }
    }
    assert_eq!(t.case.term_due, Some(chain));
    assert_eq!(t.case.provider_due, None);
}
