//! `/executions`: every run of every script, newest first, filtered by script, schedule and status
//! and a page at a time. The whole view lives in the URL
//! (`?script_id=&schedule=&status=&sort=&page=&per_page=`), so a shared link opens the same runs;
//! while a run on the page is not over, the page refreshes.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use leptos_router::NavigateOptions;

use crate::api;
use crate::components::layout::PageHeader;
use crate::components::loaded::Loaded;
use crate::components::runs::{RunsTable, ScriptColumn};
use crate::model::execution::{PER_PAGE_DEFAULT, PER_PAGE_MAX};
use crate::model::{ExecutionPage, ExecutionSort, ExecutionStatus, ScriptSummary};

/// Choices of the page size.
const PAGE_SIZES: [u64; 4] = [25, 50, 100, 200];
/// How often the page asks again while a run on it is queued or running.
#[cfg(feature = "hydrate")]
const REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

/// What the page shows, as read from and written to the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    script_id: Option<i64>,
    schedule_id: Option<i64>,
    status: Option<ExecutionStatus>,
    sort: ExecutionSort,
    page: u64,
    per_page: u64,
}

impl View {
    /// Anything missing or unreadable in the URL falls back to the default view.
    fn from_query(query: &ParamsMap) -> View {
        View {
            script_id: query.get("script_id").and_then(|s| s.parse().ok()),
            schedule_id: query.get("schedule").and_then(|s| s.parse().ok()),
            status: query.get("status").and_then(|s| s.parse().ok()),
            sort: if query.get("sort").as_deref() == Some("oldest") { ExecutionSort::Oldest } else { ExecutionSort::Newest },
            page: query.get("page").and_then(|p| p.parse().ok()).filter(|p| *p > 0).unwrap_or(1),
            per_page: query.get("per_page").and_then(|p| p.parse().ok()).map(|p: u64| p.clamp(1, PER_PAGE_MAX)).unwrap_or(PER_PAGE_DEFAULT),
        }
    }

    /// The query string of this view, defaults left out (so the plain page is plain `/executions`).
    fn query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(id) = self.script_id {
            pairs.push(format!("script_id={id}"));
        }
        if let Some(id) = self.schedule_id {
            pairs.push(format!("schedule={id}"));
        }
        if let Some(status) = self.status {
            pairs.push(format!("status={status}"));
        }
        if self.sort == ExecutionSort::Oldest {
            pairs.push("sort=oldest".to_string());
        }
        if self.page > 1 {
            pairs.push(format!("page={}", self.page));
        }
        if self.per_page != PER_PAGE_DEFAULT {
            pairs.push(format!("per_page={}", self.per_page));
        }
        pairs.join("&")
    }

    /// The page's address of this view.
    fn url(&self) -> String {
        match self.query() {
            query if query.is_empty() => "/executions".to_string(),
            query => format!("/executions?{query}"),
        }
    }

    /// What the API is asked for this view's runs.
    fn filter(&self) -> api::executions::Filter {
        api::executions::Filter {
            script_id: self.script_id,
            schedule_id: self.schedule_id,
            status: self.status,
            sort: self.sort,
            page: (self.page > 1).then_some(self.page),
            per_page: (self.per_page != PER_PAGE_DEFAULT).then_some(self.per_page),
        }
    }

    fn filtered(&self) -> bool {
        self.script_id.is_some() || self.schedule_id.is_some() || self.status.is_some()
    }

    /// The same filters from the first page: a new filter may have fewer pages.
    fn refiltered(self, change: impl FnOnce(&mut View)) -> View {
        let mut next = View { page: 1, ..self };
        change(&mut next);
        next
    }
}

