//! Cron expressions as PyTask accepts them: the 5-field Vixie dialect (ranges, lists, steps,
//! `JAN`/`MON` names, `@hourly`…`@yearly`), evaluated in an IANA zone.
//!
//! The two day fields combine as in Vixie and Debian cron (`DayRule`): when either starts with
//! `*` (`*`, `*/2`), a day must match both; when neither does, matching one is enough. croner
//! tells a plain `*` apart itself but counts `*/2` as restricted, so `parse` sets its AND switch
//! from the fields' first characters.
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
    days: Days,
}

/// How a day is chosen when both day fields are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// One of the two fields starts with `*`: a day must match both (`0 0 22 * */2`: the 22nd,
    /// if it is a Sunday, Tuesday, Thursday or Saturday).
    Both,
    /// Neither starts with `*`: either is enough (`0 0 1 * MON`: the 1st, and every Monday).
    Either,
}

/// The days an expression fires on: the values of its two day fields, and how they combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    /// Bit `n` set: the `n`th of the month (1–31).
    pub of_month: u64,
    /// Bit `n` set: weekday `n`, Sunday 0 (a `7` in the field is folded onto 0).
    pub of_week: u64,
    pub rule: DayRule,
}

/// The five fields of each macro, as Vixie cron expands them.
const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

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
        let fields = expand(&expression);
        let days = days(&fields).map_err(CronError::Expression)?;
        let cron = croner_parse(&plain_lists(&fields, days).map_err(CronError::Expression)?, days.rule == DayRule::Both)
            .map_err(|err| CronError::Expression(format!("`{expression}` is not a valid cron expression: {err}")))?;
        let cron = Cron { expression, zone, cron, days };
        // An expression that can never match (`0 0 30 2 *`) would be a schedule that never runs.
        if cron.next_local(Utc::now().naive_utc()).is_none() {
            return Err(CronError::Expression(format!("`{}` never fires: no date matches it", cron.expression)));
        }
        Ok(cron)
    }

    /// The expression in words, e.g. "At 09:30, on Monday to Friday.", saying how the two day
    /// fields combine when both are set ("on the 22nd if it is a Sunday or Tuesday").
    pub fn describe(&self) -> String {
        let fields = expand(&self.expression);
        // croner words the time and the months; the days are worded here, where the rule is known.
        let timing = croner_parse(&format!("{} {} * {} *", fields[0], fields[1], fields[3]), false)
            .map(|cron| cron.describe())
            .unwrap_or_else(|_| self.cron.describe());
        words::with_days(&timing, fields[3] != "*", words::days(self.days).as_deref())
    }

    /// The days it fires on.
    pub fn days(&self) -> Days {
        self.days
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
        CronError::Zone(format!(
            "`{}` is not an IANA time zone name; use one such as `UTC`, `Europe/London` or `America/New_York`",
            zone.escape_default()
        ))
    })
}

/// Every zone name `parse_zone` accepts, sorted.
pub fn zone_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    names.sort_unstable();
    names
}

fn croner_parse(fields: &str, days_and: bool) -> Result<croner::Cron, croner::errors::CronError> {
    CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).dom_and_dow(days_and).build().parse(fields)
}

/// The five fields of a normalised expression (a macro's expansion).
fn expand(expression: &str) -> Vec<&str> {
    let fields = MACROS.iter().find(|(name, _)| *name == expression).map_or(expression, |(_, fields)| fields);
    fields.split(' ').collect()
}

/// The day fields' values, and the rule Vixie cron applies to them: it looks only at whether a
/// field's first character is `*`, so `*/2` and `*,5` count as "starting with `*`".
fn days(fields: &[&str]) -> Result<Days, String> {
    let of_month = field_values(fields[2], &FIELDS[2])?;
    let mut of_week = field_values(fields[4], &FIELDS[4])?;
    if of_week & (1 << 7) != 0 {
        of_week = (of_week & !(1 << 7)) | 1;
    }
    let rule = if fields[2].starts_with('*') || fields[4].starts_with('*') { DayRule::Both } else { DayRule::Either };
    Ok(Days { of_month, of_week, rule })
}

/// The expression croner matches: each field as the plain list of the values it holds, so only
/// this module's reading of names, ranges and steps counts (croner's differs: `0-SUN` is every
/// day to it, `*,13` an error); how the day fields combine is passed to croner beside it.
fn plain_lists(fields: &[&str], days: Days) -> Result<String, String> {
    let list = |bits: u64, field: &Field| {
        (field.min..=field.max).filter(|v| bits & (1 << v) != 0).map(|v| v.to_string()).collect::<Vec<_>>().join(",")
    };
    let values = |index: usize| field_values(fields[index], &FIELDS[index]).map(|bits| list(bits, &FIELDS[index]));
    Ok([values(0)?, values(1)?, list(days.of_month, &FIELDS[2]), values(3)?, list(days.of_week, &FIELDS[4])].join(" "))
}

/// Checks the dialect field by field and gives the expression back in its stored form.
fn normalise(raw: &str) -> Result<String, CronError> {
    let fields: Vec<&str> = raw.split_whitespace().collect();
    let bad = |message: String| Err(CronError::Expression(message));
    match fields.as_slice() {
        [] => bad(format!("enter a cron expression: {ACCEPTED}, e.g. `*/15 * * * *`")),
        [single] if single.starts_with('@') => match single.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(single.to_ascii_lowercase()),
            "@reboot" => {
                bad("`@reboot` has no time to fire at; a schedule needs one of @hourly @daily @weekly @monthly @yearly or 5 fields".into())
            }
            _ => bad(format!("`{}` is not a cron macro; use one of @hourly @daily @weekly @monthly @yearly", single.escape_default())),
        },
        [_, _, _, _, _] => {
            for (text, field) in fields.iter().zip(&FIELDS) {
                field_values(text, field)
                    .map_err(|why| CronError::Expression(format!("{} field `{}`: {why}", field.name, text.escape_default())))?;
            }
            Ok(fields.join(" "))
        }
        [_, _, _, _, _, _] | [_, _, _, _, _, _, _] => bad(format!(
            "`{}` has {} fields; PyTask uses standard cron without seconds or years: {ACCEPTED}",
            raw.trim().escape_default(),
            fields.len()
        )),
        _ => bad(format!(
            "`{}` has {} field{}; expected {ACCEPTED}",
            raw.trim().escape_default(),
            fields.len(),
            if fields.len() == 1 { "" } else { "s" }
        )),
    }
}

/// One field: a comma list of `*`, `N`, `N-M`, each optionally `/STEP`; gives the values it
/// holds as bits. `N/STEP` runs from N to the field's end, as cronie and croner read it.
fn field_values(text: &str, field: &Field) -> Result<u64, String> {
    let mut values = 0;
    for item in text.split(',') {
        if item.is_empty() {
            return Err("an empty item in the list (two commas, or one at the end)".into());
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        let step = match step {
            None => None,
            Some(step) => match step.parse::<usize>() {
                Ok(n @ 1..) if step.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return Err(format!("the step `/{}` must be a whole number of 1 or more", step.escape_default())),
            },
        };
        let (low, high) = match range.split_once('-') {
            _ if range == "*" => (field.min, field.max),
            Some((low, high)) => (value(low, field)?, value(high, field)?),
            None if step.is_some() => (value(range, field)?, field.max),
            None => (value(range, field)?, value(range, field)?),
        };
        if low > high {
            return Err(format!("the range `{range}` runs backwards; write the smaller value first"));
        }
        for v in (low..=high).step_by(step.unwrap_or(1)) {
            values |= 1u64 << v;
        }
    }
    Ok(values)
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

mod words;

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
