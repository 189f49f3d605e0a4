//! What every GraphQL request must pass before it is validated or run, over HTTP and WebSocket
//! alike (an async-graphql extension):
//!
//! - **Text**: no string — in the query or its variables — may hold a NUL or another control
//!   character (tab, line feed and carriage return excepted), nor be longer than
//!   [`MAX_TEXT_CHARS`]; fields have stricter limits of their own (see docs/security.md,
//!   the limits). Refused with `BAD_USER_INPUT`; nothing runs.
//! - **Cost**: the query's cost is computed from the parsed document *before* async-graphql
//!   validates it, each fragment's cost computed once and reused however often it is spread (so
//!   a document of doubling fragments costs linear time to reject, not exponential), and list
//!   sizes multiplied through nesting: a field counts 1 plus its selection's cost times its page
//!   size (`first`, or the default page for paged fields). Above the limit, or with fragments
//!   nested deeper than [`MAX_FRAGMENT_DEPTH`] or spread in a cycle, the request is refused with
//!   `QUERY_TOO_COMPLEX`; nothing runs.

use std::collections::HashMap;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest,
};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{
    Name, Positioned, Request, Response, ServerError, ServerResult, Value, Variables,
};
use async_graphql_value::Value as QueryValue;

/// The longest string accepted anywhere in a request, in characters: a regulation or calendar
/// file an administrator imports is the longest text qyzmet takes. Free-text fields have their
/// own, much lower limits (validators on the field; see docs/security.md).
pub const MAX_TEXT_CHARS: usize = 128 * 1024;
/// The deepest chain of fragment spreads.
pub const MAX_FRAGMENT_DEPTH: usize = 32;
/// Fields whose lists are paged with `first` (default [`DEFAULT_PAGE`] when not given).
pub const PAGED_FIELDS: [&str; 4] = ["inbox", "myApplications", "overdueCases", "atRiskCases"];
/// The page size of a paged field without `first`.
pub const DEFAULT_PAGE: u64 = 50;
/// The largest page a paged field gives.
pub const MAX_PAGE: u64 = 200;

/// The extension (see the module documentation).
pub struct RequestGuard {
    /// The highest accepted cost.
    pub max_cost: u64,
    /// The deepest accepted selection, introspection (`__schema`, `__type`) excepted: it has
    /// its own bound (see `INTROSPECTION_DEPTH`).
    pub max_depth: usize,
}

/// The depth async-graphql allows any query, introspection included: the standard
/// introspection query needs 15; ordinary queries are held to `max_depth` by the guard.
pub const INTROSPECTION_DEPTH: usize = 20;

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guard {
            max_cost: self.max_cost,
            max_depth: self.max_depth,
            cost: AtomicU64::new(NOT_COUNTED),
        })
    }
}

struct Guard {
    max_cost: u64,
    max_depth: usize,
    /// This request's cost once counted, reported in the response's `extensions.cost`.
    cost: AtomicU64,
}

const NOT_COUNTED: u64 = u64::MAX;

/// `extensions.cost` of a response: what the query cost and the limit it is held to, so that a
/// client sees how close it is before it is refused.
fn cost_report(requested: u64, limit: u64) -> Value {
    let mut map = async_graphql::indexmap::IndexMap::new();
    map.insert(Name::new("requested"), Value::from(requested));
    map.insert(Name::new("limit"), Value::from(limit));
    Value::Object(map)
}

fn refuse(code: &str, message: String) -> ServerError {
    let mut e = ServerError::new(message, None);
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    e
}

const CONTROL: &str = "text must not contain NUL or other control characters";

/// A character no text may hold: a control character other than tab, line feed, carriage return.
pub fn forbidden_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The marker async-graphql puts in a variable for each uploaded file (`…:<index>`).
const UPLOAD_MARKER: &str = "#__graphql_file__:";

