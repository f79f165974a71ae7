//! `DependencyPanel`: a script's requirements on its page. Add one (name + optional version,
//! checked by the server as you type), change or remove one, install them all with uv's progress
//! streamed live, and move the list in or out of the script's PEP 723 header.

use leptos::prelude::*;

use crate::api::{self, Failure};
use crate::components::loaded::Loaded;
use crate::hooks::{use_debounced, Change, ChangeState};
use crate::live::use_script_events;
use crate::model::{Dependency, DependencyState, DependencyUpdate, Event, InstallStarted, MetadataWrite, NewDependency, Source};

/// What the progress panel shows of the last install.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Install {
    Idle,
    Running { lines: Vec<String> },
    Done { lines: Vec<String>, summary: String },
    Failed { lines: Vec<String>, error: String },
}

#[component]
pub fn DependencyPanel(
    script_id: i64,
    can_edit: bool,
    /// The source in the editor, for the PEP 723 header.
    #[prop(into)]
    content: Signal<String>,
    /// Replaces the source in the editor (after writing the header).
    set_content: Callback<String>,
) -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let start_install: Change<(), InstallStarted> = Action::new(move |_: &()| api::deps::install(script_id));
    let remove: Change<String, ()> = Action::new(move |name: &String| api::deps::remove(script_id, name));
    let change: Change<(String, String), Dependency> = Action::new(move |(name, version_spec): &(String, String)| {
        let name = name.clone();
        let asked = api::deps::update(script_id, &name, &DependencyUpdate { version_spec: version_spec.clone() });
        async move { asked.await.map_err(|refused| Failure { message: format!("{name}: {}", refused.message), ..refused }) }
    });
    // Read again after a change (a refused one too) and after an install.
    let deps =
        Resource::new(move || (script_id, refresh.get(), remove.version().get(), change.version().get()), |(id, ..)| api::deps::list(id));
    let reload = move || refresh.update(|n| *n += 1);
    let install = RwSignal::new(Install::Idle);
    let failure = Signal::derive(move || start_install.error().get().or_else(|| remove.error().get()).or_else(|| change.error().get()));
    // The install was refused before it began: nothing is running.
    Effect::new(move |_| {
        if start_install.failure().get().is_some() {
            install.set(Install::Idle);
        }
    });

    let live = use_script_events(script_id, move |event| match event {
        Event::InstallationStarted { .. } => install.set(Install::Running { lines: Vec::new() }),
        Event::InstallationProgress { message, .. } => install.update(|state| {
            if let Install::Running { lines } = state {
                lines.push(message);
            } else {
                *state = Install::Running { lines: vec![message] };
            }
        }),
        Event::InstallationFinished { installed, .. } => {
            let lines = current_lines(install);
            let summary =
                format!("Installed {} package{} in the script's environment", installed.len(), if installed.len() == 1 { "" } else { "s" });
            install.set(Install::Done { lines, summary });
            reload();
        }
        Event::InstallationError { error, .. } => {
            install.set(Install::Failed { lines: current_lines(install), error });
            reload();
        }
        _ => {}
    });

    let start_install = move |_| {
        install.set(Install::Running { lines: Vec::new() });
        start_install.dispatch(());
    };
    let remove = move |name: String| {
        remove.dispatch(name);
    };
    let change = move |name: String, version_spec: String| {
        change.dispatch((name, version_spec));
    };
    let installing = move || matches!(install.get(), Install::Running { .. });

    view! {
        <section class="card deps" aria-labelledby="deps-title">
            <div class="section-header">
                <h2 id="deps-title">"Dependencies"</h2>
                <div class="header-actions">
                    <span class="live-state muted small" title="Progress arrives live over a WebSocket">
                        {move || if live.get() { "● live" } else { "○ connecting…" }}
                    </span>
                    {can_edit.then(|| view! {
                        <button type="button" class="button primary small" on:click=start_install disabled=installing>
                            {move || if installing() { "Installing…" } else { "Install" }}
                        </button>
                    })}
                </div>
            </div>
            {can_edit.then(|| view! { <AddDependency script_id on_added=Callback::new(move |_| reload()) /> })}
            <Show when=move || failure.get().is_some()>
                <div class="alert error" role="alert">{move || failure.get()}</div>
            </Show>
            <Loaded data=deps loading="Loading dependencies…" show={move |list: Vec<Dependency>| {
                if list.is_empty() {
                    return view! {
                        <p class="muted empty-runs">"No dependencies: the script runs with Python's standard library. Add PyPI packages above, then Install."</p>
                    }.into_any();
                }
                view! {
                    <table class="table deps-table">
                        <thead><tr><th>"Package"</th><th>"Wanted"</th><th>"Installed"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|dep| view! { <DependencyRow dep can_edit remove change /> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }} />
            <InstallProgress install />
            {can_edit.then(|| view! { <InlineHeader script_id content set_content deps=Signal::derive(move || deps.get().and_then(Result::ok).unwrap_or_default()) on_added=Callback::new(move |_| reload()) /> })}
        </section>
    }
}

fn current_lines(install: RwSignal<Install>) -> Vec<String> {
    match install.get_untracked() {
        Install::Running { lines } | Install::Done { lines, .. } | Install::Failed { lines, .. } => lines,
        Install::Idle => Vec::new(),
    }
}

#[component]
fn DependencyRow(
    dep: Dependency,
    can_edit: bool,
    remove: impl Fn(String) + Copy + Send + Sync + 'static,
    change: impl Fn(String, String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let (label, class) = match dep.state {
        DependencyState::Installed => ("installed", "pill ok"),
        DependencyState::NotInstalled => ("not installed", "pill"),
        DependencyState::Unsatisfied => ("needs install", "pill warn"),
    };
    let name = dep.name.clone();
    let spec = RwSignal::new(dep.version_spec.clone());
    let original = dep.version_spec.clone();
    let commit = {
        let name = name.clone();
        move || {
            let wanted = spec.get_untracked();
            if wanted.trim() != original.trim() {
                change(name.clone(), wanted);
            }
        }
    };
    let commit_on_enter = commit.clone();
    view! {
        <tr>
            <td class="strong mono">{dep.name.clone()}</td>
            <td>
                {if can_edit {
                    view! {
                        <input type="text" class="spec-input mono" placeholder="any version" aria-label=format!("Version of {}", dep.name)
                            prop:value=move || spec.get() on:input=move |ev| spec.set(event_target_value(&ev))
                            on:change=move |_| commit()
                            on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { ev.prevent_default(); commit_on_enter() } />
                    }.into_any()
                } else {
                    view! { <span class="mono">{if dep.version_spec.is_empty() { "any".to_string() } else { dep.version_spec.clone() }}</span> }.into_any()
                }}
            </td>
            <td class="mono">{dep.installed_version.clone().unwrap_or_else(|| "—".into())}</td>
            <td><span class=class>{label}</span></td>
            <td class="actions">
                {can_edit.then(|| {
                    let name = name.clone();
                    view! {
                        <button type="button" class="button small danger" aria-label=format!("Remove {name}")
                            on:click=move |_| remove(name.clone())>"Remove"</button>
                    }
                })}
            </td>
        </tr>
    }
}

/// Name + version inputs, checked by the server a moment after typing stops.
#[component]
fn AddDependency(script_id: i64, on_added: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let spec = RwSignal::new(String::new());
    let verdict = RwSignal::new(None::<Result<NewDependency, Failure>>);
    let add: Change<NewDependency, Dependency> = Action::new(move |wanted: &NewDependency| api::deps::add(script_id, wanted));
    add.on_success(move |_| {
        name.set(String::new());
        spec.set(String::new());
        verdict.set(None);
        on_added.run(());
    });
    // The server's refusal of the add is its verdict on what is typed.
    Effect::new(move |_| {
        if let Some(refused) = add.failure().get() {
            verdict.set(Some(Err(refused)));
        }
    });
    let pending = add.pending();

    use_debounced(
        move || {
            let wanted = NewDependency { name: name.get(), version_spec: spec.get() };
            let empty = wanted.name.trim().is_empty() && wanted.version_spec.trim().is_empty();
            if empty {
                verdict.set(None);
            }
            (!empty).then_some(wanted)
        },
        std::time::Duration::from_millis(250),
        |wanted| api::deps::check(&wanted),
        move |answer| verdict.set(Some(answer)),
    );

    let add = move || {
        if !pending.get_untracked() {
            add.dispatch(NewDependency { name: name.get_untracked(), version_spec: spec.get_untracked() });
        }
    };
    let on_enter = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" {
            ev.prevent_default();
            add();
        }
    };
    let refusal = move |field: &'static str| {
        verdict
            .get()
            .and_then(|v| v.err())
            .filter(|f| f.field.as_deref() == Some(field) || (field == "name" && f.field.is_none()))
            .map(|f| f.message)
    };

    view! {
        <div class="add-dep">
            <div class="add-dep-row">
                <input type="text" class="mono" placeholder="package, e.g. requests" aria-label="Package name"
                    class:invalid=move || refusal("name").is_some()
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) on:keydown=on_enter />
                <input type="text" class="mono spec" placeholder="version, e.g. >=2.31 (optional)" aria-label="Version specifier"
                    class:invalid=move || refusal("version_spec").is_some()
                    prop:value=move || spec.get() on:input=move |ev| spec.set(event_target_value(&ev)) on:keydown=on_enter />
                <button type="button" class="button" on:click=move |_| add()
                    disabled=move || pending.get() || name.with(|n| n.trim().is_empty())>"Add"</button>
            </div>
            <p class="add-dep-hint" aria-live="polite">
                {move || match verdict.get() {
                    None => view! { <span class="muted small">"A PyPI package name, and a PEP 440 version specifier if you need one."</span> }.into_any(),
                    Some(Ok(ok)) => view! { <span class="ok small">{format!("✓ {}{}", ok.name, ok.version_spec)}</span> }.into_any(),
                    Some(Err(err)) => view! { <span class="field-error">{err.message}</span> }.into_any(),
                }}
            </p>
        </div>
    }
}

