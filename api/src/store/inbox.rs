//! An inbox page: one mailbox of one organisation, filtered, sorted and keyset-paged, with its
//! counts. The rules (what a search means, the sorts, "due today") are `domain::inbox`'s.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::case::Stage;
use domain::inbox::{prefix_end, InboxSort, Search};
use domain::regulation::Mailbox;
use domain::tally::Counts;
use entity::service_case;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::error::ApiError;
use crate::store::case_rows::{far_future, mailbox_str};

/// What to read.
pub struct InboxQuery {
    /// The organisation whose mailbox it is.
    pub org: i64,
    /// The mailbox.
    pub mailbox: Mailbox,
    /// Only this service.
    pub service: Option<String>,
    /// Only overdue (true) or on time (false).
    pub overdue: Option<bool>,
    /// Only steps due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Only cases assigned to this user id (a name that matches nobody gives an empty page).
    pub assignee: Option<i64>,
    /// Only these stages (empty: all).
    pub stages: Vec<Stage>,
    /// What was searched.
    pub search: Option<Search>,
    /// The order.
    pub sort: InboxSort,
    /// Read after this cursor.
    pub after: Option<String>,
    /// Page size.
    pub size: u64,
}

/// One page.
pub struct InboxPage {
    /// The page.
    pub rows: Vec<service_case::Model>,
    /// Pass as `after` for the next page.
    pub end_cursor: Option<String>,
    /// Whether there is a next page.
    pub has_next_page: bool,
}

impl InboxQuery {
    /// A query on a whole mailbox, no filter: what a subscription counts.
    pub fn whole(org: i64, mailbox: Mailbox) -> InboxQuery {
        InboxQuery {
            org,
            mailbox,
            service: None,
            overdue: None,
            due_before: None,
            assignee: None,
            stages: Vec::new(),
            search: None,
            sort: InboxSort::default(),
            after: None,
            size: 0,
        }
    }

    /// Whether the mailbox's live tally counts this query: no filter but stages.
    pub fn counted_live(&self) -> bool {
        self.service.is_none()
            && self.overdue.is_none()
            && self.due_before.is_none()
            && self.assignee.is_none()
            && self.search.is_none()
    }
}

/// A keyset cursor: the sort's tag, its key (microseconds) and the case id, opaque to clients.
fn cursor(sort: InboxSort, key: DateTime<Utc>, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}{}:{id}", sort.tag(), key.timestamp_micros()))
}

/// Reads a cursor made by [`cursor`] for the same sort; anything else is `BAD_USER_INPUT`.
fn parse_cursor(sort: InboxSort, s: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
    let bad = || ApiError::BadUserInput("invalid cursor (or one from another sort)".into());
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let rest = text.strip_prefix(sort.tag()).ok_or_else(bad)?;
    let (key, id) = rest.split_once(':').ok_or_else(bad)?;
    let key = DateTime::from_timestamp_micros(key.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((key, id.parse().map_err(|_| bad())?))
}

/// The name key column compared bytewise: PostgreSQL's index is on the "C" collation.
fn name_key_expr(backend: DatabaseBackend) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust("applicant_name_key COLLATE \"C\""),
        _ => Expr::col(service_case::Column::ApplicantNameKey),
    }
}

/// The filters but the stage filter (`base`) and all of them (`all`).
fn conditions(
    q: &InboxQuery,
    backend: DatabaseBackend,
    now: DateTime<Utc>,
) -> (Condition, Condition) {
    use service_case::Column as Col;
    let mut base = Condition::all()
        .add(Col::CurrentOrgId.eq(q.org))
        .add(Col::CurrentMailbox.eq(mailbox_str(q.mailbox)));
    if let Some(s) = &q.service {
        base = base.add(Col::ServiceCode.eq(s.as_str()));
    }
    if let Some(b) = q.due_before {
        base = base.add(Col::StepDueAt.lt(b));
    }
    match q.overdue {
        Some(true) => base = base.add(Col::StepDueAt.lt(now)),
        Some(false) => base = base.add(Col::StepDueAt.gte(now)),
        None => {}
    }
    if let Some(id) = q.assignee {
        base = base.add(Col::AssigneeId.eq(id));
    }
    match &q.search {
        None => {}
        Some(Search::Iin(iin)) => base = base.add(Col::ApplicantIin.eq(iin.as_str())),
        Some(Search::Number(n)) => base = base.add(Col::Number.eq(n.as_str())),
        Some(Search::NamePrefix(p)) => {
            let key = name_key_expr(backend);
            base = base
                .add(key.clone().gte(p.as_str()))
                .add(key.lt(prefix_end(p)));
        }
    }
    let mut all = base.clone();
    if !q.stages.is_empty() {
        all = all.add(Col::Stage.is_in(q.stages.iter().map(|s| s.as_str())));
    }
    (base, all)
}

