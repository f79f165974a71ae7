//! The cap on this instance's concurrent WebSockets (`--max-websockets`). A viewer holds a slot
//! from the upgrade until its socket task ends; with none free the upgrade is refused with a
//! 503 before anything is allocated for it, so thousands of viewers cannot exhaust the server.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;

#[derive(Clone)]
pub struct WebSocketSlots {
    free: Arc<Semaphore>,
    limit: u32,
}

impl WebSocketSlots {
    pub fn new(limit: u32) -> WebSocketSlots {
        WebSocketSlots { free: Arc::new(Semaphore::new(limit as usize)), limit }
    }

    /// A free slot, held by the socket task: dropping the permit frees it.
    pub fn take(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.free).try_acquire_owned().map_err(|_| ApiError::TooManyWebSockets { limit: self.limit })
    }
}
