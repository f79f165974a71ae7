//! Runs: start one, stop one, read one, and list them filtered and a page at a time.

use std::future::Future;

use super::{call, get, Failure, Method};
use crate::model::{ExecuteRequest, Execution, ExecutionPage, ExecutionSort, ExecutionStatus};

/// Which runs a page of the list holds. `None` and the defaults are left out of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub script_id: Option<i64>,
    pub schedule_id: Option<i64>,
    pub status: Option<ExecutionStatus>,
    pub sort: ExecutionSort,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

impl Filter {
    fn query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(id) = self.script_id {
            pairs.push(format!("script_id={id}"));
        }
        if let Some(id) = self.schedule_id {
            pairs.push(format!("schedule_id={id}"));
        }
        if let Some(status) = self.status {
            pairs.push(format!("status={status}"));
        }
        if self.sort == ExecutionSort::Oldest {
            pairs.push("sort=oldest".to_string());
        }
        if let Some(page) = self.page {
            pairs.push(format!("page={page}"));
        }
        if let Some(per_page) = self.per_page {
            pairs.push(format!("per_page={per_page}"));
        }
        pairs.join("&")
    }
}

pub fn list(filter: &Filter) -> impl Future<Output = Result<ExecutionPage, Failure>> + Send + 'static {
    match filter.query() {
        query if query.is_empty() => get("/api/executions"),
        query => get(&format!("/api/executions?{query}")),
    }
}

/// The script's newest run, if it has one.
pub fn latest(script_id: i64) -> impl Future<Output = Result<Option<Execution>, Failure>> + Send + 'static {
    let page = list(&Filter { script_id: Some(script_id), per_page: Some(1), ..Default::default() });
    async move { Ok(page.await?.items.into_iter().next()) }
}

pub fn get_one(id: i64) -> impl Future<Output = Result<Execution, Failure>> + Send + 'static {
    get(&format!("/api/executions/{id}"))
}

/// Queues a run of the script as it is saved now, with no inputs given (defaults only).
pub fn start(script_id: i64) -> impl Future<Output = Result<Execution, Failure>> + Send + 'static {
    start_with(script_id, &ExecuteRequest::default())
}

/// Queues a run of the script as it is saved now, with these inputs.
pub fn start_with(script_id: i64, request: &ExecuteRequest) -> impl Future<Output = Result<Execution, Failure>> + Send + 'static {
    call(Method::Post, &format!("/api/scripts/{script_id}/execute"), Some(request))
}

/// Ends a queued or running run.
pub fn stop(id: i64) -> impl Future<Output = Result<Execution, Failure>> + Send + 'static {
    call(Method::Post, &format!("/api/executions/{id}/stop"), Some(&serde_json::Map::new()))
}

/// Where the whole log of a run is, as plain text (a link for the browser to download).
pub fn log_text_url(id: i64) -> String {
    format!("/api/executions/{id}/logs?format=text")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_names_only_what_it_sets() {
        assert_eq!(Filter::default().query(), "");
        let filter = Filter {
            script_id: Some(7),
            schedule_id: Some(12),
            status: Some(ExecutionStatus::TimedOut),
            sort: ExecutionSort::Oldest,
            page: Some(3),
            per_page: Some(50),
        };
        assert_eq!(filter.query(), "script_id=7&schedule_id=12&status=timed_out&sort=oldest&page=3&per_page=50");
    }
}