#[component]
pub fn ExecutionsPage() -> impl IntoView {
    let query = use_query_map();
    let view_now = Memo::new(move |_| View::from_query(&query.read()));
    let reloads = RwSignal::new(0u32);
    let runs = Resource::new(move || (view_now.get(), reloads.get()), |(view, _)| api::executions::list(&view.filter()));
    // Browser only: the list of every script is too long to send inside the page.
    let scripts = LocalResource::new(|| api::scripts::list(&Default::default()));
    let navigate = use_navigate();
    let show = Callback::new(move |view: View| {
        navigate(&view.url(), NavigateOptions { scroll: false, ..Default::default() });
    });

    // The schedule filter is named by its expression once it is known (browser only: one more
    // request, for a label). Its script is the filter's, or that of the runs it started.
    let schedule_name = RwSignal::new(None::<(i64, String)>);
    Effect::new(move |_| {
        let Some(schedule_id) = view_now.get().schedule_id else { return };
        if schedule_name.with_untracked(|name| name.as_ref().is_some_and(|(id, _)| *id == schedule_id)) {
            return;
        }
        let script_id = view_now
            .get()
            .script_id
            .or_else(|| runs.get().and_then(Result::ok).and_then(|page| page.items.first().map(|run| run.script_id)));
        let Some(script_id) = script_id else { return };
        leptos::task::spawn_local(async move {
            if let Ok(list) = api::schedules::list(script_id).await {
                if let Some(schedule) = list.into_iter().find(|s| s.id == schedule_id) {
                    schedule_name.try_set(Some((schedule_id, schedule.cron_expression)));
                }
            }
        });
    });

    // Runs still going change by themselves: ask again a moment later.
    Effect::new(move |_| {
        let going = runs.get().and_then(Result::ok).is_some_and(|page| page.items.iter().any(|run| !run.status.is_final()));
        #[cfg(feature = "hydrate")]
        if going {
            if let Ok(timer) = set_timeout_with_handle(
                move || {
                    reloads.try_update(|n| *n += 1);
                },
                REFRESH,
            ) {
                on_cleanup(move || timer.clear());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = going;
    });

    view! {
        <Title text="Executions" />
        <PageHeader title="Executions" subtitle="Every run, manual or scheduled, with its full log." />
        <div class="toolbar filters">
            <label class="filter">
                <span class="field-label">"Script"</span>
                <select aria-label="Script"
                    prop:value=move || { scripts.track(); view_now.get().script_id.map(|id| id.to_string()).unwrap_or_default() }
                    on:change=move |ev| {
                        let script_id = event_target_value(&ev).parse().ok();
                        show.run(view_now.get_untracked().refiltered(|v| v.script_id = script_id));
                    }>
                    <option value="">"All scripts"</option>
                    {move || script_options(scripts.get(), view_now.get().script_id, runs.get().and_then(Result::ok))}
                </select>
            </label>
            <label class="filter">
                <span class="field-label">"Status"</span>
                <select aria-label="Status"
                    prop:value=move || view_now.get().status.map(|s| s.as_str().to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        let status = event_target_value(&ev).parse().ok();
                        show.run(view_now.get_untracked().refiltered(|v| v.status = status));
                    }>
                    <option value="">"Any status"</option>
                    {ExecutionStatus::ALL.iter().map(|status| view! {
                        <option value=status.as_str() selected=move || view_now.get().status == Some(*status)>{status_label(*status)}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="filter">
                <span class="field-label">"Order"</span>
                <select aria-label="Order"
                    prop:value=move || if view_now.get().sort == ExecutionSort::Oldest { "oldest" } else { "newest" }
                    on:change=move |ev| {
                        let sort = if event_target_value(&ev) == "oldest" { ExecutionSort::Oldest } else { ExecutionSort::Newest };
                        show.run(view_now.get_untracked().refiltered(|v| v.sort = sort));
                    }>
                    <option value="newest" selected=move || view_now.get().sort == ExecutionSort::Newest>"Newest first"</option>
                    <option value="oldest" selected=move || view_now.get().sort == ExecutionSort::Oldest>"Oldest first"</option>
                </select>
            </label>
            {move || view_now.get().schedule_id.map(|id| view! {
                <div class="filter">
                    <span class="field-label">"Schedule"</span>
                    <button type="button" class="chip active filter-chip" title="Show the runs of every schedule"
                        aria-label=move || format!("Remove the schedule filter {}", schedule_label(id, schedule_name.get()))
                        on:click=move |_| show.run(view_now.get_untracked().refiltered(|v| v.schedule_id = None))>
                        {move || schedule_label(id, schedule_name.get())}" ×"
                    </button>
                </div>
            })}
            <Show when=move || view_now.get().filtered()>
                <a class="button ghost small clear-filters" href="/executions">"Clear filters"</a>
            </Show>
        </div>
        <Loaded data=runs loading="Loading runs…" show={move |page: ExecutionPage| {
                let view = view_now.get_untracked();
                match page {
                    page if page.items.is_empty() && !view.filtered() && page.total == 0 => view! {
                        <section class="empty-state">
                            <div class="empty-icon" aria-hidden="true">"▶"</div>
                            <h2>"No runs yet"</h2>
                            <p>"Runs appear here as soon as a script is started, by hand, by the API or on a schedule."</p>
                            <a class="button primary" href="/">"Go to the scripts"</a>
                        </section>
                    }.into_any(),
                    page if page.items.is_empty() => view! {
                        <section class="empty-state">
                            <h2>"No run matches"</h2>
                            <p>{if page.total > 0 {
                                "This page is past the last one."
                            } else if view.schedule_id.is_some() {
                                "This schedule has not started a run that matches yet. Its runs appear here as it fires."
                            } else {
                                "No run of this script has this status. Try another filter."
                            }}</p>
                            <a class="button" href="/executions">"Show all runs"</a>
                        </section>
                    }.into_any(),
                    page => view! { <RunTable page view show /> }.into_any(),
                }
            }} />
    }
}

#[component]
fn RunTable(page: ExecutionPage, view: View, show: Callback<View>) -> impl IntoView {
    let pages = page.total.div_ceil(page.per_page.max(1)).max(1);
    let first = (page.page - 1) * page.per_page + 1;
    let shown = format!("Runs {first}–{} of {}", first + page.items.len() as u64 - 1, page.total);
    let at = |page: u64| View { page, ..view.clone() }.url();
    let (has_previous, has_next) = (page.page > 1, page.page < pages);
    let per_page = view.per_page;
    let sizes = view.clone();
    view! {
        <div class="card table-card">
            <RunsTable runs=page.items script=ScriptColumn::Shown />
        </div>
        <nav class="pager" aria-label="Pages">
            {has_previous.then(|| view! { <a class="button small" href=at(page.page - 1)>"← Previous"</a> })}
            <span class="muted small">{format!("{shown} · page {} of {pages}", page.page)}</span>
            {has_next.then(|| view! { <a class="button small" href=at(page.page + 1)>"Next →"</a> })}
            <label class="per-page muted small">
                "Per page"
                <select aria-label="Runs per page" prop:value=per_page.to_string()
                    on:change=move |ev| {
                        if let Ok(per_page) = event_target_value(&ev).parse() {
                            show.run(sizes.clone().refiltered(|v| v.per_page = per_page));
                        }
                    }>
                    {PAGE_SIZES.iter().map(|size| view! { <option value=size.to_string() selected=*size == per_page>{size.to_string()}</option> }).collect_view()}
                </select>
            </label>
        </nav>
    }
}

/// The script choices. Until the list arrives the chosen script still shows, named after its runs.
fn script_options(scripts: Option<Result<Vec<ScriptSummary>, api::Failure>>, chosen: Option<i64>, runs: Option<ExecutionPage>) -> AnyView {
    match scripts {
        Some(Ok(list)) => list
            .into_iter()
            .map(|script| view! { <option value=script.id.to_string() selected=chosen == Some(script.id)>{script.name}</option> })
            .collect_view()
            .into_any(),
        _ => chosen
            .map(|id| {
                let name = runs
                    .and_then(|page| page.items.into_iter().next())
                    .map(|run| run.script_name)
                    .unwrap_or_else(|| format!("Script #{id}"));
                view! { <option value=id.to_string() selected=true>{name}</option> }
            })
            .into_any(),
    }
}

/// The schedule filter's chip: its expression when known, else its number.
fn schedule_label(id: i64, known: Option<(i64, String)>) -> String {
    match known {
        Some((known_id, expression)) if known_id == id => expression,
        _ => format!("#{id}"),
    }
}

fn status_label(status: ExecutionStatus) -> String {
    let words = status.as_str().replace('_', " ");
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&'static str, &str)]) -> ParamsMap {
        let mut map = ParamsMap::new();
        for (key, value) in pairs {
            map.insert(*key, value.to_string());
        }
        map
    }

    #[test]
    fn the_plain_view_has_a_plain_address() {
        let view = View::from_query(&query(&[]));
        assert_eq!(view.url(), "/executions");
        assert_eq!(view.filter(), api::executions::Filter::default());
        assert_eq!(view.per_page, PER_PAGE_DEFAULT);
    }

    #[test]
    fn a_view_survives_its_address() {
        let view =
            View::from_query(&query(&[("script_id", "7"), ("status", "timed_out"), ("sort", "oldest"), ("page", "3"), ("per_page", "50")]));
        assert_eq!(view.url(), "/executions?script_id=7&status=timed_out&sort=oldest&page=3&per_page=50");
        assert_eq!(
            View::from_query(&query(&[("script_id", "7"), ("status", "timed_out"), ("sort", "oldest"), ("page", "3"), ("per_page", "50")])),
            view
        );
    }

    #[test]
    fn nonsense_in_the_address_falls_back_to_defaults() {
        let view = View::from_query(&query(&[("script_id", "x"), ("status", "done"), ("page", "0"), ("per_page", "100000")]));
        assert_eq!(
            view,
            View { script_id: None, schedule_id: None, status: None, sort: ExecutionSort::Newest, page: 1, per_page: PER_PAGE_MAX }
        );
    }

    #[test]
    fn a_new_filter_starts_from_the_first_page() {
        let view = View { script_id: None, schedule_id: None, status: None, sort: ExecutionSort::Newest, page: 4, per_page: 25 };
        let next = view.refiltered(|v| v.status = Some(ExecutionStatus::Failed));
        assert_eq!((next.page, next.status), (1, Some(ExecutionStatus::Failed)));
    }

    #[test]
    fn the_schedule_filter_is_schedule_in_the_address() {
        let view = View::from_query(&query(&[("schedule", "12"), ("status", "failed")]));
        assert_eq!(view.schedule_id, Some(12));
        assert_eq!(view.url(), "/executions?schedule=12&status=failed");
        assert_eq!(view.filter().schedule_id, Some(12));
        assert!(view.filtered());
    }

    #[test]
    fn statuses_read_as_words() {
        assert_eq!(status_label(ExecutionStatus::TimedOut), "Timed out");
    }
}
