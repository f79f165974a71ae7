use app::model::DstShift;
use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::{Cron, CronError, DayRule};

fn at(instant: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(instant).expect("a test instant").with_timezone(&Utc)
}

/// The next `count` fire times after `from`, as local RFC 3339 times.
fn fires(expression: &str, zone: &str, from: &str, count: usize) -> Vec<String> {
    let cron = Cron::parse(expression, zone).unwrap_or_else(|err| panic!("`{expression}` in {zone}: {err}"));
    cron.preview(at(from), count).into_iter().map(|fire| fire.local.to_rfc3339()).collect()
}

fn marks(expression: &str, zone: &str, from: &str, count: usize) -> Vec<Option<DstShift>> {
    Cron::parse(expression, zone).unwrap().preview(at(from), count).into_iter().map(|fire| fire.dst).collect()
}

fn refusal(expression: &str) -> String {
    match Cron::parse(expression, "UTC") {
        Err(CronError::Expression(message)) => message,
        other => panic!("`{expression}` should be refused, got {other:?}"),
    }
}

#[test]
fn steps_lists_and_ranges() {
    assert_eq!(
        fires("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", 4),
        ["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T00:45:00+00:00", "2026-01-01T01:00:00+00:00"]
    );
    assert_eq!(
        fires("0,30 9-17/4 * * *", "UTC", "2026-01-01T00:00:00Z", 7),
        [
            "2026-01-01T09:00:00+00:00",
            "2026-01-01T09:30:00+00:00",
            "2026-01-01T13:00:00+00:00",
            "2026-01-01T13:30:00+00:00",
            "2026-01-01T17:00:00+00:00",
            "2026-01-01T17:30:00+00:00",
            "2026-01-02T09:00:00+00:00",
        ]
    );
    assert_eq!(fires("5 4 * * *", "UTC", "2026-01-01T04:05:00Z", 1), ["2026-01-02T04:05:00+00:00"], "`from` itself is excluded");
    assert_eq!(fires("5 4 * * *", "UTC", "2026-01-01T04:04:59.900Z", 1), ["2026-01-01T04:05:00+00:00"]);
}

#[test]
fn month_and_day_names_any_case() {
    // 2026-01-01 is a Thursday.
    assert_eq!(
        fires("0 12 * JAN,jul MON-fri", "UTC", "2026-01-01T00:00:00Z", 3),
        ["2026-01-01T12:00:00+00:00", "2026-01-02T12:00:00+00:00", "2026-01-05T12:00:00+00:00"]
    );
    assert_eq!(fires("0 12 1 jul *", "UTC", "2026-01-01T00:00:00Z", 1), ["2026-07-01T12:00:00+00:00"]);
    let sunday = fires("0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", 3);
    assert_eq!(fires("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", 3), sunday, "7 is Sunday too");
    assert_eq!(fires("0 0 * * SUN", "UTC", "2026-01-01T00:00:00Z", 3), sunday);
    assert_eq!(sunday[0], "2026-01-04T00:00:00+00:00");
}

#[test]
fn macros() {
    let from = "2026-01-01T10:20:00Z";
    assert_eq!(fires("@hourly", "UTC", from, 1), ["2026-01-01T11:00:00+00:00"]);
    assert_eq!(fires("@daily", "UTC", from, 1), ["2026-01-02T00:00:00+00:00"]);
    assert_eq!(fires("@midnight", "UTC", from, 1), ["2026-01-02T00:00:00+00:00"]);
    assert_eq!(fires("@weekly", "UTC", from, 1), ["2026-01-04T00:00:00+00:00"]);
    assert_eq!(fires("@monthly", "UTC", from, 1), ["2026-02-01T00:00:00+00:00"]);
    assert_eq!(fires("@annually", "UTC", from, 1), ["2027-01-01T00:00:00+00:00"]);
    assert_eq!(Cron::parse("  @Daily ", "UTC").unwrap().expression, "@daily");
}

