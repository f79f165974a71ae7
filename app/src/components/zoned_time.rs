//! Instants shown in a schedule's own time zone, and how far away they are ("in 3 min"). The
//! browser knows every IANA zone (`Intl`), the app's wasm does not (a zone database would weigh
//! more than the rest of the app), so the server renders times in UTC, said so, and the page
//! switches to the schedule's zone as soon as it is live.

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use leptos::prelude::*;

use crate::components::runs::now;

/// True once this part of the page runs in the browser: what only the browser can know may be
/// shown from then on, without the server's HTML and the hydrating page disagreeing. (A part
/// made later in the browser turns true before the browser paints: effects run in a microtask.)
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// Now, moved on every `every` in the browser, so relative times ("in 3 min") stay true.
pub fn use_ticking_clock(every: std::time::Duration) -> RwSignal<DateTime<Utc>> {
    let clock = RwSignal::new(now());
    Effect::new(move |_| {
        // The server's "now" rendered the page; the browser's takes over at once.
        clock.set(now());
        #[cfg(feature = "hydrate")]
        if let Ok(ticker) = set_interval_with_handle(move || clock.set(now()), every) {
            on_cleanup(move || ticker.clear());
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = every;
    });
    clock
}

/// The IANA zone the browser runs in, e.g. `Europe/Berlin`.
pub fn browser_zone() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
        js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into()).ok()?.as_string()
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// The offset from UTC of `zone` at `at`, as the browser's zone rules say; `None` for a zone the
/// browser does not know, and always on the server.
pub fn offset_in(zone: &str, at: DateTime<Utc>) -> Option<FixedOffset> {
    #[cfg(feature = "hydrate")]
    {
        browser_offset(zone, at)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (zone, at);
        None
    }
}

/// The wall-clock reading of `at` in `zone` (to the second) minus `at` itself is the offset.
#[cfg(feature = "hydrate")]
fn browser_offset(zone: &str, at: DateTime<Utc>) -> Option<FixedOffset> {
    use chrono::{NaiveDate, Timelike};
    use js_sys::Reflect;
    use wasm_bindgen::{JsCast, JsValue};

    let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let constructor: js_sys::Function = Reflect::get(&intl, &"DateTimeFormat".into()).ok()?.dyn_into().ok()?;
    let options = js_sys::Object::new();
    let fields =
        [("year", "numeric"), ("month", "numeric"), ("day", "numeric"), ("hour", "numeric"), ("minute", "numeric"), ("second", "numeric")];
    for (key, value) in [("timeZone", zone), ("hourCycle", "h23")].into_iter().chain(fields) {
        Reflect::set(&options, &key.into(), &value.into()).ok()?;
    }
    // An unknown zone makes the constructor throw; construct() hands that back as an Err.
    let format: js_sys::Intl::DateTimeFormat =
        Reflect::construct(&constructor, &js_sys::Array::of2(&"en-US".into(), &options)).ok()?.unchecked_into();
    let mut reading = [0u32; 6];
    for part in format.format_to_parts(&js_sys::Date::new(&JsValue::from_f64(at.timestamp_millis() as f64))).iter() {
        let kind = Reflect::get(&part, &"type".into()).ok()?.as_string()?;
        let Some(slot) = fields.iter().position(|(name, _)| *name == kind) else { continue };
        reading[slot] = Reflect::get(&part, &"value".into()).ok()?.as_string()?.parse().ok()?;
    }
    let [year, month, day, hour, minute, second] = reading;
    let local = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?.and_hms_opt(hour, minute, second)?;
    let seconds = (local - at.naive_utc().with_nanosecond(0)?).num_seconds();
    FixedOffset::east_opt(i32::try_from(seconds).ok()?)
}

/// "Wed 25 Nov, 09:30"; the year only when it is not this year's.
pub fn local_text(local: DateTime<FixedOffset>, now: DateTime<Utc>) -> String {
    let this_year = now.with_timezone(local.offset()).year() == local.year();
    local.format(if this_year { "%a %-d %b, %H:%M" } else { "%a %-d %b %Y, %H:%M" }).to_string()
}

