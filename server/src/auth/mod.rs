//! Who may do what. Users with roles, Argon2id passwords, database-backed sessions (so every
//! instance shares them), API tokens, the first-admin setup, the sign-in throttle, and the
//! middleware that refuses every request without an identity.

pub mod error;
pub mod identity;
pub mod middleware;
pub mod password;
pub mod recheck;
pub mod routes;
pub mod secret;
pub mod sessions;
pub mod setup_code;
pub mod throttle;
pub mod tokens;
pub mod users;

pub use error::AuthError;
pub use identity::{Admin, AuthVia, Editor, Identity};
