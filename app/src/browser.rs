//! The browser around the app: whole-page navigation, the clipboard, the current address.
//! In the server build these do nothing: they are only reached from event handlers.

/// Loads another page fully, so the server renders it with the new session.
pub fn go_to(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// Puts `text` on the clipboard (the browser may refuse silently without a user gesture).
pub fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// The address on show (path and query), as one URL component: where to come back to.
#[cfg(feature = "hydrate")]
pub(crate) fn current_path() -> String {
    let location = web_sys::window().map(|w| w.location());
    let path = location.as_ref().and_then(|l| l.pathname().ok()).unwrap_or_default();
    let search = location.as_ref().and_then(|l| l.search().ok()).unwrap_or_default();
    encode_uri_component(&format!("{path}{search}"))
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = encodeURIComponent)]
    fn encode_uri_component(text: &str) -> String;
}
