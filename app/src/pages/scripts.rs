//! `/`: the scripts of the team, with search by name and filter by tags (both in the URL, so a
//! shared link opens the same view), the active switch, and quick actions (a script that takes
//! inputs is run through its form); a page at a time. Above the list, a warning for each
//! schedule an edit of its script left with inputs that no longer fit: its fires would fail.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api;
use crate::components::confirm_dialog::ConfirmChange;
use crate::components::layout::ErrorBox;
use crate::components::loaded::Loaded;
use crate::components::status_badge::StatusBadge;
use crate::hooks::{Change, ChangeState};
use crate::model::{Execution, Script, ScriptSummary, ScriptUpdate, UnfitSchedule};
use crate::session::use_current_user;

/// Scripts on one page of the list.
const PAGE_SIZE: u64 = 50;

/// `/?q=..&tag=a,b&page=n`: the address of a filtered view's page (1-based).
fn page_url(q: &str, tags: &[String], page: u64) -> String {
    let mut pairs = Vec::new();
    if !q.is_empty() {
        pairs.push(format!("q={}", encode(q)));
    }
    if !tags.is_empty() {
        pairs.push(format!("tag={}", encode(&tags.join(","))));
    }
    if page > 1 {
        pairs.push(format!("page={page}"));
    }
    if pairs.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", pairs.join("&"))
    }
}

/// A query value as in a URL, commas kept (they read better between tags).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn ScriptsPage() -> impl IntoView {
    let can_edit = use_current_user().can_edit();
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let tags = Memo::new(move |_| {
        query
            .read()
            .get("tag")
            .map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    });
    let page = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse::<u64>().ok()).filter(|p| *p > 0).unwrap_or(1));
    let toggle: Change<(i64, ScriptUpdate), Script> = Action::new(|(id, change): &(i64, ScriptUpdate)| api::scripts::update(*id, change));
    let delete: Change<i64, ()> = Action::new(|id: &i64| api::scripts::delete(*id));
    let run: Change<i64, Execution> = Action::new(|id: &i64| api::executions::start(*id));
    let navigate = use_navigate();
    run.on_success(move |run| navigate(&format!("/scripts/{}/execute", run.script_id), Default::default()));
    let deleting = RwSignal::new(None::<ScriptSummary>);
    // Read again after a change (a refused one too: the row shows what is stored).
    let scripts = Resource::new(
        move || (q.get(), tags.get(), page.get(), toggle.version().get(), delete.version().get()),
        |(q, tags, page, _, _)| {
            // One more than a page tells whether there is a next one.
            api::scripts::list(&api::scripts::Filter { q, tags, limit: Some(PAGE_SIZE + 1), offset: (page - 1) * PAGE_SIZE })
        },
    );
    let action_error = Signal::derive(move || toggle.error().get().or_else(|| run.error().get()));
    let navigate = use_navigate();
    let show = move |q: String, tags: Vec<String>| {
        navigate(&page_url(&q, &tags, 1), NavigateOptions { replace: true, scroll: false, ..Default::default() })
    };
    let show_tag = show.clone();
    let add_tag = Callback::new(move |tag: String| {
        let mut current = tags.get_untracked();
        if !current.contains(&tag) {
            current.push(tag);
        }
        show_tag(q.get_untracked(), current);
    });
    let show_chip = show.clone();

    view! {
        <Title text="Scripts" />
        <div class="page-header">
            <div>
                <h1>"Scripts"</h1>
                <p class="subtitle">"Python scripts with their own dependencies, run by hand or on a schedule."</p>
            </div>
            {can_edit.then(|| view! { <a class="button primary" href="/scripts/new">"New script"</a> })}
        </div>
        <div class="toolbar">
            <input type="search" class="search" placeholder="Search by name…" aria-label="Search scripts by name"
                prop:value=move || q.get()
                on:input=move |ev| show(event_target_value(&ev), tags.get_untracked()) />
            {move || tags.get().into_iter().map(|tag| {
                let show = show_chip.clone();
                let label = tag.clone();
                view! {
                    <button type="button" class="chip active" title="Remove this filter"
                        aria-label=format!("Remove tag filter {label}")
                        on:click=move |_| {
                            let rest: Vec<String> = tags.get_untracked().into_iter().filter(|t| *t != tag).collect();
                            show(q.get_untracked(), rest);
                        }>
                        {label.clone()}" ×"
                    </button>
                }
            }).collect_view()}
        </div>
        <ErrorBox error=action_error />
        <UnfitSchedules />
        <Loaded data=scripts loading="Loading scripts…" show={move |list: Vec<ScriptSummary>| {
                let filtered = !q.get_untracked().is_empty() || !tags.get_untracked().is_empty();
                match list {
                    list if list.is_empty() && !filtered => view! { <EmptyState can_edit /> }.into_any(),
                    list if list.is_empty() => view! {
                        <div class="empty-state"><h2>"No script matches"</h2><p>"Try another name, or remove a tag filter."</p></div>
                    }.into_any(),
                    mut list => {
                        let page = page.get_untracked();
                        let has_next = list.len() as u64 > PAGE_SIZE;
                        list.truncate(PAGE_SIZE as usize);
                        let (q, tags) = (q.get_untracked(), tags.get_untracked());
                        let first = (page - 1) * PAGE_SIZE + 1;
                        let shown = format!("{first}–{}", first + list.len() as u64 - 1);
                        view! {
                            <div class="card table-card">
                                <table class="table scripts">
                                    <thead><tr><th>"Script"</th><th>"Tags"</th><th>"Last run"</th><th>"Active"</th><th class="actions"></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|script| view! {
                                            <ScriptRow script can_edit add_tag toggle run deleting />
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {(page > 1 || has_next).then(|| view! {
                                <nav class="pager" aria-label="Pages">
                                    {(page > 1).then(|| view! { <a class="button small" href=page_url(&q, &tags, page - 1)>"← Previous"</a> })}
                                    <span class="muted small">{format!("Scripts {shown} · page {page}")}</span>
                                    {has_next.then(|| view! { <a class="button small" href=page_url(&q, &tags, page + 1)>"Next →"</a> })}
                                </nav>
                            })}
                        }.into_any()
                    }
                }
            }} />
        <ConfirmChange asking=deleting change=delete verb=("Delete script", "Deleting…")
            title={|script: &ScriptSummary| format!("Delete “{}”?", script.name)} input={|script: &ScriptSummary| script.id}
            body="The script goes with its runs, logs, schedules and environment. This cannot be undone." />
    }
}

