//! Differential test: thousands of random expressions, in zones with and without DST, compared
//! fire by fire with a reference of Debian cron's rules (`debian_cron.py`, cronsim, run with the
//! tools venv's Python that scripts/setup installs from tools/requirements.txt).
//!
//! Where the two are meant to differ, DST, the reference applies the SPEC's rule itself (see the
//! script); nothing is excluded from the comparison. Expressions use every field form: `*`,
//! `*/N`, `N`, `N-M`, `N-M/S`, `N/S`, lists, month and day names in any case, `7` for Sunday,
//! and the macros.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use app::model::FireTime;

use super::{Cron, CronError, DayRule};

const CASES: usize = 4000;
const FIRES: usize = 12;
/// Fires are compared up to this far ahead: cronsim gives up after 50 years without a match.
const HORIZON_YEARS: i64 = 40;
const ZONES: [&str; 8] = [
    "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney", "America/Sao_Paulo", "Asia/Kolkata", "Australia/Lord_Howe",
    "UTC",
];

/// xorshift64*: the same cases on every machine, no dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn within(&mut self, low: u32, high: u32) -> u32 {
        low + self.below(u64::from(high - low + 1)) as u32
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct FieldShape {
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Values drawn more often (the hours DST moves).
    hot: &'static [u32],
}

const MINUTE: FieldShape = FieldShape { min: 0, max: 59, names: &[], hot: &[0, 30, 45] };
const HOUR: FieldShape = FieldShape { min: 0, max: 23, names: &[], hot: &[1, 2, 3] };
const DAY_OF_MONTH: FieldShape = FieldShape { min: 1, max: 31, names: &[], hot: &[1, 13, 29, 30, 31] };
const MONTH: FieldShape = FieldShape {
    min: 1,
    max: 12,
    names: &["jan", "FEB", "Mar", "apr", "MAY", "jun", "JUL", "aug", "SEP", "oct", "NOV", "Dec"],
    hot: &[2, 3, 10, 11],
};
const DAY_OF_WEEK: FieldShape = FieldShape { min: 0, max: 7, names: &["sun", "MON", "Tue", "wed", "THU", "fri", "SAT"], hot: &[0, 7] };

fn value(random: &mut Random, shape: &FieldShape) -> u32 {
    if random.chance(30) {
        shape.hot[random.below(shape.hot.len() as u64) as usize]
    } else {
        random.within(shape.min, shape.max)
    }
}

/// A value as written: a name where the field has them, now and then (not `7`, which has none).
fn written(random: &mut Random, shape: &FieldShape, value: u32) -> String {
    let index = (value - shape.min) as usize;
    match shape.names.get(index) {
        Some(name) if random.chance(40) => name.to_string(),
        _ => value.to_string(),
    }
}

fn item(random: &mut Random, shape: &FieldShape) -> String {
    let step = |random: &mut Random| random.within(1, (shape.max - shape.min) / 2 + 2);
    match random.below(6) {
        0 => format!("*/{}", step(random)),
        1 | 2 => {
            let v = value(random, shape);
            written(random, shape, v)
        }
        3 | 4 => {
            let (a, b) = (value(random, shape), value(random, shape));
            let range = format!("{}-{}", written(random, shape, a.min(b)), written(random, shape, a.max(b)));
            if random.chance(40) {
                format!("{range}/{}", step(random))
            } else {
                range
            }
        }
        _ => {
            let v = value(random, shape);
            format!("{}/{}", written(random, shape, v), step(random))
        }
    }
}

/// A field: `*` at `star` percent, else a list of one to three items.
fn field(random: &mut Random, shape: &FieldShape, star: u64) -> String {
    if random.chance(star) {
        return "*".into();
    }
    let count = if random.chance(70) { 1 } else { random.within(2, 3) };
    (0..count).map(|_| item(random, shape)).collect::<Vec<_>>().join(",")
}

fn expression(random: &mut Random) -> String {
    if random.chance(2) {
        let macros = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
        return macros[random.below(macros.len() as u64) as usize].into();
    }
    // Minutes and hours mostly fixed, so the fires spread over many days and the day fields
    // decide; the day fields are where the rules differ.
    let minute = if random.chance(75) {
        let v = value(random, &MINUTE);
        written(random, &MINUTE, v)
    } else {
        field(random, &MINUTE, 10)
    };
    let hour = if random.chance(60) {
        let v = value(random, &HOUR);
        written(random, &HOUR, v)
    } else {
        field(random, &HOUR, 15)
    };
    let day_of_month = field(random, &DAY_OF_MONTH, 30);
    let month = field(random, &MONTH, 60);
    let day_of_week = field(random, &DAY_OF_WEEK, 30);
    format!("{minute} {hour} {day_of_month} {month} {day_of_week}")
}

