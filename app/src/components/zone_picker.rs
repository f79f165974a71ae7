//! `ZonePicker`: choose an IANA time zone among the server's list by typing part of its name
//! ("new york", "berlin", "utc"). It is a combobox: the arrows move through the matches, Enter
//! takes one, Escape keeps the zone chosen before, a click takes one too; each match shows the
//! zone's offset today so "which one is mine" is easy to see.

use std::collections::HashMap;

use leptos::html;
use leptos::prelude::*;

use crate::api::Failure;

use crate::components::runs::now;
use crate::components::zoned_time::{offset_in, offset_text};

/// The zones matching `query`, best first. Case, `_` and spaces do not matter; a city that
/// starts with the query comes first.
pub fn matching<'a>(zones: &'a [String], query: &str) -> Vec<&'a str> {
    let wanted = normalize(query.trim());
    let mut found: Vec<(u8, &str)> = zones
        .iter()
        .filter_map(|zone| {
            let name = normalize(zone);
            let city = name.rsplit('/').next().unwrap_or(&name);
            let rank = if city.starts_with(&wanted) {
                0
            } else if name.starts_with(&wanted) {
                1
            } else if name.contains(&wanted) {
                2
            } else {
                return None;
            };
            Some((rank, zone.as_str()))
        })
        .collect();
    // Stable: within a rank the server's (alphabetical) order stays.
    found.sort_by_key(|(rank, _)| *rank);
    found.into_iter().map(|(_, zone)| zone).collect()
}

fn normalize(text: &str) -> String {
    text.to_lowercase().replace('_', " ")
}