/// The schedules whose inputs no longer fit their scripts, each with a link to mend it; nothing
/// when there are none (or they cannot be read now: the schedules page says so too).
#[component]
fn UnfitSchedules() -> impl IntoView {
    let unfit = Resource::new(|| (), |_| api::schedules::unfit());
    let warning = move || {
        let list: Vec<UnfitSchedule> = unfit.get().and_then(Result::ok).unwrap_or_default();
        (!list.is_empty()).then(|| {
            let count = list.len();
            let heading = if count == 1 {
                "⚠ 1 schedule will fail: its inputs no longer fit its script".to_string()
            } else {
                format!("⚠ {count} schedules will fail: their inputs no longer fit their scripts")
            };
            view! {
                <section class="inputs-problem unfit-schedules" role="alert" aria-label="Schedules whose inputs no longer fit">
                    <strong>{heading}</strong>
                    <ul>
                        {list.into_iter().map(|unfit| {
                            // A schedule's description is a sentence ("At 09:00."): its stop would
                            // stand before the colon.
                            let when = unfit.description.trim_end_matches('.').to_string();
                            view! {
                                <li>
                                    <a href=format!("/scripts/{}/schedules", unfit.script_id)>{unfit.script_name}</a>
                                    " · "{when}": "{unfit.problem}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            }
        })
    };
    view! { <Suspense fallback=|| ()>{warning}</Suspense> }
}

#[component]
fn EmptyState(can_edit: bool) -> impl IntoView {
    view! {
        <section class="empty-state">
            <div class="empty-icon" aria-hidden="true">"{ }"</div>
            <h2>"No scripts yet"</h2>
            <p>"Add a Python script, give it the packages it needs, and run it by hand or on a schedule."</p>
            {can_edit.then(|| view! { <a class="button primary" href="/scripts/new">"Create your first script"</a> })}
        </section>
    }
}

#[component]
fn ScriptRow(
    script: ScriptSummary,
    can_edit: bool,
    add_tag: Callback<String>,
    toggle: Change<(i64, ScriptUpdate), Script>,
    run: Change<i64, Execution>,
    deleting: RwSignal<Option<ScriptSummary>>,
) -> impl IntoView {
    let id = script.id;
    let name = script.name.clone();
    let version = script.updated_at;
    let toggle = move |active: bool| {
        toggle.dispatch((id, ScriptUpdate { updated_at: version, is_active: Some(active), ..Default::default() }));
    };
    let run = move |_| {
        run.dispatch(id);
    };
    let row = script.clone();
    let delete = move |_| deleting.set(Some(row.clone()));
    view! {
        <tr class:inactive=!script.is_active>
            <td class="script-cell">
                <a class="strong" href=format!("/scripts/{id}")>{name.clone()}</a>
                <div class="muted clamp">{script.description.clone()}</div>
            </td>
            <td class="tags-cell">
                {script.tags.iter().cloned().map(|tag| {
                    let clicked = tag.clone();
                    view! {
                        <button type="button" class="chip" title="Show only scripts with this tag"
                            on:click=move |_| add_tag.run(clicked.clone())>{tag}</button>
                    }
                }).collect_view()}
            </td>
            <td>
                {match script.last_execution.clone() {
                    Some(run) => view! {
                        <a class="last-run" href=format!("/executions/{}", run.id) title="Open this run"><StatusBadge status=run.status />
                        <span class="muted small">{run.queued_at.format("%Y-%m-%d %H:%M").to_string()}</span></a>
                    }.into_any(),
                    None => view! { <span class="muted">"never run"</span> }.into_any(),
                }}
            </td>
            <td>
                <label class="switch" title=if can_edit { "Active scripts can run and their schedules fire" } else { "Only editors change this" }>
                    <input type="checkbox" role="switch" aria-label=format!("{name} is active")
                        prop:checked=script.is_active disabled=!can_edit
                        on:change=move |ev| toggle(event_target_checked(&ev)) />
                    <span class="slider"></span>
                </label>
            </td>
            <td class="actions">
                {can_edit.then(|| view! {
                    {if script.takes_inputs && script.is_active {
                        // Its inputs are asked first, on the execute page's form.
                        view! {
                            <a class="button small run" href=format!("/scripts/{id}/execute") aria-label=format!("Run {name} with inputs…")
                                title="Fill in its inputs, then run it">"▶ Run…"</a>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" class="button small run" on:click=run disabled=!script.is_active
                                aria-label=format!("Run {name}")
                                title=if script.is_active { "Run now and watch the output" } else { "Inactive: activate the script to run it" }>
                                "▶ Run"
                            </button>
                        }.into_any()
                    }}
                    <a class="button small" href=format!("/scripts/{id}")>"Edit"</a>
                    <button type="button" class="button small danger" on:click=delete>"Delete"</button>
                })}
            </td>
        </tr>
    }
}
