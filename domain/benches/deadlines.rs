//! One million mixed legal-deadline computations, beside a naive day-by-day walk (the approach
//! the engine is built to avoid) measured in the same run.
//!
//! Run: `cargo bench -p domain --bench deadlines`

use std::hint::black_box;

use chrono::{DateTime, Days, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use domain::calendar::WorkingCalendar;
use domain::deadline::{DurationUnit, LegalDuration, WorkingClock, WorkingHours};
use domain::BUNDLED_CALENDAR;

const N: usize = 1_000_000;

fn inputs() -> Vec<(DateTime<Utc>, LegalDuration)> {
    // A fixed pseudo-random mix: every unit, terms from 1 to 60, starts across 2015–2026.
    let base = Utc
        .with_ymd_and_hms(2015, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let span = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .unwrap()
        .timestamp()
        - base;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..N)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = DateTime::from_timestamp(base + (x % span as u64) as i64, 0).unwrap();
            let unit = match x >> 60 & 3 {
                0 => DurationUnit::Minutes,
                1 => DurationUnit::Hours,
                2 => DurationUnit::WorkingDays,
                _ => DurationUnit::CalendarDays,
            };
            let value = 1 + (x >> 32) as u32 % 60;
            (start, LegalDuration::new(value, unit).unwrap())
        })
        .collect()
}

/// The peer: count working days one calendar day at a time (WORKING_DAYS only).
fn naive_working_days(
    cal: &WorkingCalendar,
    clock_tz: chrono_tz::Tz,
    start: DateTime<Utc>,
    n: u32,
) -> chrono::NaiveDate {
    let mut day = start.with_timezone(&clock_tz).date_naive();
    let mut left = n;
    while left > 0 {
        day = day + Days::new(1);
        if cal.is_working_day(day).unwrap_or(false) {
            left -= 1;
        }
    }
    day
}

fn bench(c: &mut Criterion) {
    let cal = WorkingCalendar::from_toml(BUNDLED_CALENDAR, 1).unwrap();
    let tz = chrono_tz::Asia::Almaty;
    let clock = WorkingClock::new(&cal, WorkingHours::provider_default(), tz);
    let work = inputs();
    let working_days: Vec<_> = work
        .iter()
        .map(|(s, d)| {
            (
                *s,
                LegalDuration::new(d.value, DurationUnit::WorkingDays).unwrap(),
            )
        })
        .collect();

    let mut group = c.benchmark_group("deadlines");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("engine, 1M mixed units", |b| {
        b.iter(|| {
            let mut acc = 0i64;
            for (start, d) in &work {
                acc ^= clock
                    .deadline(*start, *d)
                    .map(|due| due.at.timestamp())
                    .unwrap_or(0);
            }
            black_box(acc)
        })
    });
    group.bench_function("engine, 1M working-day terms", |b| {
        b.iter(|| {
            let mut acc = 0i64;
            for (start, d) in &working_days {
                acc ^= clock
                    .deadline(*start, *d)
                    .map(|due| due.at.timestamp())
                    .unwrap_or(0);
            }
            black_box(acc)
        })
    });
    group.bench_function("peer: naive day-by-day walk, 1M working-day terms", |b| {
        b.iter(|| {
            let mut acc = 0i64;
            for (start, d) in &working_days {
                acc ^= naive_working_days(&cal, tz, *start, d.value).num_days_from_ce() as i64;
            }
            black_box(acc)
        })
    });
    group.finish();
}

use chrono::Datelike;

criterion_group!(benches, bench);
criterion_main!(benches);
