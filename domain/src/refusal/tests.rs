use super::*;
use crate::regulation::{Regulation, BUNDLED_REGULATIONS, CURRENT_FORMAT};

fn reg(code: &str) -> (String, String) {
    let (f, t) = BUNDLED_REGULATIONS
        .iter()
        .find(|(f, _)| f.contains(code))
        .expect("bundled");
    ((*f).to_owned(), (*t).to_owned())
}

fn rule(grounds: &[RefusalGround], all: bool) -> RefusalKind {
    RefusalKind {
        kind: RefusalCode::IntakeRefusal,
        channels: vec![Channel::ProviderOffice],
        by: Some(RefusedBy::Provider),
        grounds: grounds.to_vec(),
        all_grounds: all,
        paragraph: Some("para 5".into()),
        grounds_en: "x".into(),
    }
}

#[test]
fn given_and_or_grounds_then_any_one_refuses_and_given_and_grounds_then_all_must_hold() {
    use RefusalGround::*;
    let either = rule(&[IncompletePackage, ExpiredDocuments], false);
    let both = rule(&[IncompletePackage, ExpiredDocuments], true);
    let incomplete = claimed(&["a".into()], &[]);
    let expired = claimed(&[], &["b".into()]);
    let all = claimed(&["a".into()], &["b".into()]);
    assert!(grounds_hold(&either, &incomplete) && grounds_hold(&either, &expired));
    assert!(!grounds_hold(&both, &incomplete) && !grounds_hold(&both, &expired));
    assert!(grounds_hold(&both, &all));
    assert!(!grounds_hold(&rule(&[IncompletePackage], false), &expired));
}

#[test]
fn every_bundled_regulation_is_of_the_current_format() {
    for (f, t) in BUNDLED_REGULATIONS {
        let r = Regulation::parse_new(f, t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.format, CURRENT_FORMAT, "{f}");
        assert!(r.refusals_are_rules());
    }
}

#[test]
fn a_new_file_of_format_1_is_refused_but_a_stored_one_is_read() {
    let (f, t) = reg("east-kazakhstan-guardianship-orphans");
    let old = t.replace("format = 2\n", "");
    assert!(
        Regulation::parse(&f, &old).is_ok(),
        "stored versions stay readable"
    );
    let e = Regulation::parse_new(&f, &old).expect_err("new files must be format 2");
    assert_eq!(e.field, "format");
}

#[test]
fn format_2_refuses_a_leg_with_time_the_act_does_not_state_and_a_refusal_without_its_grounds() {
    let (f, t) = reg("east-kazakhstan-guardianship-orphans");
    let timed = t.replace(
        "transfer_to_provider = { stated = false,",
        "transfer_to_provider = { value = 1, unit = \"WORKING_DAYS\", stated = false,",
    );
    assert_ne!(timed, t);
    let e = Regulation::parse(&f, &timed).expect_err("unstated time");
    assert_eq!(e.field, "corporation.transfer_to_provider");
    let ungrounded = t.replacen(
        "grounds = [\"INCOMPLETE_PACKAGE\", \"EXPIRED_DOCUMENTS\"]\n",
        "",
        1,
    );
    let e = Regulation::parse(&f, &ungrounded).expect_err("no grounds");
    assert_eq!(e.field, "refusals[0].grounds");
    let by_corporation = t.replacen(
        "kind = \"REASONED_REFUSAL\"\nby = \"PROVIDER\"",
        "kind = \"REASONED_REFUSAL\"\nby = \"STATE_CORPORATION\"",
        1,
    );
    assert_ne!(by_corporation, t);
    assert!(Regulation::parse(&f, &by_corporation).is_err());
}

#[test]
fn given_no_rule_then_the_message_says_the_act_provides_none_there() {
    let (f, t) = reg("mangystau-school-admission");
    let r = Regulation::parse(&f, &t).expect("valid");
    let e = check_intake(
        &r,
        Channel::ProviderOffice,
        RefusedBy::Provider,
        &["x".into()],
        &[],
    )
    .expect_err("no refusal at the office");
    assert_eq!(
        crate::case::CaseError::from(e.clone()).code(),
        "REFUSAL_NOT_PROVIDED"
    );
    assert!(
        e.to_string().contains("provides no refusal at intake"),
        "{e}"
    );
    assert!(check_intake(&r, Channel::Portal, RefusedBy::Provider, &["x".into()], &[]).is_ok());
    assert!(check_reasoned(&r, Channel::Portal).is_err());
}

#[test]
fn the_fewest_grounds_named_are_those_that_make_the_refusal_lawful() {
    use RefusalGround::*;
    let claim = |r: &RefusalKind| {
        let (m, e) = fewest_grounds(Some(r)).expect("a rule");
        claimed(
            &if m { vec!["x".to_owned()] } else { vec![] },
            &if e { vec!["y".to_owned()] } else { vec![] },
        )
    };
    for r in [
        rule(&[IncompletePackage, ExpiredDocuments], false),
        rule(&[IncompletePackage, ExpiredDocuments], true),
        rule(&[IncompletePackage], false),
        rule(&[ExpiredDocuments], false),
    ] {
        assert!(grounds_hold(&r, &claim(&r)), "{r:?}");
    }
    assert_eq!(
        fewest_grounds(Some(&rule(&[IncompletePackage, ExpiredDocuments], false))),
        Some((true, false))
    );
    assert_eq!(fewest_grounds(None), None);
}
