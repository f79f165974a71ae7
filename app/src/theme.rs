//! The light/dark theme. The choice lives in a cookie, not local storage, so the server renders
//! the first paint in the right colours; without a choice the CSS follows the system setting.

use leptos::prelude::*;

pub const COOKIE: &str = "pytask_theme";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    pub fn other(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }

    /// The theme chosen in the request's cookie (server side), `None` when none was chosen.
    #[cfg(feature = "ssr")]
    pub fn from_request() -> Option<Theme> {
        let parts = use_context::<http::request::Parts>()?;
        crate::cookies::get(&parts.headers, COOKIE).and_then(|value| Theme::parse(&value))
    }

    #[cfg(not(feature = "ssr"))]
    pub fn from_request() -> Option<Theme> {
        None
    }
}

/// The button in the header that flips the theme and remembers the choice for a year.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        browser::flip();
    };
    view! {
        <button type="button" class="icon-button theme-toggle" title="Switch light/dark theme"
            aria-label="Switch light/dark theme" on:click=on_click>
            <svg class="icon-sun" viewBox="0 0 24 24" aria-hidden="true">
                <circle cx="12" cy="12" r="4.5" />
                <path d="M12 2v2.5M12 19.5V22M2 12h2.5M19.5 12H22M4.9 4.9l1.8 1.8M17.3 17.3l1.8 1.8M4.9 19.1l1.8-1.8M17.3 6.7l1.8-1.8" />
            </svg>
            <svg class="icon-moon" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M20.5 14.5A8.5 8.5 0 0 1 9.5 3.5a8.5 8.5 0 1 0 11 11z" />
            </svg>
        </button>
    }
}

#[cfg(feature = "hydrate")]
pub use browser::effective_theme;

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;

    use super::{Theme, COOKIE};

    pub fn flip() {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Some(root) = document.document_element() else {
            return;
        };
        let next = effective_theme().other();
        // An attribute change cannot fail for a valid name; ignoring the Result keeps the UI going.
        let _ = root.set_attribute("data-theme", next.as_str());
        if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
            let _ = html.set_cookie(&format!("{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", next.as_str()));
        }
    }

    /// The theme the page shows: the one chosen with the switch, else the system's.
    pub fn effective_theme() -> Theme {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|root| root.get_attribute("data-theme"))
            .and_then(|value| Theme::parse(&value))
            .unwrap_or_else(system_theme)
    }

    fn system_theme() -> Theme {
        let dark = web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .map(|query| query.matches())
            .unwrap_or(false);
        if dark {
            Theme::Dark
        } else {
            Theme::Light
        }
    }
}
