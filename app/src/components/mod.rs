//! Building blocks shared by the pages.

pub mod code_editor;
pub mod dependencies;
pub mod layout;
pub mod log_view;
pub mod runs;
pub mod status_badge;
pub mod tag_input;