/// The counts of a query in the database: what a mailbox's tally answers for the queries it
/// can count ([`InboxQuery::counted_live`]), and the answer for the others.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    q: &InboxQuery,
    now: DateTime<Utc>,
    today: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Counts, ApiError> {
    use service_case::Column as Col;
    let (base, cond) = conditions(q, db.get_database_backend(), now);
    let total = service_case::Entity::find()
        .filter(cond.clone())
        .count(db)
        .await? as i64;
    let overdue = service_case::Entity::find()
        .filter(cond.clone())
        .filter(Col::StepDueAt.lt(now))
        .count(db)
        .await? as i64;
    let due_today = service_case::Entity::find()
        .filter(cond)
        .filter(Col::StepDueAt.gte(today.0))
        .filter(Col::StepDueAt.lt(today.1))
        .count(db)
        .await? as i64;
    #[derive(FromQueryResult)]
    struct StageCount {
        stage: String,
        n: i64,
    }
    let counted = service_case::Entity::find()
        .select_only()
        .column(Col::Stage)
        .column_as(
            Expr::expr(Func::count(Expr::col(Col::Id))).cast_as(Alias::new("BIGINT")),
            "n",
        )
        .filter(base)
        .group_by(Col::Stage)
        .into_model::<StageCount>()
        .all(db)
        .await?;
    let mut per_stage: Vec<(Stage, i64)> = counted
        .into_iter()
        .filter_map(|c| Stage::parse(&c.stage).map(|s| (s, c.n)))
        .collect();
    per_stage.sort_by_key(|(s, _)| *s as u8);
    Ok(Counts {
        total,
        overdue,
        due_today,
        per_stage,
    })
}

/// Reads one page: one keyset query.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    q: &InboxQuery,
    now: DateTime<Utc>,
) -> Result<InboxPage, ApiError> {
    use service_case::Column as Col;
    let (_, cond) = conditions(q, db.get_database_backend(), now);
    let key_col = if q.sort.by_due() {
        Col::StepDueAt
    } else {
        Col::RegisteredAt
    };
    let mut page_cond = cond;
    if let Some(after) = &q.after {
        let (key, id) = parse_cursor(q.sort, after)?;
        page_cond = page_cond.add(if q.sort.ascending() {
            Condition::any()
                .add(key_col.gt(key))
                .add(Condition::all().add(key_col.eq(key)).add(Col::Id.gt(id)))
        } else {
            Condition::any()
                .add(key_col.lt(key))
                .add(Condition::all().add(key_col.eq(key)).add(Col::Id.lt(id)))
        });
    }
    let find = service_case::Entity::find().filter(page_cond);
    let find = if q.sort.ascending() {
        find.order_by_asc(key_col).order_by_asc(Col::Id)
    } else {
        find.order_by_desc(key_col).order_by_desc(Col::Id)
    };
    let mut rows = find.limit(q.size + 1).all(db).await?;
    let has_next_page = rows.len() as u64 > q.size;
    rows.truncate(q.size as usize);
    let end_cursor = rows.last().map(|c| {
        let key = if q.sort.by_due() {
            c.step_due_at.unwrap_or_else(far_future)
        } else {
            c.registered_at
        };
        cursor(q.sort, key, c.id)
    });
    Ok(InboxPage {
        rows,
        end_cursor,
        has_next_page,
    })
}

