//! `TagInput`: a script's tags as chips. Typing then Enter or a comma adds one, × or Backspace on
//! an empty input removes one, and the tags already in use are suggested as you type (arrows
//! move through them, Enter takes one, Escape closes the list). A tag that is not a valid slug
//! is refused on the spot with the reason.

use leptos::prelude::*;

use crate::api;
use crate::model::TagCount;
use crate::validate;

const SUGGESTIONS_SHOWN: usize = 8;

#[component]
pub fn TagInput(
    #[prop(into)] tags: Signal<Vec<String>>,
    on_change: Callback<Vec<String>>,
    #[prop(optional)] read_only: bool,
    /// The reason the server gave for refusing the tags, if any.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    // Browser only: suggestions matter once someone types.
    let known = LocalResource::new(api::scripts::tags);
    let text = RwSignal::new(String::new());
    let refused = RwSignal::new(None::<String>);
    let highlighted = RwSignal::new(None::<usize>);
    let open = RwSignal::new(false);

    let suggestions = Memo::new(move |_| {
        let typed = text.get().trim().to_lowercase();
        let chosen = tags.get();
        let Some(Ok(known)) = known.get() else { return Vec::new() };
        let mut matching: Vec<TagCount> =
            known.into_iter().filter(|t| !chosen.contains(&t.name) && t.name.contains(typed.as_str())).collect();
        // Tags that start with what was typed first, then the most used.
        matching.sort_by_key(|t| (!t.name.starts_with(typed.as_str()), std::cmp::Reverse(t.count), t.name.clone()));
        matching.truncate(SUGGESTIONS_SHOWN);
        matching
    });
    let listing = move || open.get() && !read_only && !suggestions.with(Vec::is_empty);

    let add = move |raw: String| {
        if raw.trim().is_empty() {
            return;
        }
        match validate::tag(&raw) {
            Ok(tag) => {
                let mut next = tags.get_untracked();
                if !next.contains(&tag) {
                    next.push(tag);
                    on_change.run(next);
                }
                text.set(String::new());
                refused.set(None);
                highlighted.set(None);
            }
            Err(invalid) => refused.set(Some(invalid.message)),
        }
    };
    let remove = move |tag: String| {
        on_change.run(tags.get_untracked().into_iter().filter(|t| *t != tag).collect());
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let count = suggestions.with_untracked(Vec::len);
        match ev.key().as_str() {
            "Enter" | "," | "Tab" => {
                let typed = text.get_untracked();
                let picked = highlighted
                    .get_untracked()
                    .filter(|_| listing())
                    .and_then(|i| suggestions.with_untracked(|s| s.get(i).map(|t| t.name.clone())));
                // Tab leaves the field as usual unless there is something to add.
                if ev.key() == "Tab" && picked.is_none() && typed.trim().is_empty() {
                    return;
                }
                ev.prevent_default();
                add(picked.unwrap_or(typed));
            }
            "Backspace" if text.with_untracked(String::is_empty) => {
                if let Some(last) = tags.get_untracked().last().cloned() {
                    remove(last);
                }
            }
            "ArrowDown" if count > 0 => {
                ev.prevent_default();
                open.set(true);
                highlighted.update(|h| *h = Some(h.map_or(0, |i| (i + 1) % count)));
            }
            "ArrowUp" if count > 0 => {
                ev.prevent_default();
                highlighted.update(|h| *h = Some(h.map_or(count - 1, |i| (i + count - 1) % count)));
            }
            "Escape" => {
                open.set(false);
                highlighted.set(None);
            }
            _ => {}
        }
    };

    let message = move || refused.get().or_else(|| error.get());
    view! {
        <div class="tag-input" class:invalid=move || message().is_some() class:readonly=read_only>
            <ul class="chips" aria-label="Tags">
                <For each=move || tags.get() key=|tag| tag.clone() let:tag>
                    <li class="chip">
                        <span>{tag.clone()}</span>
                        {(!read_only).then(|| {
                            let name = tag.clone();
                            view! {
                                <button type="button" class="chip-remove" aria-label=format!("Remove tag {tag}")
                                    on:click=move |_| remove(name.clone())>"×"</button>
                            }
                        })}
                    </li>
                </For>
            </ul>
            {(!read_only).then(|| view! {
                <input type="text" class="tag-entry" placeholder="Add a tag…" autocomplete="off" aria-label="Add a tag"
                    role="combobox" aria-autocomplete="list" aria-controls="tag-suggestions"
                    aria-expanded=move || listing().to_string()
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); refused.set(None); open.set(true); highlighted.set(None); }
                    on:keydown=on_keydown
                    on:focus=move |_| open.set(true)
                    on:blur=move |_| { add(text.get_untracked()); open.set(false); } />
            })}
            <Show when=listing>
                <ul class="suggestions" id="tag-suggestions" role="listbox">
                    {move || suggestions.get().into_iter().enumerate().map(|(i, tag)| {
                        let name = tag.name.clone();
                        view! {
                            <li role="option" class:active=move || highlighted.get() == Some(i)
                                aria-selected=move || (highlighted.get() == Some(i)).to_string()
                                // mousedown, not click: it comes before the input's blur closes the list.
                                on:mousedown=move |ev| { ev.prevent_default(); add(name.clone()); }>
                                <span>{tag.name}</span>
                                <span class="count">{tag.count}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </Show>
        </div>
        {move || message().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
    }
}
