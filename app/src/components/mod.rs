//! Building blocks shared by the pages.

pub mod code_editor;
pub mod confirm_dialog;
pub mod dependencies;
pub mod env_panel;
pub mod hooks_panel;
pub mod inputs_form;
pub mod layout;
pub mod loaded;
pub mod log_view;
pub mod runs;
pub mod sandbox_banner;
pub mod schedule_form;
pub mod status_badge;
pub mod tag_input;
pub mod zone_picker;
pub mod zoned_time;
