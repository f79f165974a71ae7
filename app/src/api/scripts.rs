//! Scripts: the list (searched, filtered by tags, a page at a time), one script, its changes,
//! and the tags in use.

use std::future::Future;

use super::{call, call_empty, encode, get, Failure, Method};
use crate::model::{NewScript, Script, ScriptSummary, ScriptUpdate, TagCount};

/// Which scripts the list holds: a name search, tags all of which they have, and a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub q: String,
    pub tags: Vec<String>,
    pub limit: Option<u64>,
    pub offset: u64,
}

impl Filter {
    fn query(&self) -> String {
        let mut pairs = Vec::new();
        if !self.q.is_empty() {
            pairs.push(format!("q={}", encode(&self.q)));
        }
        if !self.tags.is_empty() {
            pairs.push(format!("tag={}", encode(&self.tags.join(","))));
        }
        if let Some(limit) = self.limit {
            pairs.push(format!("limit={limit}"));
        }
        if self.offset > 0 {
            pairs.push(format!("offset={}", self.offset));
        }
        pairs.join("&")
    }
}

pub fn list(filter: &Filter) -> impl Future<Output = Result<Vec<ScriptSummary>, Failure>> + Send + 'static {
    match filter.query() {
        query if query.is_empty() => get("/api/scripts"),
        query => get(&format!("/api/scripts?{query}")),
    }
}

pub fn get_one(id: i64) -> impl Future<Output = Result<Script, Failure>> + Send + 'static {
    get(&format!("/api/scripts/{id}"))
}

/// The script with `id` and `more` of it (`more` reads it), both asked at once.
pub async fn with<T>(id: i64, more: impl Future<Output = Result<T, Failure>>) -> Result<(Script, T), Failure> {
    futures::future::try_join(get_one(id), more).await
}

pub fn create(new: &NewScript) -> impl Future<Output = Result<Script, Failure>> + Send + 'static {
    call(Method::Post, "/api/scripts", Some(new))
}

/// Changes the fields present in `change`; refused if the script changed since `updated_at`.
pub fn update(id: i64, change: &ScriptUpdate) -> impl Future<Output = Result<Script, Failure>> + Send + 'static {
    call(Method::Put, &format!("/api/scripts/{id}"), Some(change))
}

/// Deletes the script with its runs, logs, schedules and environment.
pub fn delete(id: i64) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Delete, &format!("/api/scripts/{id}"), None)
}

/// Every tag in use, with how many scripts have it.
pub fn tags() -> impl Future<Output = Result<Vec<TagCount>, Failure>> + Send + 'static {
    get("/api/tags")
}

#[cfg(test)]
mod tests {
    use super::Filter;

    #[test]
    fn a_filter_names_only_what_it_sets() {
        assert_eq!(Filter::default().query(), "");
        let filter = Filter { q: "a b&c".into(), tags: vec!["etl".into(), "ops".into()], limit: Some(51), offset: 50 };
        assert_eq!(filter.query(), "q=a%20b%26c&tag=etl%2Cops&limit=51&offset=50");
    }
}
