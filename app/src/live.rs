//! Live events in the browser: a WebSocket to the server's event stream, reopened when it drops,
//! handing each `Event` to the page.

use leptos::prelude::*;

use crate::model::Event;

/// Listens to `/ws/scripts/{id}` while the calling component lives. `connected` tells whether
/// the socket is open (so the page can say when live updates are paused).
pub fn use_script_events(script_id: i64, on_event: impl Fn(Event) + 'static) -> ReadSignal<bool> {
    let (connected, set_connected) = signal(false);
    #[cfg(feature = "hydrate")]
    browser::listen(format!("/ws/scripts/{script_id}"), std::rc::Rc::new(on_event), set_connected);
    #[cfg(not(feature = "hydrate"))]
    let _ = (script_id, on_event, set_connected);
    connected
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::model::Event;

    struct Socket {
        ws: Option<web_sys::WebSocket>,
        closed_by_us: bool,
        _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
    }

    pub fn listen(path: String, on_event: Rc<dyn Fn(Event)>, connected: WriteSignal<bool>) {
        let socket = Rc::new(RefCell::new(Socket { ws: None, closed_by_us: false, _handlers: Vec::new() }));
        let attempts = Rc::new(Cell::new(0u32));
        open(path, on_event, connected, socket.clone(), attempts);
        let socket = SendWrapper::new(socket);
        on_cleanup(move || {
            let socket = socket.take();
            let mut socket = socket.borrow_mut();
            socket.closed_by_us = true;
            if let Some(ws) = socket.ws.take() {
                let _ = ws.close();
            }
        });
    }

    fn open(path: String, on_event: Rc<dyn Fn(Event)>, connected: WriteSignal<bool>, socket: Rc<RefCell<Socket>>, attempts: Rc<Cell<u32>>) {
        let location = window().location();
        let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
        let host = location.host().unwrap_or_default();
        let Ok(ws) = web_sys::WebSocket::new(&format!("{scheme}://{host}{path}")) else { return };

        let on_open = {
            let attempts = attempts.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                attempts.set(0);
                connected.set(true);
            })
        };
        let on_message = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |message: JsValue| {
                let message: web_sys::MessageEvent = message.unchecked_into();
                if let Some(text) = message.data().as_string() {
                    if let Ok(event) = serde_json::from_str::<Event>(&text) {
                        on_event(event);
                    }
                }
            })
        };
        let on_close = {
            let socket = socket.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                connected.set(false);
                if socket.borrow().closed_by_us {
                    return;
                }
                // Back off: 0.5 s, 1 s, 2 s … up to 10 s between attempts.
                let tries = attempts.get();
                attempts.set(tries + 1);
                let delay = (500u64 << tries.min(5)).min(10_000);
                let (path, on_event, socket, attempts) = (path.clone(), on_event.clone(), socket.clone(), attempts.clone());
                set_timeout(
                    move || {
                        if !socket.borrow().closed_by_us {
                            open(path, on_event, connected, socket, attempts);
                        }
                    },
                    std::time::Duration::from_millis(delay),
                );
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let mut state = socket.borrow_mut();
        state.ws = Some(ws);
        state._handlers = vec![on_open, on_message, on_close];
    }
}
