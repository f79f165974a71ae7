//! Cron expressions as PyTask accepts them: the 5-field Vixie dialect (ranges, lists, steps,
//! `JAN`/`MON` names, `@hourly`…`@yearly`, day-of-month OR day-of-week), evaluated in an IANA
//! zone.
//!
//! croner matches expressions and describes them in words; it also knows Quartz extensions
//! (`L`, `W`, `#`, `?`, seconds, years), which `parse` refuses before croner sees them, so every
//! mistake is named by field. croner's own DST handling differs between "fixed" and "interval"
//! jobs; the SPEC wants one rule for all, so croner searches *local wall-clock* times (in UTC,
//! which has no DST) and `Cron::next_after` maps them onto instants itself:
//! a local time that does not exist fires once at the first instant after the gap, one that
//! occurs twice fires once, at its first occurrence.

use std::fmt;

use app::model::{DstShift, FireTime};
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

/// What is wrong with an expression or a zone, in words that say what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronError {
    Expression(String),
    Zone(String),
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronError::Expression(message) | CronError::Zone(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CronError {}

/// A checked expression in its zone.
#[derive(Debug, Clone)]
pub struct Cron {
    /// As stored and shown: trimmed, fields separated by one space.
    pub expression: String,
    pub zone: Tz,
    cron: croner::Cron,
}

const ACCEPTED: &str = "5 fields (minute hour day-of-month month day-of-week) or one of @hourly @daily @weekly @monthly @yearly";

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [Field; 5] = [
    Field { name: "minute", min: 0, max: 59, names: &[] },
    Field { name: "hour", min: 0, max: 23, names: &[] },
    Field { name: "day-of-month", min: 1, max: 31, names: &[] },
    Field { name: "month", min: 1, max: 12, names: MONTHS },
    // 7 is Sunday too, as in Vixie cron.
    Field { name: "day-of-week", min: 0, max: 7, names: DAYS },
];

/// The searches below step through wall-clock time; this bounds them for expressions that
/// match nothing in the zone's future (a 30th of February never comes).
const SEARCH_STEPS: u32 = 10_000;

impl Cron {
    pub fn parse(expression: &str, zone: &str) -> Result<Cron, CronError> {
        let zone = parse_zone(zone)?;
        let expression = normalise(expression)?;
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).dom_and_dow(false).build();
        // croner knows every macro Vixie has but `@midnight`, which is `@daily` by another name.
        let for_croner = if expression == "@midnight" { "@daily" } else { expression.as_str() };
        let cron = parser.parse(for_croner).map_err(|err| CronError::Expression(format!("`{expression}` is not a valid cron expression: {err}")))?;
        let cron = Cron { expression, zone, cron };
        // An expression that can never match (`0 0 30 2 *`) would be a schedule that never runs.
        if cron.next_local(Utc::now().naive_utc()).is_none() {
            return Err(CronError::Expression(format!("`{}` never fires: no date matches it", cron.expression)));
        }
        Ok(cron)
    }

    /// The expression in words, e.g. "At 09:30, on Monday through Friday."
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    /// The first fire time strictly after `after`, or none if the expression never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_fire(after).map(|fire| fire.at)
    }

    /// The next `count` fire times after `from`, each marked when a DST change moves or repeats it.
    pub fn preview(&self, from: DateTime<Utc>, count: usize) -> Vec<FireTime> {
        let mut fires = Vec::with_capacity(count);
        let mut after = from;
        while fires.len() < count {
            let Some(fire) = self.next_fire(after) else { break };
            after = fire.at;
            fires.push(fire);
        }
        fires
    }

    fn next_fire(&self, after: DateTime<Utc>) -> Option<FireTime> {
        // Whole seconds: cron times are whole minutes, and a fraction would leak into the result.
        let after = after.with_nanosecond(0)?;
        let mut local = after.with_timezone(&self.zone).naive_local();
        for _ in 0..SEARCH_STEPS {
            let wall = self.next_local(local)?;
            let (at, dst) = match self.zone.from_local_datetime(&wall) {
                LocalResult::Single(at) => (at, None),
                LocalResult::Ambiguous(first, _) => (first, Some(DstShift::Repeated)),
                LocalResult::None => {
                    let (valid, at) = self.after_gap(wall)?;
                    // Every matching time of the gap lands on `at`: search on from where it ends.
                    local = valid - chrono::Duration::seconds(1);
                    if at.with_timezone(&Utc) > after {
                        return Some(self.fire(at.with_timezone(&Utc), Some(DstShift::Skipped)));
                    }
                    continue;
                }
            };
            let at = at.with_timezone(&Utc);
            if at > after {
                return Some(self.fire(at, dst));
            }
            // The first occurrence of a repeated time, already past: it fired then, not again.
            local = wall;
        }
        None
    }

    fn fire(&self, at: DateTime<Utc>, dst: Option<DstShift>) -> FireTime {
        FireTime { at, local: at.with_timezone(&self.zone).fixed_offset(), dst }
    }

    /// The next matching wall-clock time strictly after `local`.
    fn next_local(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let next = self.cron.find_next_occurrence(&Utc.from_utc_datetime(&local), false).ok()?;
        Some(next.naive_utc())
    }

    /// The first wall-clock time after a DST gap that holds `wall`, and its instant.
    fn after_gap(&self, wall: NaiveDateTime) -> Option<(NaiveDateTime, DateTime<Tz>)> {
        let mut probe = wall;
        // Gaps are whole minutes, at most a day (Samoa skipped 2011-12-30).
        for _ in 0..=24 * 60 {
            probe = probe.with_second(0)? + chrono::Duration::minutes(1);
            match self.zone.from_local_datetime(&probe) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => return Some((probe, at)),
                LocalResult::None => {}
            }
        }
        None
    }
}

