//! Events pushed over the WebSockets, one tagged union for server and browser.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ExecutionStatus, LogStream};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstalledPackage {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    ExecutionStarted { execution_id: i64, script_id: i64, at: DateTime<Utc> },
    LogOutput { execution_id: i64, script_id: i64, seq: i64, stream: LogStream, line: String, at: DateTime<Utc> },
    ExecutionFinished { execution_id: i64, script_id: i64, status: ExecutionStatus, exit_code: Option<i32>, at: DateTime<Utc> },
    ExecutionError { execution_id: i64, script_id: i64, error: String, at: DateTime<Utc> },
    InstallationStarted { script_id: i64, at: DateTime<Utc> },
    InstallationProgress { script_id: i64, message: String, at: DateTime<Utc> },
    InstallationFinished { script_id: i64, installed: Vec<InstalledPackage>, at: DateTime<Utc> },
    InstallationError { script_id: i64, error: String, at: DateTime<Utc> },
}

impl Event {
    /// The script the event is about: every event names it, so a viewer of one script can
    /// join mid-run and still see that run's lines and end.
    pub fn script_id(&self) -> i64 {
        match self {
            Event::ExecutionStarted { script_id, .. }
            | Event::LogOutput { script_id, .. }
            | Event::ExecutionFinished { script_id, .. }
            | Event::ExecutionError { script_id, .. }
            | Event::InstallationStarted { script_id, .. }
            | Event::InstallationProgress { script_id, .. }
            | Event::InstallationFinished { script_id, .. }
            | Event::InstallationError { script_id, .. } => *script_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_their_type_in_snake_case() {
        let event = Event::LogOutput {
            execution_id: 7,
            script_id: 2,
            seq: 3,
            stream: LogStream::Stderr,
            line: "boom".into(),
            at: DateTime::UNIX_EPOCH,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "log_output");
        assert_eq!(json["stream"], "stderr");
        assert_eq!(json["script_id"], 2);
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }
}