#[test]
fn yearly_across_years_in_a_zone() {
    assert_eq!(
        fires("@yearly", "Europe/Berlin", "2026-06-01T00:00:00Z", 3),
        ["2027-01-01T00:00:00+01:00", "2028-01-01T00:00:00+01:00", "2029-01-01T00:00:00+01:00"]
    );
    // Just before midnight UTC is already the new year in Berlin.
    assert_eq!(fires("@yearly", "Europe/Berlin", "2026-12-31T22:59:00Z", 1), ["2027-01-01T00:00:00+01:00"]);
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_set() {
    // Vixie: the 13th, and every Friday.
    assert_eq!(
        fires("0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z", 4),
        ["2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00", "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"]
    );
    // One of them `*`: only the other counts.
    assert_eq!(fires("0 0 13 * *", "UTC", "2026-01-01T00:00:00Z", 2), ["2026-01-13T00:00:00+00:00", "2026-02-13T00:00:00+00:00"]);
    assert_eq!(fires("0 0 * * 5", "UTC", "2026-01-01T00:00:00Z", 2), ["2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00"]);
}

#[test]
fn a_day_field_starting_with_a_star_makes_both_count() {
    // Debian cron's times for the cases that found the difference: `*/5` and `*/2` start with `*`,
    // so the 22nd must also be a Sunday, Tuesday, Thursday or Saturday.
    assert_eq!(fires("5-21 */5 22 3 */2", "Europe/London", "2026-12-03T00:00:00Z", 1), ["2029-03-22T00:05:00+00:00"]);
    assert_eq!(fires("12-55 18-22 */12 * */3", "Europe/Berlin", "2027-02-01T00:00:00Z", 1), ["2027-02-13T18:12:00+01:00"]);
    // `*,13` starts with `*` too; `1-31` does not, so with it every day matches.
    assert_eq!(fires("0 0 *,13 * FRI", "UTC", "2026-01-01T00:00:00Z", 2), ["2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00"]);
    assert_eq!(fires("0 0 1-31 * FRI", "UTC", "2026-01-01T00:00:00Z", 2), ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]);
    assert_eq!(Cron::parse("0 0 */2 * MON", "UTC").unwrap().days().rule, DayRule::Both);
    assert_eq!(Cron::parse("0 0 1,15 * MON", "UTC").unwrap().days().rule, DayRule::Either);
}

#[test]
fn leap_days_and_month_ends() {
    assert_eq!(
        fires("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", 3),
        ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 31 * *", "UTC", "2026-01-01T00:00:00Z", 4),
        ["2026-01-31T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00", "2026-07-31T00:00:00+00:00"]
    );
    assert_eq!(fires("0 0 30 * *", "UTC", "2026-01-31T00:00:00Z", 2), ["2026-03-30T00:00:00+00:00", "2026-04-30T00:00:00+00:00"]);
    assert_eq!(
        fires("59 23 28-29 2 *", "UTC", "2024-02-01T00:00:00Z", 3),
        ["2024-02-28T23:59:00+00:00", "2024-02-29T23:59:00+00:00", "2025-02-28T23:59:00+00:00"]
    );
}

#[test]
fn new_york_spring_forward() {
    // 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that day.
    let from = "2026-03-07T00:00:00-05:00";
    assert_eq!(
        fires("30 2 * * *", "America/New_York", from, 3),
        ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    );
    assert_eq!(marks("30 2 * * *", "America/New_York", from, 3), [None, Some(DstShift::Skipped), None]);
    // Hourly at :30 loses nothing either: the missing 02:30 runs at 03:00, once.
    assert_eq!(
        fires("30 * * * *", "America/New_York", "2026-03-08T01:00:00-05:00", 3),
        ["2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"]
    );
    // Every 30 minutes: 02:00 and 02:30 both land on 03:00, which fires once.
    assert_eq!(
        fires("*/30 * * * *", "America/New_York", "2026-03-08T01:00:00-05:00", 3),
        ["2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"]
    );
}

#[test]
fn new_york_fall_back() {
    // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:00–01:59 happen twice.
    let from = "2026-10-31T00:00:00-04:00";
    assert_eq!(
        fires("30 1 * * *", "America/New_York", from, 3),
        ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
    assert_eq!(marks("30 1 * * *", "America/New_York", from, 3), [None, Some(DstShift::Repeated), None]);
    assert_eq!(
        fires("*/30 * * * *", "America/New_York", "2026-11-01T00:00:00-04:00", 4),
        ["2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T02:00:00-05:00"]
    );
    // Asked during the second 01:00–01:59, the repeated times are over: next is 02:00 EST.
    assert_eq!(fires("*/30 * * * *", "America/New_York", "2026-11-01T01:10:00-05:00", 1), ["2026-11-01T02:00:00-05:00"]);
    assert_eq!(fires("30 1 * * *", "America/New_York", "2026-11-01T01:40:00-05:00", 1), ["2026-11-02T01:30:00-05:00"]);
}

#[test]
fn london_spring_forward_and_fall_back() {
    // 2026-03-29: 01:00 GMT becomes 02:00 BST.
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2026-03-28T00:00:00Z", 3),
        ["2026-03-28T01:30:00+00:00", "2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"]
    );
    // 2026-10-25: 02:00 BST becomes 01:00 GMT.
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2026-10-24T00:00:00Z", 3),
        ["2026-10-24T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]
    );
    assert_eq!(marks("30 1 * * *", "Europe/London", "2026-10-24T00:00:00Z", 3), [None, Some(DstShift::Repeated), None]);
    // A time untouched by the change is not marked.
    assert_eq!(marks("0 12 * * *", "Europe/London", "2026-10-24T00:00:00Z", 3), [None, None, None]);
}

