//! The API's data types, shared by server, database and browser.

pub mod event;
pub mod health;
pub mod script;
pub mod status;
pub mod user;

pub use event::{Event, InstalledPackage};
pub use health::Health;
pub use script::{LastExecution, NewScript, Script, ScriptSummary, ScriptUpdate, TagCount};
pub use status::{ExecutionStatus, LogStream, Role, Trigger};
pub use user::{Credentials, CreatedToken, NewToken, NewUser, SetupStatus, TokenInfo, UserInfo, UserUpdate};