/// "UTC", "UTC+01:00", "UTC-03:30".
pub fn offset_text(offset: FixedOffset) -> String {
    let seconds = offset.local_minus_utc();
    if seconds == 0 {
        return "UTC".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.abs();
    format!("UTC{sign}{:02}:{:02}", seconds / 3600, (seconds / 60) % 60)
}

/// How far `at` is from `now`, as a person says it: "in 3 min", "in 2 h 10 min", "5 days ago".
pub fn relative_text(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    const MINUTE: i64 = 60;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let delta = (at - now).num_seconds();
    let (future, seconds) = (delta >= 0, delta.abs());
    let span = match seconds {
        0..45 => return if future { "in a few seconds" } else { "just now" }.into(),
        45..90 => "1 min".to_string(),
        90..HOUR => format!("{} min", (seconds + 30) / MINUTE),
        HOUR..DAY => match ((seconds + 30) / HOUR, ((seconds + 30) / MINUTE) % 60) {
            (hours, 0) => format!("{hours} h"),
            (hours, _) if hours >= 10 => format!("{hours} h"),
            (hours, minutes) => format!("{hours} h {minutes} min"),
        },
        _ => match (seconds + DAY / 2) / DAY {
            1 => "1 day".to_string(),
            days if days < 60 => format!("{days} days"),
            days => format!("{} months", days / 30),
        },
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// An instant in `zone`, with how far away it is below. Rendered in UTC by the server (and
/// labelled so), in the zone once the page is live.
#[component]
pub fn ZonedTime(at: DateTime<Utc>, zone: String, #[prop(into)] now: Signal<DateTime<Utc>>) -> impl IntoView {
    let hydrated = use_hydrated();
    let offset = {
        let zone = zone.clone();
        Memo::new(move |_| if hydrated.get() { offset_in(&zone, at) } else { None })
    };
    let shown = move || match offset.get() {
        Some(offset) => local_text(at.with_timezone(&offset), now.get()),
        None => format!("{} UTC", local_text(at.fixed_offset(), now.get())),
    };
    let title = move || {
        let utc = at.format("%Y-%m-%d %H:%M:%S UTC");
        match offset.get() {
            Some(offset) => format!("{} {zone} ({}) = {utc}", at.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S"), offset_text(offset)),
            None => utc.to_string(),
        }
    };
    view! {
        <span class="zoned-time">
            <time datetime=at.to_rfc3339() title=title>{shown}</time>
            <span class="relative muted small">{move || relative_text(at, now.get())}</span>
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).expect("a valid instant")
    }

    #[test]
    fn relative_times_read_as_a_person_says_them() {
        let now = at("2026-11-25T12:00:00Z");
        assert_eq!(relative_text(at("2026-11-25T12:00:20Z"), now), "in a few seconds");
        assert_eq!(relative_text(at("2026-11-25T12:02:59Z"), now), "in 3 min");
        assert_eq!(relative_text(at("2026-11-25T14:10:00Z"), now), "in 2 h 10 min");
        assert_eq!(relative_text(at("2026-11-25T23:00:00Z"), now), "in 11 h");
        assert_eq!(relative_text(at("2026-11-26T12:00:00Z"), now), "in 1 day");
        assert_eq!(relative_text(at("2026-11-20T12:00:00Z"), now), "5 days ago");
        assert_eq!(relative_text(at("2026-11-25T11:59:50Z"), now), "just now");
    }

    #[test]
    fn offsets_read_as_utc_plus_or_minus() {
        assert_eq!(offset_text(FixedOffset::east_opt(0).expect("zero")), "UTC");
        assert_eq!(offset_text(FixedOffset::east_opt(3600).expect("+1")), "UTC+01:00");
        assert_eq!(offset_text(FixedOffset::west_opt(3 * 3600 + 1800).expect("-3:30")), "UTC-03:30");
    }

    #[test]
    fn the_year_shows_only_when_it_is_not_this_one() {
        let now = at("2026-11-25T12:00:00Z");
        let plus_one = FixedOffset::east_opt(3600).expect("+1");
        assert_eq!(local_text(plus_one.with_ymd_and_hms(2026, 11, 30, 9, 30, 0).unwrap(), now), "Mon 30 Nov, 09:30");
        assert_eq!(local_text(plus_one.with_ymd_and_hms(2027, 3, 28, 3, 0, 0).unwrap(), now), "Sun 28 Mar 2027, 03:00");
    }
}