/// Whether a request names an uploaded file it does not carry: the upload marker in the query
/// text, or in a variable that is not one of this request's files. async-graphql trusts the
/// marker (an unknown index panics when the file is read, a non-number when it is parsed), so
/// only the multipart reader may write it.
fn forges_an_upload(request: &async_graphql::Request) -> bool {
    fn forged(v: &async_graphql::Value, uploads: usize) -> bool {
        match v {
            async_graphql::Value::String(s) => s
                .strip_prefix(UPLOAD_MARKER)
                .is_some_and(|i| i.parse::<usize>().map_or(true, |i| i >= uploads)),
            async_graphql::Value::List(items) => items.iter().any(|i| forged(i, uploads)),
            async_graphql::Value::Object(fields) => fields.values().any(|f| forged(f, uploads)),
            _ => false,
        }
    }
    request.query.contains("__graphql_file__")
        || request
            .variables
            .iter()
            .any(|(_, v)| forged(v, request.uploads.len()))
}

/// Why a text is not accepted, if it is not.
pub fn text_problem(s: &str) -> Option<String> {
    if s.chars().any(forbidden_char) {
        return Some(CONTROL.into());
    }
    let n = s.chars().count();
    (n > MAX_TEXT_CHARS)
        .then(|| format!("a text of {n} characters exceeds the limit of {MAX_TEXT_CHARS}"))
}

fn value_problem(v: &Value, depth: usize) -> Option<String> {
    if depth > 64 {
        return Some("variables are nested too deep".into());
    }
    match v {
        Value::String(s) => text_problem(s),
        Value::List(items) => items.iter().find_map(|x| value_problem(x, depth + 1)),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, x)| text_problem(k.as_str()).or_else(|| value_problem(x, depth + 1))),
        _ => None,
    }
}

