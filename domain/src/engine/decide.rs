//! A command moves a case: the step closed, the next stop, the documents issued, the notice.

use chrono::{DateTime, Months, Utc};
use serde_json::json;

use super::*;
use crate::case::{status_at, storage_months};
use crate::documents::{ReasonedRefusal, RefusalReceipt, Signature};

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
            if !missing.is_empty() || !expired.is_empty() {
                let holder = case.place.map_or(Holder::Provider, |p| p.holder);
                crate::refusal::check_intake(
                    reg,
                    case.channel,
                    refused_by(holder),
                    missing,
                    expired,
                )?;
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
                    next.receipt = Some(super::intake::receipt(ctx, case, org, actor));
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
                    crate::refusal::check_reasoned(reg, case.channel)?;
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
        let within = time::bound(stop.stage, next.term_due, next.provider_due);
        let mut step = ctx.time.open(ctx.parties, stop, now, within)?;
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
                duration: reg
                    .corporation
                    .as_ref()
                    .and_then(|c| c.redelivery.duration()),
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
            // On the State Corporation channel with a stated term the provider answers for
            // the result reaching the counter a day before the term ends.
            on_time: case.provider_due.or(case.term_due).is_none_or(|t| now <= t),
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
