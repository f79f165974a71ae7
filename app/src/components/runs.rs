//! Runs wherever they appear: a run as a table row (the whole row opens the
//! run), its duration, times and resource use in words, and the browser's clock they are
//! measured against.

use chrono::{DateTime, TimeDelta, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::components::status_badge::StatusBadge;
use crate::model::Execution;

/// Whether a run table names the script of each run (not on the script's own page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptColumn {
    Shown,
    Hidden,
}

/// Runs as a table, newest first as given: one row each, a click on a row opens its run.
#[component]
pub fn RunsTable(runs: Vec<Execution>, script: ScriptColumn) -> impl IntoView {
    view! {
        <table class="table runs">
            <RunHead script />
            <tbody>
                {runs.into_iter().map(|run| view! { <RunRow run script /> }).collect_view()}
            </tbody>
        </table>
    }
}

/// One run as a table row; a click anywhere on it (but on its links) opens the run.
#[component]
fn RunRow(run: Execution, script: ScriptColumn) -> impl IntoView {
    let href = format!("/executions/{}", run.id);
    let navigate = use_navigate();
    let open = {
        let href = href.clone();
        move |ev: leptos::ev::MouseEvent| {
            if !on_control(&ev) {
                let (navigate, href) = (navigate.clone(), href.clone());
                // Once the click is handled: leaving the page drops this very handler.
                queue_microtask(move || navigate(&href, Default::default()));
            }
        }
    };
    view! {
        <tr class="run-row" on:click=open>
            <td><a class="strong" href=href>{format!("#{}", run.id)}</a></td>
            {(script == ScriptColumn::Shown).then(|| view! {
                <td><a href=format!("/scripts/{}", run.script_id)>{run.script_name.clone()}</a></td>
            })}
            <td><StatusBadge status=run.status /></td>
            <td class="muted">{run.trigger.as_str()}</td>
            <td><Time at=run.queued_at /></td>
            <td class="num">{run_duration(&run, now())}</td>
            <td class="num">{exit_text(run.exit_code)}</td>
            <td class="num">{memory_text(run.peak_memory_bytes)}</td>
            <td class="num">{cpu_text(run.cpu_seconds)}</td>
        </tr>
    }
}

/// The header row matching `RunRow`.
#[component]
fn RunHead(script: ScriptColumn) -> impl IntoView {
    view! {
        <thead><tr>
            <th>"Run"</th>
            {(script == ScriptColumn::Shown).then(|| view! { <th>"Script"</th> })}
            <th>"Status"</th><th>"Trigger"</th><th>"Queued (UTC)"</th><th class="num">"Duration"</th><th class="num">"Exit"</th>
            <th class="num" title="The most memory the run held at once">"Peak mem"</th><th class="num" title="CPU time of all its processes">"CPU"</th>
        </tr></thead>
    }
}

/// An instant, to the second, in UTC (as the server renders it, so both sides agree). The date
/// is left out when it is the same as `same_day_as`'s.
#[component]
pub fn Time(at: DateTime<Utc>, #[prop(optional)] same_day_as: Option<DateTime<Utc>>) -> impl IntoView {
    let format = match same_day_as {
        Some(day) if day.date_naive() == at.date_naive() => "%H:%M:%S",
        _ => "%Y-%m-%d %H:%M:%S",
    };
    let full = at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string();
    view! { <time datetime=at.to_rfc3339() title=full>{at.format(format).to_string()}</time> }
}

/// How long the run took, or has taken so far; a dash while it waits in the queue or if it never
/// started.
pub fn run_duration(run: &Execution, now: DateTime<Utc>) -> String {
    match (run.started_at, run.finished_at) {
        (Some(start), Some(end)) => span_text(end - start),
        (Some(start), None) => span_text(now - start),
        (None, _) => "—".into(),
    }
}

