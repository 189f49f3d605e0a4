//! A mailbox's live counts — how many cases it holds, how many are overdue, how many fall due
//! today, per stage — kept exactly from the changes it is told of, in any order, and read at any
//! `now` without walking the mailbox.
//!
//! How: per stage, the cases ordered by due time, and for each instant counts are asked at (now,
//! the start and the end of "today"), a *frontier* that remembers how many cases fall before it.
//! Moving a frontier walks only the cases between its old and its new place; since `now` only
//! advances, a read costs the cases that became overdue since the last read. A case placed or
//! removed before a frontier moves its count by one.
//!
//! Changes may arrive twice or out of order (a node hears its own move at once and another
//! node's a moment later): each carries the case's version, and a change older than what is
//! known of the case is ignored. What is known of cases that left is kept for the last
//! [`REMEMBERED_DEPARTURES`] of them.

use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::case::Stage;

/// How many departed cases' versions are remembered (to ignore their older changes that arrive
/// late); a bound on memory, far above what a few seconds of reordering can need.
pub const REMEMBERED_DEPARTURES: usize = 4096;

const STAGES: usize = Stage::ALL.len();
/// The sort key of a step with no due time: after every real one, never overdue.
const NO_DUE: i64 = i64::MAX;

/// A mailbox's counts at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Cases held.
    pub total: i64,
    /// Of which the step is due before `now`.
    pub overdue: i64,
    /// Of which the step is due within "today" (`domain::inbox::due_today`).
    pub due_today: i64,
    /// Cases per stage, over every stage whatever was asked, in the stages' order; stages with
    /// none left out.
    pub per_stage: Vec<(Stage, i64)>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    version: i32,
    due: i64,
    stage: usize,
}

/// A count of the entries before an instant.
#[derive(Clone, Copy, Debug)]
struct Frontier {
    at: i64,
    below: usize,
}

impl Default for Frontier {
    fn default() -> Frontier {
        Frontier {
            at: i64::MIN,
            below: 0,
        }
    }
}

impl Frontier {
    /// Moves to `x`, counting the entries crossed; returns how many are before `x`.
    fn move_to(&mut self, set: &BTreeSet<(i64, i64)>, x: i64) -> usize {
        use std::cmp::Ordering::*;
        match x.cmp(&self.at) {
            Greater => self.below += set.range((self.at, i64::MIN)..(x, i64::MIN)).count(),
            Less => self.below -= set.range((x, i64::MIN)..(self.at, i64::MIN)).count(),
            Equal => {}
        }
        self.at = x;
        self.below
    }

    fn inserted(&mut self, due: i64) {
        if due < self.at {
            self.below += 1;
        }
    }

    fn removed(&mut self, due: i64) {
        if due < self.at {
            self.below -= 1;
        }
    }
}

/// The cases of one stage, by due time, with the frontiers counts are read at.
#[derive(Default)]
struct Lane {
    due: BTreeSet<(i64, i64)>,
    /// now, start of today, end of today.
    frontiers: [Frontier; 3],
}

/// One mailbox's live counts. See the module's documentation.
pub struct Tally {
    cases: HashMap<i64, Entry>,
    lanes: Vec<Lane>,
    departed: HashMap<i64, i32>,
    departed_order: VecDeque<i64>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

fn key(due: Option<DateTime<Utc>>) -> i64 {
    due.map_or(NO_DUE, |d| d.timestamp_micros())
}

fn index(stage: Stage) -> usize {
    Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0)
}

impl Tally {
    /// An empty mailbox.
    pub fn new() -> Tally {
        Tally {
            cases: HashMap::new(),
            lanes: (0..STAGES).map(|_| Lane::default()).collect(),
            departed: HashMap::new(),
            departed_order: VecDeque::new(),
        }
    }

