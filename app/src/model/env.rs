//! Variables and secrets: `NAME=value` pairs given to runs as environment variables, global or
//! per script. A secret's value is write-only: it is never in anything the API returns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest name, in bytes.
pub const NAME_MAX: usize = 128;
/// Largest value, in bytes: the whole environment of a process must fit the kernel's limit for
/// the programs a script starts.
pub const VALUE_MAX: usize = 16 * 1024;
/// Most entries in one scope (the globals, or one script's own).
pub const PER_SCOPE_MAX: usize = 200;
/// Shortest secret, in bytes: a shorter one would mask ordinary text in every log.
pub const SECRET_MIN: usize = 4;

/// Where an entry applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EnvScope {
    /// Every script's runs.
    Global,
    /// One script's runs; overrides a global of the same name.
    Script,
}

/// A variable or secret as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnvVar {
    pub name: String,
    pub scope: EnvScope,
    /// A secret: its value is never shown (`value` is then absent).
    pub secret: bool,
    /// A plain variable's value; absent for a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Who set it last (a username), and when.
    pub set_by: String,
    pub set_at: DateTime<Utc>,
    /// A global that this script's own entry of the same name replaces in its runs (only in a
    /// script's list).
    #[serde(default)]
    pub overridden: bool,
}

/// `PUT /api/scripts/{id}/env/{name}` and `PUT /api/env/{name}`: sets or replaces the entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnvValue {
    #[cfg_attr(feature = "ssr", schema(example = "https://example.com/api"))]
    pub value: String,
    /// Write-only and masked in output when true.
    #[serde(default)]
    pub secret: bool,
}

/// Why a name cannot be used, in words; `None` when it can.
pub fn name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Some("the name is empty".into());
    };
    if name.len() > NAME_MAX {
        return Some(format!("the name is longer than {NAME_MAX} characters"));
    }
    if !(first.is_ascii_alphabetic() || first == '_') || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some("a name is letters, digits and _ (A-Z, a-z, 0-9, _), not starting with a digit".into());
    }
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("PYTASK_") {
        return Some("names starting with PYTASK_ are the server's own".into());
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| upper.starts_with(**p)) {
        return Some(format!("names starting with {prefix} change how Python or the system loader starts; they are not allowed"));
    }
    if RESERVED.contains(&upper.as_str()) {
        return Some(format!("{name} is set by the runtime for every run"));
    }
    None
}

/// Why a value cannot be stored, in words; `None` when it can.
pub fn value_problem(value: &str, secret: bool) -> Option<String> {
    if value.len() > VALUE_MAX {
        return Some(format!("the value is longer than {} KiB", VALUE_MAX / 1024));
    }
    if value.contains('\0') {
        return Some("the value holds a NUL character, which an environment variable cannot".into());
    }
    if secret && value.len() < SECRET_MIN {
        return Some(format!(
            "a secret must be at least {SECRET_MIN} characters: a shorter one would be masked wherever those characters appear in the output"
        ));
    }
    None
}

/// Names the runtime sets itself (compared in upper case).
const RESERVED: &[&str] = &["PATH", "HOME", "TMPDIR", "VIRTUAL_ENV", "LANG", "PWD", "SHELL", "USER", "LOGNAME"];
/// Prefixes of names that would change how the interpreter or the loader starts.
const RESERVED_PREFIXES: &[&str] = &["PYTHON", "LD_"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_environment_names_outside_the_runtimes() {
        for good in ["API_KEY", "_x", "a1", "DB_PASSWORD_2"] {
            assert_eq!(name_problem(good), None, "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "é", "PYTASK_X", "pytask_x", "PATH", "home", "PYTHONPATH", "LD_PRELOAD"] {
            assert!(name_problem(bad).is_some(), "{bad:?} was accepted");
        }
        assert!(name_problem(&"A".repeat(NAME_MAX + 1)).is_some());
    }

    #[test]
    fn values_are_bounded_and_secrets_long_enough() {
        assert_eq!(value_problem("", false), None);
        assert!(value_problem("abc", true).unwrap().contains("at least 4"));
        assert_eq!(value_problem("abcd", true), None);
        assert!(value_problem("a\0b", false).is_some());
        assert!(value_problem(&"x".repeat(VALUE_MAX + 1), false).is_some());
    }
}