fn query_value_problem(v: &QueryValue, depth: usize) -> Option<String> {
    if depth > 64 {
        return Some("arguments are nested too deep".into());
    }
    match v {
        QueryValue::String(s) => text_problem(s),
        QueryValue::List(items) => items.iter().find_map(|x| query_value_problem(x, depth + 1)),
        QueryValue::Object(map) => map.values().find_map(|x| query_value_problem(x, depth + 1)),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Extension for Guard {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        match self.cost.load(Ordering::Relaxed) {
            NOT_COUNTED => response,
            cost => response.extension("cost", cost_report(cost, self.max_cost)),
        }
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // The query text itself: control characters are not GraphQL outside strings either.
        if request.query.chars().any(forbidden_char) {
            return Err(refuse("BAD_USER_INPUT", CONTROL.into()));
        }
        if forges_an_upload(&request) {
            return Err(refuse(
                "BAD_USER_INPUT",
                "a file is sent as a part of a multipart request, never as a string".into(),
            ));
        }
        let vars = Value::Object(
            request
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        if let Some(p) = value_problem(&vars, 0) {
            return Err(refuse("BAD_USER_INPUT", p));
        }
        // Parsed here (linear) and kept for async-graphql, whose own checks walk fragment
        // spreads without memoising: they run only on a document whose cost is bounded.
        let mut request = request;
        let variables = request.variables.clone();
        let doc = request.parsed_query()?;
        let mut cost = Cost {
            doc,
            variables: &variables,
            fragments: HashMap::new(),
        };
        let mut total: u64 = 0;
        let mut deepest = 0;
        for (_, op) in doc.operations.iter() {
            let (c, d) = cost
                .selection(&op.node.selection_set.node, 0)
                .map_err(|m| refuse("QUERY_TOO_COMPLEX", m))?;
            total = total.saturating_add(c);
            deepest = deepest.max(d);
        }
        if deepest > self.max_depth {
            return Err(refuse(
                "QUERY_TOO_DEEP",
                format!(
                    "the query is nested too deep: {deepest} levels, above the limit of {}",
                    self.max_depth
                ),
            ));
        }
        // String literals inside the query are text too.
        if let Some(p) = cost.literal_problem() {
            return Err(refuse("BAD_USER_INPUT", p));
        }
        self.cost
            .store(total.min(NOT_COUNTED - 1), Ordering::Relaxed);
        if total > self.max_cost {
            let mut e = refuse(
                "QUERY_TOO_COMPLEX",
                format!(
                    "the query costs {total}, above the limit of {} (each field counts 1, \
                     a list field its selection times its page size)",
                    self.max_cost
                ),
            );
            if let Some(ext) = e.extensions.as_mut() {
                ext.set("cost", total);
                ext.set("limit", self.max_cost);
            }
            return Err(e);
        }
        next.run(ctx, request).await
    }
}

/// Query cost with each fragment's cost memoised.
struct Cost<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Cost and depth of each fragment; `None` while it is being computed (a spread of it then
    /// is a cycle).
    fragments: HashMap<Name, Option<(u64, usize)>>,
}

impl Cost<'_> {
    /// The cost of a selection set and its depth in fields (introspection fields count 1 and
    /// 0: their subtree is bounded by async-graphql's own limits).
    fn selection(&mut self, set: &SelectionSet, depth: usize) -> Result<(u64, usize), String> {
        if depth > MAX_FRAGMENT_DEPTH * 4 {
            return Err("the query is nested too deep".into());
        }
        let mut total: u64 = 0;
        let mut deepest = 0;
        for item in &set.items {
            let (c, d) = match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    if f.name.node.starts_with("__") {
                        (1, 0)
                    } else {
                        let (inner, inner_depth) =
                            self.selection(&f.selection_set.node, depth + 1)?;
                        let page = self.page(f.name.node.as_str(), &f.arguments);
                        (
                            1u64.saturating_add(inner.saturating_mul(page)),
                            inner_depth + 1,
                        )
                    }
                }
                Selection::InlineFragment(i) => {
                    self.selection(&i.node.selection_set.node, depth + 1)?
                }
                Selection::FragmentSpread(s) => {
                    self.fragment(&s.node.fragment_name.node, depth + 1)?
                }
            };
            total = total.saturating_add(c);
            deepest = deepest.max(d);
        }
        Ok((total, deepest))
    }

    fn fragment(&mut self, name: &Name, depth: usize) -> Result<(u64, usize), String> {
        match self.fragments.get(name) {
            Some(Some(c)) => return Ok(*c),
            Some(None) => return Err(format!("fragment {name} spreads itself")),
            None => {}
        }
        if depth > MAX_FRAGMENT_DEPTH {
            return Err("fragments are nested too deep".into());
        }
        let doc = self.doc;
        let Some(def): Option<&Positioned<FragmentDefinition>> = doc.fragments.get(name) else {
            // Unknown fragments are reported by validation.
            return Ok((0, 0));
        };
        self.fragments.insert(name.clone(), None);
        let c = self.selection(&def.node.selection_set.node, depth)?;
        self.fragments.insert(name.clone(), Some(c));
        Ok(c)
    }

    /// The page size of a field: its `first` (a literal or a variable), the default page for a
    /// paged field, 1 otherwise.
    fn page(&self, field: &str, args: &[(Positioned<Name>, Positioned<QueryValue>)]) -> u64 {
        let first = args
            .iter()
            .find(|(n, _)| n.node.as_str() == "first")
            .and_then(|(_, v)| match &v.node {
                QueryValue::Number(n) => n.as_u64(),
                QueryValue::Variable(var) => self.variables.get(var).and_then(|v| match v {
                    Value::Number(n) => n.as_u64(),
                    _ => None,
                }),
                _ => None,
            });
        match first {
            Some(n) => n.clamp(1, MAX_PAGE),
            None if PAGED_FIELDS.contains(&field) => DEFAULT_PAGE,
            None => 1,
        }
    }

    /// A string literal in the query that is not acceptable text.
    fn literal_problem(&self) -> Option<String> {
        fn in_set(set: &SelectionSet, depth: usize) -> Option<String> {
            if depth > 256 {
                return None;
            }
            set.items.iter().find_map(|item| match &item.node {
                Selection::Field(f) => f
                    .node
                    .arguments
                    .iter()
                    .find_map(|(_, v)| query_value_problem(&v.node, 0))
                    .or_else(|| in_set(&f.node.selection_set.node, depth + 1)),
                Selection::InlineFragment(i) => in_set(&i.node.selection_set.node, depth + 1),
                Selection::FragmentSpread(_) => None,
            })
        }
        self.doc
            .operations
            .iter()
            .find_map(|(_, op)| in_set(&op.node.selection_set.node, 0))
            .or_else(|| {
                self.doc
                    .fragments
                    .values()
                    .find_map(|f| in_set(&f.node.selection_set.node, 0))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_marker_is_forged_unless_it_names_a_file_the_request_carries() {
        let with = |vars: serde_json::Value| {
            async_graphql::Request::new("mutation($f: Upload!) { x(f: $f) }")
                .variables(async_graphql::Variables::from_json(vars))
        };
        assert!(forges_an_upload(&with(
            serde_json::json!({ "f": "#__graphql_file__:0" })
        )));
        assert!(forges_an_upload(&with(
            serde_json::json!({ "f": ["#__graphql_file__:x"] })
        )));
        assert!(forges_an_upload(&with(
            serde_json::json!({ "o": { "f": "#__graphql_file__:9" } })
        )));
        assert!(!forges_an_upload(&with(
            serde_json::json!({ "f": "scan.pdf" })
        )));
        assert!(forges_an_upload(&async_graphql::Request::new(
            "{ x(f: \"#__graphql_file__:0\") }"
        )));
    }

    fn cost_of(query: &str) -> Result<u64, String> {
        let doc = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        let vars = Variables::default();
        let mut c = Cost {
            doc: &doc,
            variables: &vars,
            fragments: HashMap::new(),
        };
        let mut total = 0u64;
        for (_, op) in doc.operations.iter() {
            total = total.saturating_add(c.selection(&op.node.selection_set.node, 0)?.0);
        }
        Ok(total)
    }

    #[test]
    fn doubling_fragments_cost_exponentially_but_are_counted_in_linear_time() {
        let mut q = String::from("query { ...F30 }\nfragment F0 on Query { regions { code } }\n");
        for i in 1..=30 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
                p = i - 1
            ));
        }
        // Memoised: each fragment is counted once (walking the spreads would take 2^30 steps
        // and never finish within the test's run).
        let c = cost_of(&q).expect("counted");
        assert_eq!(
            c,
            2u64.pow(30) * 2,
            "each of the 2^30 spreads of F0 costs 2"
        );
    }

    #[test]
    fn lists_multiply_their_selection_by_the_page_size() {
        assert_eq!(
            cost_of("{ inbox(mailbox: OFFICE, first: 10) { totalCount } }"),
            Ok(11)
        );
        assert_eq!(cost_of("{ inbox(mailbox: OFFICE) { totalCount } }"), Ok(51));
        assert_eq!(
            cost_of("{ inbox(mailbox: OFFICE, first: 100000) { totalCount } }"),
            Ok(201)
        );
        assert_eq!(cost_of("{ regions { code name } }"), Ok(3));
    }

    #[test]
    fn a_fragment_that_spreads_itself_is_refused() {
        assert!(
            cost_of("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").is_err()
        );
    }

    #[test]
    fn control_characters_and_overlong_text_are_refused() {
        assert!(text_problem("Айгүл\u{0}").is_some());
        assert!(text_problem("line one\nline two\ttab").is_none());
        assert!(text_problem(&"я".repeat(MAX_TEXT_CHARS)).is_none());
        assert!(text_problem(&"я".repeat(MAX_TEXT_CHARS + 1)).is_some());
    }
}
