//! Every bundled regulation loads, and each matches its act step by step (the figures below
//! are read from shared/regulations/00N.md and the Kazakh originals, not from the data files).

use chrono::NaiveDate;
use domain::deadline::DurationUnit::{self, CalendarDays, Minutes, WorkingDays};
use domain::regulation::{check_unique, Channel, Mailbox, Regulation, BUNDLED_REGULATIONS};

use Channel::{Portal, ProviderOffice, StateCorporation};
use Mailbox::{Corporation, Executor, Head, Office};

fn load(code: &str) -> Regulation {
    let (file, text) = BUNDLED_REGULATIONS
        .iter()
        .find(|(f, _)| f.ends_with(&format!("/{code}.toml")))
        .unwrap_or_else(|| panic!("no bundled file for {code}"));
    Regulation::parse(file, text).unwrap_or_else(|e| panic!("{e}"))
}

fn steps(r: &Regulation) -> Vec<(Mailbox, u32, DurationUnit)> {
    r.steps
        .iter()
        .map(|s| (s.mailbox, s.duration.value, s.duration.unit))
        .collect()
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("date literal")
}

#[test]
fn all_thirteen_load_with_unique_codes() {
    let all: Vec<(String, Regulation)> = BUNDLED_REGULATIONS
        .iter()
        .map(|(f, t)| {
            (
                (*f).to_owned(),
                Regulation::parse(f, t).unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    assert_eq!(all.len(), 13);
    check_unique(&all).expect("unique codes");
    let services: std::collections::BTreeSet<&str> =
        all.iter().map(|(_, r)| r.service.as_str()).collect();
    assert_eq!(
        services.len(),
        11,
        "externat and secondary duplicates are shared by two regions"
    );
    for (file, r) in &all {
        assert!(
            file.ends_with(&format!("{}.toml", r.code)),
            "{file} holds {}",
            r.code
        );
    }
}

#[test]
fn mangystau_school_admission() {
    let r = load("mangystau-school-admission");
    assert_eq!(
        (r.region.as_str(), r.act.number.as_str(), r.act.date),
        ("mangystau", "339", date("2015-11-04"))
    );
    assert_eq!(
        r.act.registration.as_ref().map(|g| g.number.as_str()),
        Some("2899")
    );
    assert_eq!(
        r.act.repealed_by.as_ref().map(|a| a.number.as_str()),
        Some("44")
    );
    assert_eq!(r.apply_channels, [ProviderOffice, Portal]);
    assert_eq!(
        steps(&r),
        [
            (Office, 15, Minutes),
            (Head, 1, WorkingDays),
            (Executor, 3, WorkingDays),
            (Head, 1, WorkingDays),
            (Office, 15, Minutes)
        ]
    );
    assert!(r.legal_term.is_none());
    // Two results: the receipt at step 1, the admission order at step 5.
    assert_eq!(r.steps[0].issues, ["receipt"]);
    assert_eq!(r.steps[4].issues, ["admission_order"]);
    // First grade: 1 June – 30 August.
    assert!(r.window_open(date("2025-06-01"), Some("first_grade")));
    assert!(r.window_open(date("2025-08-30"), Some("first_grade")));
    assert!(!r.window_open(date("2025-05-31"), Some("first_grade")));
    assert!(!r.window_open(date("2025-08-31"), Some("first_grade")));
    assert!(r.corporation.is_none());
    assert!(r.portal.is_some());
}

#[test]
fn mangystau_externat_permission() {
    let r = load("mangystau-externat-permission");
    assert_eq!(r.service, "externat-permission");
    assert_eq!(r.apply_channels, [StateCorporation, Portal]);
    assert_eq!(
        steps(&r),
        [
            (Office, 15, Minutes),
            (Head, 1, WorkingDays),
            (Executor, 13, WorkingDays),
            (Head, 1, WorkingDays),
            (Office, 15, Minutes)
        ]
    );
    let term = r
        .legal_term
        .as_ref()
        .expect("15 working days (portal flow)");
    assert_eq!((term.value, term.unit), (15, WorkingDays));
    // By 1 December of the academic year.
    assert!(r.window_open(date("2025-12-01"), None));
    assert!(!r.window_open(date("2025-12-02"), None));
    assert!(r.corporation.is_some());
    assert!(
        r.readings.iter().any(|x| x.paragraph == "para 5.5"),
        "unnamed actor of the last step"
    );
}

#[test]
fn mangystau_secondary_education_duplicates() {
    let r = load("mangystau-secondary-education-duplicates");
    assert_eq!(r.apply_channels, [ProviderOffice, StateCorporation]);
    assert_eq!(
        steps(&r),
        [
            (Office, 15, Minutes),
            (Head, 1, WorkingDays),
            (Executor, 13, WorkingDays),
            (Head, 1, WorkingDays),
            (Office, 15, Minutes)
        ]
    );
    assert!(r.acceptance_windows.is_empty());
    assert_eq!(r.act.amendments.len(), 2);
    // Para 3 as amended by No. 121 of 28.05.2018: both results are duplicates of an аттестат.
    let kk = &r.results[0].name_kk;
    assert_eq!(kk.matches("аттестаттың телнұсқасы").count(), 2, "{kk}");
    assert!(!kk.contains("куәлік"), "{kk}");
    let ru = domain::language::russian(&r.code).expect("Russian names");
    let duplicate = &ru.results["duplicate"];
    assert_eq!(duplicate.matches("аттестата").count(), 2, "{duplicate}");
    assert!(!duplicate.contains("свидетельств"), "{duplicate}");
    // No refusal but at the State Corporation counter.
    assert_eq!(r.refusals.len(), 1);
    assert_eq!(r.refusals[0].channels, [StateCorporation]);
}

#[test]
fn west_kazakhstan_externat_permission() {
    let r = load("west-kazakhstan-externat-permission");
    assert_eq!(
        (r.act.number.as_str(), r.act.date),
        ("169", date("2015-07-07"))
    );
    assert_eq!(
        r.service,
        load("mangystau-externat-permission").service,
        "same service in two regions"
    );
    assert_eq!(r.apply_channels, [StateCorporation, Portal]);
    assert_eq!(
        steps(&r),
        [
            (Corporation, 15, Minutes),
            (Corporation, 1, WorkingDays),
            (Office, 15, Minutes),
            (Head, 1, WorkingDays),
            (Executor, 11, WorkingDays),
            (Head, 1, WorkingDays),
            (Office, 1, WorkingDays),
            (Corporation, 15, Minutes),
        ]
    );
    let sc = r.corporation.as_ref().expect("legs");
    assert!(sc.intake.stated && sc.transfer_to_provider.stated && sc.issue.stated);
    // Para 2 lists no fully electronic form.
    assert!(!r
        .service_forms
        .contains(&domain::regulation::ServiceForm::Electronic));
}

#[test]
fn west_kazakhstan_secondary_education_duplicates() {
    let r = load("west-kazakhstan-secondary-education-duplicates");
    // The counter's own minutes (para 9(1): 1 minute; para 10(4), process 8: 2 minutes); the
    // courier legs are not timed by the act and carry no duration.
    let sc = r.corporation.as_ref().expect("legs");
    assert_eq!(
        (sc.intake.duration(), sc.issue.duration()),
        (
            Some(domain::regulation::DurationSpec {
                value: 1,
                unit: Minutes
            }),
            Some(domain::regulation::DurationSpec {
                value: 2,
                unit: Minutes
            })
        )
    );
    assert!(sc.intake.stated && sc.issue.stated);
    assert_eq!(sc.transfer_to_provider.duration(), None);
    assert_eq!(sc.result_back.duration(), None);
    assert_eq!(r.apply_channels, [ProviderOffice, StateCorporation]);
    assert_eq!(
        steps(&r),
        [
            (Office, 15, Minutes),
            (Head, 1, WorkingDays),
            (Executor, 13, WorkingDays),
            (Head, 1, WorkingDays),
            (Office, 15, Minutes)
        ]
    );
}

#[test]
fn east_kazakhstan_guardianship_orphans() {
    let r = load("east-kazakhstan-guardianship-orphans");
    assert_eq!(
        (r.act.number.as_str(), r.act.date),
        ("264", date("2019-08-13"))
    );
    assert_eq!(r.act.restates[0].number, "225");
    assert_eq!(r.apply_channels, [StateCorporation, Portal]);
    assert_eq!(
        steps(&r),
        [
            (Office, 15, Minutes),
            (Head, 15, Minutes),
            (Executor, 17, WorkingDays),
            (Head, 1, WorkingDays),
            (Office, 15, Minutes)
        ]
    );
    let term = r.legal_term.as_ref().expect("19 working days");
    assert_eq!((term.value, term.unit), (19, WorkingDays));
    let sc = r.corporation.as_ref().expect("legs");
    assert_eq!(
        (sc.storage_months, sc.redelivery.value, sc.redelivery.unit),
        (1, Some(1), Some(WorkingDays))
    );
    assert!(sc.redelivery.stated);
}

#[test]
fn east_kazakhstan_rural_school_transport() {
    let r = load("east-kazakhstan-rural-school-transport");
    assert_eq!(r.apply_channels, [ProviderOffice, StateCorporation, Portal]);
    assert_eq!(
        steps(&r),
        [
            (Office, 30, Minutes),
            (Head, 20, Minutes),
            (Executor, 4, WorkingDays),
            (Head, 20, Minutes),
            (Office, 15, Minutes)
        ]
    );
    assert!(r.steps[1].actor_kk.contains("әкімі"), "the head is an akim");
    assert_eq!(
        r.legal_term.as_ref().map(|t| (t.value, t.unit)),
        Some((5, WorkingDays))
    );
    assert!(
        r.readings
            .iter()
            .any(|x| x.text.contains("күнтізбелік жұмыс күні")),
        "the 'calendar working day' reading"
    );
}

#[test]
fn east_kazakhstan_camp_vouchers() {
    let r = load("east-kazakhstan-camp-vouchers");
    assert_eq!(r.apply_channels, [ProviderOffice, StateCorporation, Portal]);
    assert_eq!(
        steps(&r),
        [
            (Office, 30, Minutes),
            (Head, 5, Minutes),
            (Executor, 4, WorkingDays),
            (Head, 15, Minutes),
            (Office, 15, Minutes)
        ]
    );
    assert_eq!(
        r.legal_term.as_ref().map(|t| (t.value, t.unit)),
        Some((5, WorkingDays))
    );
}

#[test]
fn east_kazakhstan_foster_family_placement() {
    let r = load("east-kazakhstan-foster-family-placement");
    assert_eq!(r.apply_channels, [ProviderOffice, Portal]);
    assert!(r.corporation.is_none());
    assert_eq!(
        steps(&r),
        [
            (Office, 30, Minutes),
            (Head, 15, Minutes),
            (Executor, 9, WorkingDays),
            (Head, 15, Minutes),
            (Office, 15, Minutes)
        ]
    );
    assert_eq!(
        r.legal_term.as_ref().map(|t| (t.value, t.unit)),
        Some((10, WorkingDays))
    );
    assert_eq!(
        r.steps[4].issues,
        ["placement_contract", "maintenance_decision"]
    );
    let portal = r.portal.as_ref().expect("portal");
    assert_eq!(
        portal.request_processing.map(|d| (d.value, d.unit)),
        Some((20, Minutes))
    );
}

#[test]
fn west_kazakhstan_college_document_acceptance_is_one_executor_step() {
    let r = load("west-kazakhstan-college-document-acceptance");
    assert_eq!(
        (r.act.number.as_str(), r.act.date),
        ("188", date("2015-07-21"))
    );
    assert_eq!(r.apply_channels, [ProviderOffice]);
    assert_eq!(steps(&r), [(Executor, 15, Minutes)]);
    assert_eq!(r.steps[0].issues, ["receipt"]);
    // Full-time 20 June – 20 August; evening/extramural to 20 September.
    assert!(r.window_open(date("2025-06-20"), Some("full_time")));
    assert!(!r.window_open(date("2025-08-21"), Some("full_time")));
    assert!(r.window_open(date("2025-09-20"), Some("evening_or_extramural")));
    assert!(!r.window_open(date("2025-09-21"), Some("evening_or_extramural")));
    assert!(!r.window_open(date("2025-06-19"), None));
}

#[test]
fn west_kazakhstan_college_dormitory() {
    let r = load("west-kazakhstan-college-dormitory");
    assert_eq!(
        steps(&r),
        [
            (Office, 30, Minutes),
            (Head, 1, WorkingDays),
            (Executor, 8, WorkingDays),
            (Head, 1, WorkingDays),
            (Office, 15, Minutes)
        ]
    );
}

#[test]
fn west_kazakhstan_vocational_duplicates_count_calendar_days() {
    let r = load("west-kazakhstan-vocational-education-duplicates");
    assert_eq!(r.act.amendments[0].number, "53");
    assert_eq!(r.apply_channels, [ProviderOffice, StateCorporation]);
    assert_eq!(
        steps(&r),
        [
            (Office, 30, Minutes),
            (Head, 1, CalendarDays),
            (Executor, 18, CalendarDays),
            (Head, 1, CalendarDays),
            (Office, 10, Minutes)
        ]
    );
}

#[test]
fn atyrau_teacher_attestation_duration_depends_on_location() {
    let r = load("atyrau-teacher-attestation-intake");
    assert_eq!(
        (r.act.number.as_str(), r.act.date),
        ("172", date("2016-08-03"))
    );
    assert_eq!(r.act.amendments[0].number, "67");
    assert_eq!(r.apply_channels, [ProviderOffice, StateCorporation]);
    assert_eq!(
        steps(&r),
        [
            (Office, 15, Minutes),
            (Head, 30, Minutes),
            (Executor, 2, WorkingDays),
            (Head, 30, Minutes),
            (Office, 1, WorkingDays)
        ]
    );
    let step = &r.steps[2];
    let at = |loc: Option<&str>| {
        step.duration_for(|a| (a == "location").then(|| loc.map(str::to_owned)).flatten())
    };
    assert_eq!(
        (
            at(None).value,
            at(Some("local")).value,
            at(Some("elsewhere")).value
        ),
        (2, 2, 6)
    );
    let sc = r.corporation.as_ref().expect("legs");
    assert_eq!(
        (sc.intake.value, sc.intake.unit, sc.storage_months),
        (Some(15), Some(Minutes), 1)
    );
}

fn broken(edit: impl Fn(&str) -> String) -> String {
    let (file, text) = BUNDLED_REGULATIONS[0];
    let changed = edit(text);
    assert_ne!(changed, text, "the edit must change the file");
    Regulation::parse(file, &changed)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn bad_files_are_refused_naming_the_file_and_the_field() {
    let e = broken(|t| t.replacen("unit = \"WORKING_DAYS\"", "unit = \"WEEKS\"", 1));
    assert!(
        e.contains("mangystau-school-admission.toml")
            && e.contains("steps[1].duration.unit")
            && e.contains("WEEKS"),
        "{e}"
    );

    let e = broken(|t| t.replacen("mailbox = \"HEAD\"", "mailbox = \"DIRECTOR\"", 1));
    assert!(e.contains("steps[1].mailbox"), "{e}");

    let e = broken(|t| {
        t.replacen(
            "{ value = 3, unit = \"WORKING_DAYS\" }",
            "{ value = 0, unit = \"WORKING_DAYS\" }",
            1,
        )
    });
    assert!(e.contains("steps[2].duration.value"), "{e}");

    let e = broken(|t| t.replacen("duration = { value = 3, unit = \"WORKING_DAYS\" }\n", "", 1));
    assert!(e.contains("steps[2]") && e.contains("duration"), "{e}");

    let e = broken(|t| {
        t.replace(
            "apply_channels = [\"PROVIDER_OFFICE\", \"PORTAL\"]",
            "apply_channels = [\"PROVIDER_OFFICE\", \"PORTAL\", \"STATE_CORPORATION\"]",
        )
    });
    assert!(e.contains("corporation"), "a channel without its legs: {e}");

    let e = broken(|t| t.replace("order = 4", "order = 6"));
    assert!(e.contains("steps[3].order"), "{e}");

    let e = broken(|t| t.replace("[portal]", "[portl]"));
    assert!(e.contains("portl") || e.contains("portal"), "{e}");
}

#[test]
fn duplicate_codes_are_refused() {
    let (f1, t1) = BUNDLED_REGULATIONS[0];
    let (f2, t2) = BUNDLED_REGULATIONS[1];
    let clone = t2.replace(
        "code = \"mangystau-externat-permission\"",
        "code = \"mangystau-school-admission\"",
    );
    let all = vec![
        (f1.to_owned(), Regulation::parse(f1, t1).expect("valid")),
        (
            f2.to_owned(),
            Regulation::parse(f2, &clone).expect("valid on its own"),
        ),
    ];
    let e = check_unique(&all).expect_err("duplicate").to_string();
    assert!(
        e.contains("mangystau-school-admission") && e.contains("code"),
        "{e}"
    );
}
