//! Building blocks shared by the pages.

pub mod layout;
pub mod status_badge;