#[test]
fn descriptions_are_words() {
    let describe = |expression: &str| Cron::parse(expression, "UTC").unwrap().describe();
    let weekdays = describe("30 9 * * 1-5");
    assert!(weekdays.contains("09:30") && weekdays.contains("Monday") && weekdays.contains("Friday"), "{weekdays}");
    let quarter = describe("*/15 * * * *");
    assert!(quarter.contains("15 minutes"), "{quarter}");
    // The day fields' rule is said in words.
    assert_eq!(describe("0 0 22 * */2"), "At 00:00, on the 22nd if it is a Sunday, Tuesday, Thursday or Saturday.");
    assert_eq!(describe("0 0 1 * MON"), "At 00:00, on the 1st, or on Mondays.");
    assert_eq!(describe("0 0 1,15 * MON-FRI"), "At 00:00, on the 1st and 15th, or on Mondays to Fridays.");
    assert_eq!(describe("0 0 */10 * *"), "At 00:00, on the 1st, 11th, 21st and 31st.");
    assert_eq!(describe("0 8 1-7 * */7"), "At 08:00, on the 1st to 7th if it is a Sunday.");
    assert_eq!(describe("0 0 1-31 * MON"), "At 00:00.", "either field matching every day: every day");
    assert_eq!(describe("0 9 22 MAR */2"), "At 09:00, on the 22nd if it is a Sunday, Tuesday, Thursday or Saturday, in March.");
    assert_eq!(describe("@weekly"), "At 00:00, on Sunday.");
}

#[test]
fn refusals_name_the_field_and_say_what_is_accepted() {
    let cases: &[(&str, &str)] = &[
        ("", "enter a cron expression"),
        ("   ", "enter a cron expression"),
        ("* * * *", "has 4 fields"),
        ("0 * * * * *", "without seconds or years"),
        ("0 0 * * * * 2026", "without seconds or years"),
        ("60 * * * *", "minute field `60`: `60` is outside 0–59"),
        ("* 24 * * *", "hour field"),
        ("* * 0 * *", "day-of-month field"),
        ("* * 32 * *", "day-of-month field"),
        ("* * * 13 *", "month field"),
        ("* * * FOO *", "month field `FOO`: `FOO` is neither a number from 1 to 12 nor one of JAN"),
        ("* * * * 8", "day-of-week field"),
        ("* * * * MONDAY", "day-of-week field"),
        ("*/0 * * * *", "the step `/0`"),
        ("*/x * * * *", "the step `/x`"),
        ("5-1 * * * *", "runs backwards"),
        ("1,,2 * * * *", "an empty item"),
        ("* * L * *", "Quartz syntax"),
        ("* * 15W * *", "Quartz syntax"),
        ("* * * * 5#3", "Quartz syntax"),
        ("* * ? * *", "Quartz syntax"),
        ("-1 * * * *", "minute field"),
        ("@reboot", "has no time to fire at"),
        ("@often", "is not a cron macro"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ];
    for (expression, expected) in cases {
        let message = refusal(expression);
        assert!(message.contains(expected), "`{expression}`: {message:?} should contain {expected:?}");
    }
}

#[test]
fn zones_are_iana_names() {
    assert!(Cron::parse("* * * * *", "Europe/Berlin").is_ok());
    for zone in ["", "Mars/Olympus", "CEST", "+02:00", "europe/berlin\0"] {
        assert!(matches!(Cron::parse("* * * * *", zone), Err(CronError::Zone(_))), "{zone:?}");
    }
    let names = super::zone_names();
    assert!(names.contains(&"UTC") && names.contains(&"America/New_York") && names.windows(2).all(|w| w[0] < w[1]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Nothing typed into the cron field panics the parser.
    #[test]
    fn any_text_is_answered(text in "\\PC{0,40}") {
        let _ = Cron::parse(&text, "UTC");
    }

    /// Cron-shaped text (the characters the grammar uses) is answered too, and when accepted,
    /// its fire times always move forward.
    #[test]
    fn cron_shaped_text_is_answered_and_moves_forward(
        fields in proptest::collection::vec("[0-9*,/LW#?A-Za-z-]{1,8}", 1..8),
        zone in proptest::sample::select(vec!["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kathmandu"]),
        from in 0i64..4_102_444_800,
    ) {
        let text = fields.join(" ");
        if let Ok(cron) = Cron::parse(&text, zone) {
            let from = DateTime::from_timestamp(from, 0).unwrap();
            let mut last = from;
            for fire in cron.preview(from, 3) {
                prop_assert!(fire.at > last, "{text} in {zone}: {} after {}", fire.at, last);
                last = fire.at;
            }
        }
    }
}