    /// Cases held.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// The version of the case last seen, here or departed.
    fn known(&self, id: i64) -> Option<i32> {
        self.cases
            .get(&id)
            .map(|e| e.version)
            .or_else(|| self.departed.get(&id).copied())
    }

    fn unlink(&mut self, id: i64) {
        if let Some(e) = self.cases.remove(&id) {
            let lane = &mut self.lanes[e.stage];
            lane.due.remove(&(e.due, id));
            for f in &mut lane.frontiers {
                f.removed(e.due);
            }
        }
    }

    /// The case is here at `version`, due at `due` in `stage`. Returns whether the counts
    /// changed (false for a change older than what is known of the case, or a repeat).
    pub fn place(
        &mut self,
        id: i64,
        version: i32,
        due: Option<DateTime<Utc>>,
        stage: Stage,
    ) -> bool {
        if self.known(id).is_some_and(|v| v >= version) {
            return false;
        }
        self.unlink(id);
        self.departed.remove(&id);
        let (due, stage) = (key(due), index(stage));
        let lane = &mut self.lanes[stage];
        lane.due.insert((due, id));
        for f in &mut lane.frontiers {
            f.inserted(due);
        }
        self.cases.insert(
            id,
            Entry {
                version,
                due,
                stage,
            },
        );
        true
    }

    /// The case is no longer here as of `version` (it moved elsewhere or closed). Returns
    /// whether the counts changed.
    pub fn leave(&mut self, id: i64, version: i32) -> bool {
        if self.known(id).is_some_and(|v| v >= version) {
            return false;
        }
        let held = self.cases.contains_key(&id);
        self.unlink(id);
        if self.departed.insert(id, version).is_none() {
            self.departed_order.push_back(id);
            while self.departed_order.len() > REMEMBERED_DEPARTURES {
                if let Some(old) = self.departed_order.pop_front() {
                    self.departed.remove(&old);
                }
            }
        }
        held
    }

