//! Rules for user input shared by the server (which enforces them) and the browser (which
//! explains them as the user types). Each failure names the field and says what is accepted.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid { field, message: message.into() }
}

pub const USERNAME_MAX: usize = 64;
pub const SCRIPT_NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 2_000;
/// 512 KiB of Python is far beyond a hand-kept script; the cap keeps one row and one editor
/// load bounded.
pub const CONTENT_MAX_BYTES: usize = 512 * 1024;
pub const TAG_MAX: usize = 32;
pub const TAGS_PER_SCRIPT_MAX: usize = 20;
pub const TIMEOUT_MAX_SECONDS: u32 = 7 * 24 * 3600;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;
pub const TOKEN_NAME_MAX: usize = 100;
pub const TOKEN_DAYS_MAX: u32 = 3650;

/// A user name: trimmed, 1–64 characters of letters, digits and `. _ @ -`.
pub fn username(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("username", "enter a user name"));
    }
    if name.chars().count() > USERNAME_MAX {
        return Err(invalid("username", format!("a user name has at most {USERNAME_MAX} characters")));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))) {
        return Err(invalid(
            "username",
            format!("`{}` is not allowed in a user name: use letters, digits and . _ @ -", bad.escape_default()),
        ));
    }
    Ok(name.to_string())
}

/// A password: 8–256 characters, not only spaces. Kept as typed (no trimming).
pub fn password(raw: &str) -> Result<(), Invalid> {
    let length = raw.chars().count();
    if length < PASSWORD_MIN || raw.trim().is_empty() {
        return Err(invalid("password", format!("a password has at least {PASSWORD_MIN} characters")));
    }
    if length > PASSWORD_MAX {
        return Err(invalid("password", format!("a password has at most {PASSWORD_MAX} characters")));
    }
    Ok(())
}

/// An API token's name: trimmed, 1–100 characters, no control characters.
pub fn token_name(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("name", "give the token a name, e.g. where it is used"));
    }
    if name.chars().count() > TOKEN_NAME_MAX {
        return Err(invalid("name", format!("a token name has at most {TOKEN_NAME_MAX} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "a token name cannot contain control characters"));
    }
    Ok(name.to_string())
}

pub fn token_days(days: Option<u32>) -> Result<Option<u32>, Invalid> {
    match days {
        Some(0) => Err(invalid("expires_in_days", "a token lives at least 1 day; leave it empty for no expiry")),
        Some(days) if days > TOKEN_DAYS_MAX => {
            Err(invalid("expires_in_days", format!("at most {TOKEN_DAYS_MAX} days; leave it empty for no expiry")))
        }
        other => Ok(other),
    }
}

/// A script name: trimmed, 1–100 characters, no control characters.
pub fn script_name(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("name", "give the script a name"));
    }
    if name.chars().count() > SCRIPT_NAME_MAX {
        return Err(invalid("name", format!("a script name has at most {SCRIPT_NAME_MAX} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "a script name cannot contain control characters"));
    }
    Ok(name.to_string())
}

pub fn description(raw: &str) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.chars().count() > DESCRIPTION_MAX {
        return Err(invalid("description", format!("a description has at most {DESCRIPTION_MAX} characters")));
    }
    Ok(text.to_string())
}

pub fn content(raw: &str) -> Result<(), Invalid> {
    if raw.len() > CONTENT_MAX_BYTES {
        return Err(invalid("content", format!("the script is {} KiB; the limit is {} KiB", raw.len() / 1024, CONTENT_MAX_BYTES / 1024)));
    }
    if raw.contains('\0') {
        return Err(invalid("content", "the script contains a NUL character, which Python source cannot"));
    }
    Ok(())
}

/// A tag: a lowercase slug `[a-z0-9][a-z0-9_-]{0,31}`. Surrounding spaces are dropped and
/// capitals lowered, since people type `ETL` and mean `etl`.
pub fn tag(raw: &str) -> Result<String, Invalid> {
    let tag = raw.trim().to_lowercase();
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if tag.is_empty() || tag.len() > TAG_MAX || !first_ok || !rest_ok {
        return Err(invalid(
            "tags",
            format!(
                "`{}` is not a tag: use up to {TAG_MAX} letters a–z, digits, - and _, starting with a letter or digit",
                raw.trim().escape_default()
            ),
        ));
    }
    Ok(tag)
}

/// A script's tags: each valid, duplicates dropped, order kept.
pub fn tags(raw: &[String]) -> Result<Vec<String>, Invalid> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for item in raw {
        let tag = tag(item)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > TAGS_PER_SCRIPT_MAX {
        return Err(invalid("tags", format!("a script has at most {TAGS_PER_SCRIPT_MAX} tags")));
    }
    Ok(tags)
}

pub fn timeout(seconds: Option<u32>) -> Result<Option<u32>, Invalid> {
    match seconds {
        Some(0) => Err(invalid("timeout_seconds", "a timeout is at least 1 second; leave it empty for the default")),
        Some(s) if s > TIMEOUT_MAX_SECONDS => {
            Err(invalid("timeout_seconds", format!("a timeout is at most {TIMEOUT_MAX_SECONDS} seconds (7 days)")))
        }
        other => Ok(other),
    }
}

/// A local path to go back to after signing in; anything else (other hosts, `//x`) becomes `/`.
pub fn next_path(raw: &str) -> String {
    let local = raw.starts_with('/') && !raw.starts_with("//") && !raw.contains('\\') && !raw.chars().any(char::is_control);
    if local {
        raw.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("  alice ").unwrap(), "alice");
        assert_eq!(username("bob.smith@example-1").unwrap(), "bob.smith@example-1");
        assert_eq!(username("").unwrap_err().field, "username");
        assert!(username(&"a".repeat(65)).is_err());
        assert!(username("a b").unwrap_err().message.contains("` `"));
        assert!(username("x\u{0}y").is_err());
    }

    #[test]
    fn passwords() {
        assert!(password("correct horse").is_ok());
        assert!(password("short").is_err());
        assert!(password("        ").is_err());
        assert!(password(&"p".repeat(257)).is_err());
    }

    #[test]
    fn next_paths_stay_local() {
        assert_eq!(next_path("/executions?status=failed"), "/executions?status=failed");
        assert_eq!(next_path("//evil.example"), "/");
        assert_eq!(next_path("https://evil.example"), "/");
        assert_eq!(next_path("/\\evil"), "/");
    }

    #[test]
    fn tags_are_slugs() {
        assert_eq!(tag(" ETL ").unwrap(), "etl");
        assert_eq!(tag("nightly_job-2").unwrap(), "nightly_job-2");
        for bad in ["", "-x", "_x", "a b", "ü", "a/b", &"t".repeat(33)] {
            assert_eq!(tag(bad).unwrap_err().field, "tags", "{bad:?}");
        }
        assert_eq!(tags(&["a".into(), "A".into(), "b".into()]).unwrap(), ["a", "b"]);
    }

    #[test]
    fn script_fields() {
        assert_eq!(script_name("  Nightly report ").unwrap(), "Nightly report");
        assert!(script_name("   ").is_err());
        assert!(script_name(&"n".repeat(101)).is_err());
        assert!(script_name(&"n".repeat(100)).is_ok());
        assert!(content(&"x".repeat(CONTENT_MAX_BYTES + 1)).is_err());
        assert!(timeout(Some(0)).is_err());
    }

    #[test]
    fn token_fields() {
        assert_eq!(token_name(" ci ").unwrap(), "ci");
        assert!(token_name("").is_err());
        assert!(token_days(Some(0)).is_err());
        assert_eq!(token_days(None).unwrap(), None);
    }
}
