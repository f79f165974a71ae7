//! A schedule's days in words: which days of the month and of the week, and whether a day must
//! match both or either, so nobody has to know cron's rule to read the preview.

use super::{DayRule, Days};

const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const EVERY_DAY_OF_MONTH: u64 = ((1 << 32) - 1) & !1;
const EVERY_WEEKDAY: u64 = (1 << 7) - 1;

/// The day phrase ("on the 1st, or on Mondays"), or none when every day matches.
pub(super) fn days(days: Days) -> Option<String> {
    let any_date = days.of_month & EVERY_DAY_OF_MONTH == EVERY_DAY_OF_MONTH;
    let any_weekday = days.of_week & EVERY_WEEKDAY == EVERY_WEEKDAY;
    match (days.rule, any_date, any_weekday) {
        (DayRule::Both, true, true) | (DayRule::Either, true, _) | (DayRule::Either, _, true) => None,
        (DayRule::Both, false, true) => Some(format!("on the {}", dates(days.of_month))),
        (DayRule::Both, true, false) => Some(format!("on {}", weekdays(days.of_week, "and", ""))),
        (DayRule::Both, false, false) => Some(format!("on the {} if it is a {}", dates(days.of_month), weekdays(days.of_week, "or", ""))),
        (DayRule::Either, false, false) => Some(format!("on the {}, or on {}", dates(days.of_month), weekdays(days.of_week, "and", "s"))),
    }
}

/// Puts the day phrase into croner's sentence for the same expression without days
/// ("At 09:30." or "At 09:30, in March."), before the months as croner itself would.
pub(super) fn with_days(timing: &str, months_restricted: bool, days: Option<&str>) -> String {
    let Some(days) = days else { return timing.to_string() };
    let body = timing.trim_end_matches('.');
    match body.rfind(", in ").filter(|_| months_restricted) {
        Some(at) => format!("{}, {days}{}.", &body[..at], &body[at..]),
        None => format!("{body}, {days}."),
    }
}

/// "1st, 6th and 11th", runs of three or more as "5th to 21st".
fn dates(bits: u64) -> String {
    list(runs(bits, 1, 31).iter().map(|&(low, high)| span(ordinal(low), ordinal(high), low, high)).collect(), "and")
}

/// "Monday to Friday", "Sunday or Tuesday", with `plural` after each name ("Mondays").
fn weekdays(bits: u64, conjunction: &str, plural: &str) -> String {
    let name = |day: u32| format!("{}{plural}", WEEKDAYS[day as usize]);
    list(runs(bits, 0, 6).iter().map(|&(low, high)| span(name(low), name(high), low, high)).collect(), conjunction)
}

fn span(low: String, high: String, from: u32, to: u32) -> String {
    match to - from {
        0 => low,
        1 => format!("{low}, {high}"),
        _ => format!("{low} to {high}"),
    }
}

/// The set bits between `min` and `max` as runs of consecutive values.
fn runs(bits: u64, min: u32, max: u32) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for value in (min..=max).filter(|v| bits & (1 << v) != 0) {
        match runs.last_mut() {
            Some((_, high)) if *high + 1 == value => *high = value,
            _ => runs.push((value, value)),
        }
    }
    runs
}

/// "a, b and c" (or "or"); the items may hold commas of their own ("1st, 2nd").
fn list(items: Vec<String>, conjunction: &str) -> String {
    let text = items.join(", ");
    match text.rfind(", ") {
        Some(at) => format!("{} {conjunction} {}", &text[..at], &text[at + 2..]),
        None => text,
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