/// A span in the unit a person would use: "0.4 s", "12.3 s", "4 min 05 s", "2 h 07 min".
pub fn span_text(span: TimeDelta) -> String {
    let ms = span.num_milliseconds().max(0);
    let seconds = ms / 1000;
    match ms {
        0..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {:02} s", seconds / 60, seconds % 60),
        _ => format!("{} h {:02} min", seconds / 3600, (seconds / 60) % 60),
    }
}

/// A running span as a stopwatch shows it: "0:07", "12:34", "1:02:03".
pub fn stopwatch_text(span: TimeDelta) -> String {
    let seconds = span.num_seconds().max(0);
    let (h, m, s) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

pub fn exit_text(code: Option<i32>) -> String {
    code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())
}

/// Bytes in binary units with one decimal: "512 B", "38.2 MiB", "1.5 GiB"; a dash when unknown.
pub fn memory_text(bytes: Option<i64>) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let Some(bytes) = bytes.filter(|b| *b >= 0) else { return "—".into() };
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    // 1023.96 KiB would print as "1024.0 KiB": move up before rounding makes it so.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// CPU seconds as precise as a short run needs: "0.41 s", "12.3 s", then as `span_text`.
pub fn cpu_text(seconds: Option<f64>) -> String {
    match seconds.filter(|s| s.is_finite() && *s >= 0.0) {
        None => "—".into(),
        Some(s) if s < 9.995 => format!("{s:.2} s"),
        Some(s) if s < 59.95 => format!("{s:.1} s"),
        Some(s) => span_text(TimeDelta::milliseconds((s * 1000.0) as i64)),
    }
}

/// Now, by the browser's clock in the browser (chrono's own clock is not available in wasm
/// without JS bindings) and by the server's while it renders.
pub fn now() -> DateTime<Utc> {
    #[cfg(feature = "hydrate")]
    return DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default();
    #[cfg(not(feature = "hydrate"))]
    Utc::now()
}

/// Whether a click landed on something that acts by itself (a link, a button, a field).
fn on_control(ev: &leptos::ev::MouseEvent) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest("a, button, input, select, label").ok().flatten())
            .is_some()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_the_unit_a_person_uses() {
        assert_eq!(span_text(TimeDelta::milliseconds(420)), "0.4 s");
        assert_eq!(span_text(TimeDelta::milliseconds(59_940)), "59.9 s");
        assert_eq!(span_text(TimeDelta::seconds(245)), "4 min 05 s");
        assert_eq!(span_text(TimeDelta::seconds(2 * 3600 + 7 * 60 + 9)), "2 h 07 min");
        assert_eq!(span_text(TimeDelta::seconds(-3)), "0.0 s");
    }

    #[test]
    fn memory_reads_in_binary_units() {
        assert_eq!(memory_text(None), "—");
        assert_eq!(memory_text(Some(512)), "512 B");
        assert_eq!(memory_text(Some(40_055_603)), "38.2 MiB");
        assert_eq!(memory_text(Some(1024 * 1024 - 1)), "1.0 MiB");
        assert_eq!(memory_text(Some(3 * 1024 * 1024 * 1024 / 2)), "1.5 GiB");
        assert_eq!(memory_text(Some(-1)), "—");
    }

    #[test]
    fn cpu_seconds_keep_the_precision_a_short_run_needs() {
        assert_eq!(cpu_text(None), "—");
        assert_eq!(cpu_text(Some(0.412)), "0.41 s");
        assert_eq!(cpu_text(Some(9.999)), "10.0 s");
        assert_eq!(cpu_text(Some(12.34)), "12.3 s");
        assert_eq!(cpu_text(Some(245.0)), "4 min 05 s");
        assert_eq!(cpu_text(Some(f64::NAN)), "—");
    }

    #[test]
    fn stopwatch_grows_hours_only_when_needed() {
        assert_eq!(stopwatch_text(TimeDelta::seconds(7)), "0:07");
        assert_eq!(stopwatch_text(TimeDelta::seconds(754)), "12:34");
        assert_eq!(stopwatch_text(TimeDelta::seconds(3723)), "1:02:03");
    }
}