/// The cases a mailbox holds now, as its live tally keeps them: id, version, due time, stage.
pub async fn held<C: ConnectionTrait>(
    db: &C,
    org: i64,
    mailbox: Mailbox,
) -> Result<Vec<(i64, i32, Option<DateTime<Utc>>, String)>, ApiError> {
    use service_case::Column as Col;
    Ok(service_case::Entity::find()
        .select_only()
        .columns([Col::Id, Col::Version, Col::StepDueAt, Col::Stage])
        .filter(Col::CurrentOrgId.eq(org))
        .filter(Col::CurrentMailbox.eq(mailbox_str(mailbox)))
        .into_tuple()
        .all(db)
        .await?)
}

/// A case entering (`true`) or leaving a mailbox, and when.
pub type MailboxMove = (i64, bool, DateTime<Utc>);

/// The moves into and out of a mailbox after `since`, oldest first, at most `limit` (a caller
/// that gets `limit` asks for a resynchronisation instead). Steps begun and finished at the same
/// instant (intake at a counter) are not moves through the mailbox, as they are not live either.
pub async fn moves_since<C: ConnectionTrait>(
    db: &C,
    org: i64,
    mailbox: Mailbox,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<MailboxMove>, ApiError> {
    use entity::case_step::{self, Column as S};
    let mine = || {
        case_step::Entity::find()
            .filter(S::OrganisationId.eq(org))
            .filter(S::Mailbox.eq(mailbox_str(mailbox)))
    };
    let entered: Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> = mine()
        .select_only()
        .columns([S::CaseId, S::StartedAt, S::FinishedAt])
        .filter(S::StartedAt.gt(since))
        .order_by_asc(S::StartedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let left: Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> = mine()
        .select_only()
        .columns([S::CaseId, S::StartedAt, S::FinishedAt])
        .filter(S::FinishedAt.gt(since))
        .order_by_asc(S::FinishedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let instant = |started: &DateTime<Utc>, finished: &Option<DateTime<Utc>>| {
        finished.as_ref() == Some(started)
    };
    let mut moves: Vec<MailboxMove> = entered
        .iter()
        .filter(|(_, s, f)| !instant(s, f))
        .map(|(id, s, _)| (*id, true, *s))
        .chain(
            left.iter()
                .filter(|(_, s, f)| !instant(s, f))
                .filter_map(|(id, _, f)| f.map(|f| (*id, false, f))),
        )
        .collect();
    // Entering before leaving at the same instant: a case passed on within one mailbox.
    moves.sort_by_key(|(id, entered, at)| (*at, !*entered, *id));
    moves.truncate(limit as usize);
    Ok(moves)
}

/// Fills the name search key of cases written before it existed (migration 11), in batches;
/// returns how many were filled. Idempotent: a second run finds none.
pub async fn fill_name_keys(db: &sea_orm::DatabaseConnection) -> Result<u64, ApiError> {
    use service_case::Column as Col;
    const BATCH: u64 = 500;
    let mut filled = 0;
    loop {
        let rows: Vec<(i64, String)> = service_case::Entity::find()
            .select_only()
            .column(Col::Id)
            .column(Col::ApplicantName)
            .filter(Col::ApplicantNameKey.is_null())
            .order_by_asc(Col::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        let txn = crate::store::begin_write(db).await?;
        for (id, name) in &rows {
            service_case::Entity::update_many()
                .col_expr(
                    Col::ApplicantNameKey,
                    Expr::value(domain::inbox::name_key(name)),
                )
                .filter(Col::Id.eq(*id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        filled += rows.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_read_back_under_its_own_sort_only() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).expect("instant");
        let c = cursor(InboxSort::RegisteredNewest, at, 42);
        assert_eq!(
            parse_cursor(InboxSort::RegisteredNewest, &c).ok(),
            Some((at, 42))
        );
        assert!(parse_cursor(InboxSort::DueSoonest, &c).is_err());
        assert!(parse_cursor(InboxSort::DueSoonest, "not a cursor").is_err());
    }
}