/// A start instant on a whole minute between 2026 and 2036: half of them in the day
/// before one of the zone's DST changes, so the fires that follow cross it.
fn start(random: &mut Random, zone: Tz) -> DateTime<Utc> {
    let year = random.within(2026, 2036) as i32;
    if random.chance(50) {
        let changes = dst_changes(zone, year);
        if !changes.is_empty() {
            let change = changes[random.below(changes.len() as u64) as usize];
            return change - Duration::minutes(i64::from(random.within(1, 24 * 60)));
        }
    }
    let month = random.within(1, 12);
    let day = random.within(1, 28);
    let minute = random.within(0, 24 * 60 - 1);
    Utc.with_ymd_and_hms(year, month, day, minute / 60, minute % 60, 0).single().expect("a valid start")
}

/// The instants, to the hour, around which the zone's UTC offset changes in `year`.
fn dst_changes(zone: Tz, year: i32) -> Vec<DateTime<Utc>> {
    let offset = |at: DateTime<Utc>| zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    let mut changes = Vec::new();
    let mut at = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single().expect("new year");
    let end = Utc.with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0).single().expect("new year");
    while at < end {
        let next = at + Duration::hours(1);
        if offset(at) != offset(next) {
            changes.push(next);
        }
        at = next;
    }
    changes
}

fn ours(expression: &str, zone: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<FireTime>, CronError> {
    let cron = Cron::parse(expression, zone)?;
    Ok(cron.preview(from, FIRES).into_iter().take_while(|fire| fire.at <= until).collect())
}

/// A day field that starts with `*` but is not `*` (`*/2`, `*,5`) while the other is restricted:
/// the cases where an OR reading of `*/N` would differ.
fn star_step_beside_restricted(expression: &str) -> bool {
    let fields: Vec<&str> = expression.split(' ').collect();
    let odd = |field: &str| field.starts_with('*') && field != "*";
    fields.len() == 5 && ((odd(fields[2]) && fields[4] != "*") || (odd(fields[4]) && fields[2] != "*"))
}

#[test]
fn matches_debian_cron_on_random_expressions() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let python = format!("{root}/.tools/venv/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/schedules/cron/debian_cron.py");
    let mut reference = Command::new(&python)
        .arg(script)
        // The zone data of the pinned `tzdata` package (the IANA release chrono-tz is built
        // from), not the machine's.
        .env("PYTHONTZPATH", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {python} (run scripts/setup test, which installs cronsim): {err}"));
    let mut to_reference = reference.stdin.take().expect("piped stdin");
    let mut from_reference = BufReader::new(reference.stdout.take().expect("piped stdout")).lines();

    let mut random = Random(0x5eed_c0de_2026_1203);
    let (mut compared, mut fires, mut moved_by_dst, mut rule_or, mut star_steps) = (0, 0, 0, 0, 0);
    let mut differences = Vec::new();
    for _ in 0..CASES {
        let expression = expression(&mut random);
        let zone = ZONES[random.below(ZONES.len() as u64) as usize];
        let from = start(&mut random, zone.parse().expect("a known zone"));
        let until = from + Duration::days(365 * HORIZON_YEARS);
        let case = json!({"expression": expression, "zone": zone, "from": from.to_rfc3339(), "until": until.to_rfc3339(), "count": FIRES});
        writeln!(to_reference, "{case}").expect("the reference reads its input");
        let line = from_reference.next().expect("the reference answers every case").expect("a line");
        let answer: Value = serde_json::from_str(&line).expect("JSON from the reference");
        let theirs =
            answer["fires"].as_array().map(|fires| fires.iter().map(|at| at.as_str().unwrap_or_default().to_string()).collect::<Vec<_>>());
        let mine = ours(&expression, zone, from, until);
        let mine_written =
            mine.as_ref().map(|fires| fires.iter().map(|fire| fire.at.format("%Y-%m-%dT%H:%M:%SZ").to_string()).collect::<Vec<_>>());
        match (&mine_written, &theirs) {
            (Ok(written), Some(theirs)) if written == theirs => {
                compared += 1;
                fires += written.len();
                moved_by_dst += mine.iter().flatten().filter(|fire| fire.dst.is_some()).count();
                rule_or += usize::from(Cron::parse(&expression, zone).is_ok_and(|cron| cron.days().rule == DayRule::Either));
                star_steps += usize::from(star_step_beside_restricted(&expression));
            }
            // Both refuse it, or we refuse what never fires and the reference finds no time.
            (Err(_), None) => compared += 1,
            (Err(CronError::Expression(why)), Some(theirs)) if theirs.is_empty() && why.contains("never fires") => compared += 1,
            _ => differences.push(format!("`{expression}` in {zone} after {from}: ours {mine_written:?}, Debian {answer}")),
        }
    }
    drop(to_reference);
    let _ = reference.wait();
    eprintln!(
        "{compared} of {CASES} cases agree: {fires} fires, {moved_by_dst} of them in a DST change; {rule_or} cases with the day fields OR'd, {star_steps} with a `*`-led day field beside a restricted one"
    );
    assert!(
        differences.is_empty(),
        "{} of {CASES} cases differ from Debian cron:\n{}",
        differences.len(),
        differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert_eq!(compared, CASES);
}