/// An IANA zone name such as `Europe/Berlin` or `UTC`.
pub fn parse_zone(zone: &str) -> Result<Tz, CronError> {
    let zone = zone.trim();
    if zone.is_empty() {
        return Err(CronError::Zone("choose a time zone, e.g. `UTC` or `Europe/Berlin`".into()));
    }
    zone.parse::<Tz>().map_err(|_| {
        CronError::Zone(format!("`{}` is not an IANA time zone name; use one such as `UTC`, `Europe/London` or `America/New_York`", zone.escape_default()))
    })
}

/// Every zone name `parse_zone` accepts, sorted.
pub fn zone_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    names.sort_unstable();
    names
}

/// Checks the dialect field by field and gives the expression back in its stored form.
fn normalise(raw: &str) -> Result<String, CronError> {
    let fields: Vec<&str> = raw.split_whitespace().collect();
    let bad = |message: String| Err(CronError::Expression(message));
    match fields.as_slice() {
        [] => bad(format!("enter a cron expression: {ACCEPTED}, e.g. `*/15 * * * *`")),
        [single] if single.starts_with('@') => match single.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(single.to_ascii_lowercase()),
            "@reboot" => bad("`@reboot` has no time to fire at; a schedule needs one of @hourly @daily @weekly @monthly @yearly or 5 fields".into()),
            _ => bad(format!("`{}` is not a cron macro; use one of @hourly @daily @weekly @monthly @yearly", single.escape_default())),
        },
        [_, _, _, _, _] => {
            for (text, field) in fields.iter().zip(&FIELDS) {
                check_field(text, field).map_err(|why| CronError::Expression(format!("{} field `{}`: {why}", field.name, text.escape_default())))?;
            }
            Ok(fields.join(" "))
        }
        [_, _, _, _, _, _] | [_, _, _, _, _, _, _] => bad(format!(
            "`{}` has {} fields; PyTask uses standard cron without seconds or years: {ACCEPTED}",
            raw.trim().escape_default(),
            fields.len()
        )),
        _ => bad(format!("`{}` has {} field{}; expected {ACCEPTED}", raw.trim().escape_default(), fields.len(), if fields.len() == 1 { "" } else { "s" })),
    }
}

/// One field: a comma list of `*`, `N`, `N-M`, each optionally `/STEP`.
fn check_field(text: &str, field: &Field) -> Result<(), String> {
    for item in text.split(',') {
        if item.is_empty() {
            return Err("an empty item in the list (two commas, or one at the end)".into());
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(1..) if step.bytes().all(|b| b.is_ascii_digit()) => {}
                _ => return Err(format!("the step `/{}` must be a whole number of 1 or more", step.escape_default())),
            }
        }
        if range == "*" {
            continue;
        }
        let (low, high) = match range.split_once('-') {
            Some((low, high)) => (value(low, field)?, Some(value(high, field)?)),
            None => (value(range, field)?, None),
        };
        if let Some(high) = high {
            if low > high {
                return Err(format!("the range `{range}` runs backwards; write the smaller value first"));
            }
        }
    }
    Ok(())
}

/// A number within the field's bounds, or one of its names (any case).
fn value(text: &str, field: &Field) -> Result<u32, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
            _ => Err(format!("`{text}` is outside {}–{}", field.min, field.max)),
        };
    }
    let upper = text.to_ascii_uppercase();
    if let Some(index) = field.names.iter().position(|name| *name == upper) {
        // Months are 1-based, days 0-based (SUN = 0).
        return Ok(index as u32 + field.min);
    }
    let shown = text.escape_default();
    let digits_then = |last: char| text.len() > 1 && text.ends_with(last) && text[..text.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if text.contains(['#', '?']) || matches!(upper.as_str(), "L" | "LW") || digits_then('L') || digits_then('W') {
        return Err(format!("`{shown}` is Quartz syntax (L, W, #, ?), which standard cron does not have"));
    }
    match field.names {
        [] => Err(format!("`{shown}` is not a number from {} to {}", field.min, field.max)),
        names => Err(format!("`{shown}` is neither a number from {} to {} nor one of {}", field.min, field.max, names.join(" "))),
    }
}

#[cfg(test)]
mod tests;