#[component]
pub fn ZonePicker(
    /// The zone chosen.
    value: RwSignal<String>,
    /// Every zone the server knows; `None` while they load.
    #[prop(into)]
    zones: Signal<Option<Result<Vec<String>, Failure>>>,
    /// Tells the ids of several pickers on one page apart.
    id: String,
    /// Why the server refused the zone, if it did.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    // `None` while not typing: the input shows the zone chosen and the list every zone.
    let query = RwSignal::new(None::<String>);
    let open = RwSignal::new(false);
    let highlighted = RwSignal::new(0usize);
    let list_ref = NodeRef::<html::Ul>::new();
    let offsets = StoredValue::new(HashMap::<String, String>::new());

    let known = Memo::new(move |_| zones.with(|z| z.as_ref().and_then(|z| z.as_ref().ok()).cloned().unwrap_or_default()));
    let matches = Memo::new(move |_| {
        let typed = query.get().unwrap_or_default();
        known.with(|all| matching(all, &typed).into_iter().map(str::to_string).collect::<Vec<_>>())
    });
    let offset_of = move |zone: &str| {
        if let Some(text) = offsets.with_value(|o| o.get(zone).cloned()) {
            return text;
        }
        let text = offset_in(zone, now()).map(offset_text).unwrap_or_default();
        offsets.update_value(|o| {
            o.insert(zone.to_string(), text.clone());
        });
        text
    };

    let choose = move |zone: String| {
        value.set(zone);
        query.set(None);
        open.set(false);
    };
    let close = move || {
        query.set(None);
        open.set(false);
    };
    // Set when the list opens: the zone chosen is then shown in the middle of it.
    let centre = RwSignal::new(false);
    let open_list = move || {
        if open.get_untracked() {
            return;
        }
        centre.set(true);
        open.set(true);
        // Unfiltered, the list starts at the zone chosen.
        let current = value.get_untracked();
        highlighted.set(matches.with_untracked(|shown| shown.iter().position(|z| *z == current).unwrap_or(0)));
    };
    let ids = StoredValue::new(id);
    let option_id = move |index: usize| ids.with_value(|id| format!("{id}-option-{index}"));

    // Keeps the highlighted match in sight inside the scrolling list, without moving the page.
    Effect::new(move |_| {
        let index = highlighted.get();
        if !open.get() {
            return;
        }
        #[cfg(feature = "hydrate")]
        if let Some(list) = list_ref.get() {
            use wasm_bindgen::JsCast;
            let Some(item) = list.children().item(index as u32).and_then(|item| item.dyn_into::<web_sys::HtmlElement>().ok()) else {
                return;
            };
            let (top, height) = (item.offset_top(), item.offset_height());
            if centre.get_untracked() {
                centre.set(false);
                list.set_scroll_top(top - (list.client_height() - height) / 2);
            } else if top < list.scroll_top() {
                list.set_scroll_top(top);
            } else if top + height > list.scroll_top() + list.client_height() {
                list.set_scroll_top(top + height - list.client_height());
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (index, list_ref, centre);
    });

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let count = matches.with_untracked(Vec::len);
        match ev.key().as_str() {
            "ArrowDown" | "ArrowUp" if !open.get_untracked() => {
                ev.prevent_default();
                open_list();
            }
            "ArrowDown" if count > 0 => {
                ev.prevent_default();
                highlighted.update(|i| *i = (*i + 1).min(count - 1));
            }
            "ArrowUp" if count > 0 => {
                ev.prevent_default();
                highlighted.update(|i| *i = i.saturating_sub(1));
            }
            "PageDown" if open.get_untracked() && count > 0 => {
                ev.prevent_default();
                highlighted.update(|i| *i = (*i + 8).min(count - 1));
            }
            "PageUp" if open.get_untracked() => {
                ev.prevent_default();
                highlighted.update(|i| *i = i.saturating_sub(8));
            }
            // Enter takes the match and must not submit the form around the picker.
            "Enter" if open.get_untracked() => {
                ev.prevent_default();
                if let Some(zone) = matches.with_untracked(|shown| shown.get(highlighted.get_untracked()).cloned()) {
                    choose(zone);
                }
            }
            "Escape" if open.get_untracked() => {
                ev.prevent_default();
                ev.stop_propagation();
                close();
            }
            _ => {}
        }
    };
    // Leaving the field takes what was typed if it names a zone exactly; anything else keeps the
    // zone chosen before (never a half-typed one).
    let on_blur = move |_| {
        let typed = query.get_untracked().unwrap_or_default();
        let exact = known.with_untracked(|all| all.iter().find(|z| normalize(z) == normalize(typed.trim())).cloned());
        match exact {
            Some(zone) => choose(zone),
            None => close(),
        }
    };

    let input_id = ids.get_value();
    let listbox_id = ids.with_value(|id| format!("{id}-list"));
    let listing = move || open.get() && zones.with(|z| z.is_some());
    view! {
        <div class="zone-picker" class:open=listing class:invalid=move || error.get().is_some()>
            <input type="text" id=input_id class="zone-input" autocomplete="off" spellcheck="false"
                role="combobox" aria-autocomplete="list" aria-controls=listbox_id
                aria-expanded=move || listing().to_string()
                aria-activedescendant=move || listing().then(|| option_id(highlighted.get()))
                placeholder="Search a city or zone, e.g. Berlin"
                prop:value=move || query.get().unwrap_or_else(|| value.get())
                on:focus=move |ev| {
                    open_list();
                    #[cfg(feature = "hydrate")]
                    {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            input.select();
                        }
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:click=move |_| open_list()
                on:input=move |ev| {
                    query.set(Some(event_target_value(&ev)));
                    open.set(true);
                    highlighted.set(0);
                }
                on:keydown=on_keydown
                on:blur=on_blur />
            <Show when=listing>
                <div class="zone-menu">
                    {move || match zones.get() {
                        Some(Err(failure)) => view! { <p class="zone-note field-error">{format!("The zones could not be loaded: {}", failure.message)}</p> }.into_any(),
                        _ => {
                            let shown = matches.get();
                            let none = shown.is_empty();
                            let typed = query.get().unwrap_or_default();
                            view! {
                                <ul class="zone-list" role="listbox" id=ids.with_value(|id| format!("{id}-list")) aria-label="Time zones" node_ref=list_ref>
                                    {shown.into_iter().enumerate().map(|(index, zone)| {
                                        let offset = offset_of(&zone);
                                        let picked = zone.clone();
                                        let selected = value.with_untracked(|v| *v == zone);
                                        view! {
                                            <li role="option" id=option_id(index)
                                                class:active=move || highlighted.get() == index
                                                class:chosen=selected
                                                aria-selected=move || (highlighted.get() == index).to_string()
                                                // mousedown, not click: it comes before the input's blur closes the list.
                                                on:mousedown=move |ev| { ev.prevent_default(); choose(picked.clone()); }
                                                on:mousemove=move |_| if highlighted.get_untracked() != index { highlighted.set(index) }>
                                                <span>{zone.replace('_', " ")}</span>
                                                <span class="count">{offset}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                {none.then(|| view! { <p class="zone-note muted">{format!("No time zone matches “{}”. Try a city, e.g. Berlin or New York.", typed.trim())}</p> })}
                            }.into_any()
                        }
                    }}
                </div>
            </Show>
        </div>
        {move || error.get().map(|message| view! { <span class="field-error" role="alert">{message}</span> })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones() -> Vec<String> {
        ["America/New_York", "America/North_Dakota/New_Salem", "Asia/Tokyo", "Etc/UTC", "Europe/Berlin", "Pacific/Auckland", "UTC"]
            .iter()
            .map(|z| z.to_string())
            .collect()
    }

    #[test]
    fn a_city_is_found_by_its_name_in_any_case() {
        let zones = zones();
        assert_eq!(matching(&zones, "new york"), vec!["America/New_York"]);
        assert_eq!(matching(&zones, "BERL"), vec!["Europe/Berlin"]);
    }

    #[test]
    fn a_city_that_starts_with_the_query_comes_first() {
        let zones = zones();
        assert_eq!(matching(&zones, "utc"), vec!["Etc/UTC", "UTC"]);
        assert_eq!(matching(&zones, "new"), vec!["America/New_York", "America/North_Dakota/New_Salem"]);
        assert_eq!(matching(&zones, "a"), vec!["Pacific/Auckland", "America/New_York", "America/North_Dakota/New_Salem", "Asia/Tokyo"]);
    }

    #[test]
    fn an_empty_query_lists_every_zone() {
        let zones = zones();
        assert_eq!(matching(&zones, "  ").len(), zones.len());
    }
}
