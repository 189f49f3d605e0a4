//! Demo accounts for `qyzmet serve --dev --demo`: one staff user per role in each region of the
//! source acts, an admin, a national analyst and three applicants. Created once; running again
//! changes nothing.

use domain::identity::{Iin, Role};
use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::store::accounts::{self, NewUser};

/// (region, provider organisation, State Corporation branch) of each demo region.
pub const DEMO_REGIONS: [(&str, &str, &str); 4] = [
    ("mangystau", "aktau-school-1", "gov4c-mangystau"),
    (
        "west-kazakhstan",
        "oral-education-department",
        "gov4c-west-kazakhstan",
    ),
    ("east-kazakhstan", "oskemen-akimat", "gov4c-east-kazakhstan"),
    ("atyrau", "atyrau-city-education-division", "gov4c-atyrau"),
];

/// Demo applicants: (IIN, full name). The IINs carry valid check digits and belong to nobody
/// known to us.
pub const DEMO_APPLICANTS: [(&str, &str); 3] = [
    ("850305400120", "Айгерим Нұрланқызы Серікова"),
    ("901122600340", "Ерлан Болатұлы Жақсыбеков"),
    ("010715500567", "Дана Асқарқызы Оспанова"),
];

/// Every demo staff account: (username, role, organisation, analyst region).
pub fn demo_users() -> Vec<(String, Role, Option<&'static str>, Option<&'static str>)> {
    let mut out = vec![
        ("admin".to_owned(), Role::Admin, None, None),
        ("national-analyst".to_owned(), Role::Analyst, None, None),
    ];
    for (region, org, corp) in DEMO_REGIONS {
        out.push((
            format!("{region}-clerk"),
            Role::OfficeClerk,
            Some(org),
            None,
        ));
        out.push((format!("{region}-head"), Role::Head, Some(org), None));
        out.push((
            format!("{region}-executor"),
            Role::Executor,
            Some(org),
            None,
        ));
        out.push((
            format!("{region}-operator"),
            Role::CorporationOperator,
            Some(corp),
            None,
        ));
        out.push((
            format!("{region}-analyst"),
            Role::Analyst,
            None,
            Some(region),
        ));
    }
    out
}

/// A demo account's display name: an invented name per role (the same in every region), so that
/// screens show names as they will in production.
pub fn demo_display_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "Администратор",
        Role::OfficeClerk => "Гүлнар Сейітова",
        Role::Head => "Марат Әбенов",
        Role::Executor => "Әсем Қайратқызы",
        Role::CorporationOperator => "Нұрлан Тоқтаров",
        Role::Analyst => "Жанар Мұқанова",
        Role::Applicant => "",
    }
}

/// Creates the demo accounts that do not exist yet; returns how many were created.
pub async fn ensure(db: &DatabaseConnection, password: &str) -> Result<usize, ApiError> {
    let mut created = 0;
    for (username, role, organisation, region) in demo_users() {
        if accounts::find_user(db, &username).await?.is_some() {
            continue;
        }
        let new = NewUser {
            username,
            password: password.to_owned(),
            role,
            organisation: organisation.map(str::to_owned),
            region: region.map(str::to_owned),
            display_name: Some(demo_display_name(role).to_owned()),
            iin: None,
        };
        accounts::create_user(db, &new).await?;
        created += 1;
    }
    for (iin, name) in DEMO_APPLICANTS {
        let iin = Iin::parse(iin).map_err(ApiError::internal)?;
        if accounts::find_applicant(db, &iin).await?.is_none() {
            accounts::create_applicant(db, &iin, name, password).await?;
            created += 1;
        }
    }
    Ok(created)
}