/// uv's own lines, as they arrive, and the outcome.
#[component]
fn InstallProgress(install: RwSignal<Install>) -> impl IntoView {
    move || {
        let (lines, footer) = match install.get() {
            Install::Idle => return None,
            Install::Running { lines } => (lines, view! { <p class="progress-state"><span class="spinner" aria-hidden="true"></span>"Installing with uv…"</p> }.into_any()),
            Install::Done { lines, summary } => (lines, view! { <p class="progress-state ok">{format!("✓ {summary}")}</p> }.into_any()),
            Install::Failed { lines, error } => (lines, view! {
                <div class="alert error" role="alert"><strong>"The install failed; the previous environment is unchanged. "</strong><pre class="uv-error">{error}</pre></div>
            }.into_any()),
        };
        Some(view! {
            <div class="install-progress" aria-live="polite">
                <pre class="progress-log" role="log" aria-label="Install output">{lines.join("\n")}</pre>
                {footer}
            </div>
        })
    }
}

/// PEP 723: offers the requirements a script's `# /// script` header declares, and writes the
/// list back into the header.
#[component]
fn InlineHeader(
    script_id: i64,
    content: Signal<String>,
    set_content: Callback<String>,
    deps: Signal<Vec<Dependency>>,
    on_added: Callback<()>,
) -> impl IntoView {
    let offer = RwSignal::new(Vec::<NewDependency>::new());
    let message = RwSignal::new(None::<String>);

    // Whenever the source has a header, see whether it declares packages the list lacks.
    use_debounced(
        move || {
            let content = content.get();
            let has_header = content.contains("# /// script");
            if !has_header {
                offer.set(Vec::new());
            }
            has_header.then_some(Source { content })
        },
        std::time::Duration::from_millis(500),
        |source| api::code::metadata(&source),
        move |meta| {
            if let Ok(meta) = meta {
                let known = deps.get_untracked();
                offer.set(meta.dependencies.into_iter().filter(|d| !known.iter().any(|k| k.name == d.name)).collect());
            }
        },
    );

    // Each one added on its own: one refused does not keep the others out.
    let take: Change<Vec<NewDependency>, Vec<String>> = Action::new(move |wanted: &Vec<NewDependency>| {
        let asked: Vec<_> = wanted.iter().map(|dep| (dep.name.clone(), api::deps::add(script_id, dep))).collect();
        async move {
            let mut refused = Vec::new();
            for (name, added) in asked {
                if let Err(err) = added.await {
                    refused.push(format!("{name}: {}", err.message));
                }
            }
            Ok(refused)
        }
    });
    take.on_success(move |refused| {
        offer.set(Vec::new());
        message.set((!refused.is_empty()).then(|| refused.join("; ")));
        on_added.run(());
    });
    let write: Change<MetadataWrite, Source> = Action::new(|change: &MetadataWrite| api::code::write_metadata(change));
    write.on_success(move |source| {
        set_content.run(source.content);
        message.set(Some("The list is now in the script's `# /// script` header; save to keep it.".into()));
    });
    Effect::new(move |_| {
        if let Some(refused) = write.failure().get() {
            message.set(Some(refused.message));
        }
    });
    let take = move |_| {
        take.dispatch(offer.get_untracked());
    };
    let write = move |_| {
        write.dispatch(MetadataWrite {
            content: content.get_untracked(),
            dependencies: deps.get_untracked().into_iter().map(|d| NewDependency { name: d.name, version_spec: d.version_spec }).collect(),
        });
    };

    view! {
        <div class="pep723">
            <Show when=move || !offer.with(Vec::is_empty)>
                <div class="alert offer" role="status">
                    <span>{move || format!(
                        "The script's header declares {}: take {} into the list?",
                        offer.get().iter().map(|d| format!("{}{}", d.name, d.version_spec)).collect::<Vec<_>>().join(", "),
                        if offer.with(Vec::len) == 1 { "it" } else { "them" },
                    )}</span>
                    <button type="button" class="button small primary" on:click=take>"Add from header"</button>
                </div>
            </Show>
            <div class="pep723-actions">
                <button type="button" class="button small ghost" on:click=write
                    title="Write the list into a PEP 723 `# /// script` block at the top of the code">
                    "Write list into the script header"
                </button>
                <span class="muted small">{move || message.get()}</span>
            </div>
        </div>
    }
}