    /// The counts at `now`, "today" being `today` (from, to), over `stages` (empty: every
    /// stage). `per_stage` always covers every stage, like an inbox's tab bar.
    pub fn counts(
        &mut self,
        now: DateTime<Utc>,
        today: (DateTime<Utc>, DateTime<Utc>),
        stages: &[Stage],
    ) -> Counts {
        let at = [now, today.0, today.1].map(|t| t.timestamp_micros());
        let mut c = Counts::default();
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            let n = lane.due.len() as i64;
            if n > 0 {
                c.per_stage.push((Stage::ALL[i], n));
            }
            if !(stages.is_empty() || stages.contains(&Stage::ALL[i])) {
                continue;
            }
            let [overdue, before_today, before_end] = [0, 1, 2].map(|k| {
                let Lane { due, frontiers } = lane;
                frontiers[k].move_to(due, at[k]) as i64
            });
            c.total += n;
            c.overdue += overdue;
            c.due_today += before_end - before_today;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + minutes * 60, 0).expect("instant")
    }

    #[test]
    fn counts_follow_placements_departures_and_time() {
        let mut m = Tally::new();
        assert!(m.place(1, 1, Some(t(10)), Stage::Resolution));
        assert!(m.place(2, 1, Some(t(100)), Stage::Resolution));
        assert!(m.place(3, 1, None, Stage::Sign));
        let day = (t(0), t(60));
        let c = m.counts(t(0), day, &[]);
        assert_eq!((c.total, c.overdue, c.due_today), (3, 0, 1));
        assert_eq!(c.per_stage, vec![(Stage::Resolution, 2), (Stage::Sign, 1)]);
        // Time passes: case 1 is overdue; a case due in the past arrives; case 2 leaves.
        let c = m.counts(t(30), (t(30), t(60)), &[]);
        assert_eq!((c.total, c.overdue, c.due_today), (3, 1, 0));
        assert!(m.place(4, 1, Some(t(5)), Stage::Resolution));
        assert!(m.leave(2, 2));
        let c = m.counts(t(30), (t(30), t(60)), &[Stage::Resolution]);
        assert_eq!((c.total, c.overdue, c.due_today), (2, 2, 0));
        // The clock may be set back (tests, a corrected clock): frontiers walk back too; at
        // t(0) nothing is overdue and cases 1 and 4 are due within the hour.
        let c = m.counts(t(0), day, &[]);
        assert_eq!((c.total, c.overdue, c.due_today), (3, 0, 2));
    }

    #[test]
    fn late_and_repeated_changes_are_ignored() {
        let mut m = Tally::new();
        // Version 3 (left) heard before version 2 (arrived): the case is not here.
        assert!(!m.leave(7, 3));
        assert!(!m.place(7, 2, Some(t(1)), Stage::Prepare));
        assert_eq!(m.len(), 0);
        // A repeat of the newest placement changes nothing; a newer one moves the case.
        assert!(m.place(7, 4, Some(t(1)), Stage::Prepare));
        assert!(!m.place(7, 4, Some(t(1)), Stage::Prepare));
        assert!(m.place(7, 5, Some(t(9)), Stage::Sign));
        let c = m.counts(t(5), (t(5), t(10)), &[]);
        assert_eq!((c.total, c.overdue, c.due_today), (1, 0, 1));
        assert_eq!(c.per_stage, vec![(Stage::Sign, 1)]);
    }

    #[test]
    fn departures_remembered_are_bounded() {
        let mut m = Tally::new();
        for id in 0..(REMEMBERED_DEPARTURES as i64 + 10) {
            m.leave(id, 1);
        }
        assert_eq!(m.departed.len(), REMEMBERED_DEPARTURES);
        assert_eq!(m.departed_order.len(), REMEMBERED_DEPARTURES);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Place(i64, Option<i64>, usize),
        Leave(i64),
        Read(i64, i64, Vec<usize>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..20i64, proptest::option::of(0..200i64), 0..STAGES)
                .prop_map(|(id, due, s)| Op::Place(id, due, s)),
            (0..20i64).prop_map(Op::Leave),
            (
                0..200i64,
                0..100i64,
                proptest::collection::vec(0..STAGES, 0..3)
            )
                .prop_map(|(now, len, s)| Op::Read(now, len, s)),
        ]
    }

    proptest! {
        /// Whatever the order of changes and reads, the counts are those of the cases held,
        /// counted one by one.
        #[test]
        fn counts_equal_a_plain_count(ops in proptest::collection::vec(op(), 1..200)) {
            let mut m = Tally::new();
            let mut held: HashMap<i64, (Option<i64>, usize)> = HashMap::new();
            let mut version = 0;
            for o in ops {
                version += 1;
                match o {
                    Op::Place(id, due, s) => {
                        m.place(id, version, due.map(t), Stage::ALL[s]);
                        held.insert(id, (due, s));
                    }
                    Op::Leave(id) => {
                        m.leave(id, version);
                        held.remove(&id);
                    }
                    Op::Read(now, len, stages) => {
                        let stages: Vec<Stage> = stages.iter().map(|s| Stage::ALL[*s]).collect();
                        let c = m.counts(t(now), (t(now), t(now + len)), &stages);
                        let chosen = held.values().filter(|(_, s)| {
                            stages.is_empty() || stages.contains(&Stage::ALL[*s])
                        });
                        let total = chosen.clone().count() as i64;
                        let overdue = chosen.clone().filter(|(d, _)| d.is_some_and(|d| d < now)).count() as i64;
                        let today = chosen
                            .filter(|(d, _)| d.is_some_and(|d| d >= now && d < now + len))
                            .count() as i64;
                        prop_assert_eq!((c.total, c.overdue, c.due_today), (total, overdue, today));
                        prop_assert_eq!(c.per_stage.iter().map(|(_, n)| n).sum::<i64>(), held.len() as i64);
                    }
                }
            }
        }
    }
}
