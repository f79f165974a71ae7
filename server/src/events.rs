//! The in-process event bus: workers publish, WebSocket handlers subscribe. A broadcast channel,
//! so a slow subscriber loses its place (and is told so) instead of holding anyone up.

use app::model::Event;
use tokio::sync::broadcast;

/// Events buffered per subscriber before it is declared lagging.
const CAPACITY: usize = 4096;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { sender: broadcast::channel(CAPACITY).0 }
    }
}

impl EventBus {
    pub fn publish(&self, event: Event) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
