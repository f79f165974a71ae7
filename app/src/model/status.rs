//! The closed sets of words of the product (statuses, triggers, roles, streams). Each is one enum
//! used as-is by the JSON API, the database column and the browser, so adding a variant breaks
//! the build wherever it must be handled.

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "ssr")]
use sea_orm::sea_query::StringLen;
use serde::{Deserialize, Serialize};

/// A word that is not one of an enum's variants; names the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not one of: {accepted}")]
pub struct UnknownVariant {
    pub given: String,
    pub accepted: String,
}

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
        #[cfg_attr(feature = "ssr", sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))"))]
        // utoipa does not see a `rename` whose text comes through the macro, but it reads
        // `rename_all`; every text is its variant in snake_case (a server test checks).
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $text)]
                #[cfg_attr(feature = "ssr", sea_orm(string_value = $text))]
                $variant,
            )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownVariant {
                    given: s.to_string(),
                    accepted: Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
}

word_enum! {
    /// Where a run is in its life: `queued` → `running` → one final status.
    ExecutionStatus {
        Queued = "queued",
        Running = "running",
        /// Exit code 0.
        Succeeded = "succeeded",
        /// Non-zero exit, or the process could not start.
        Failed = "failed",
        /// Stopped by a user or by a shutdown.
        Stopped = "stopped",
        TimedOut = "timed_out",
        /// The instance that ran it died.
        Lost = "lost",
    }
}

impl ExecutionStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, ExecutionStatus::Queued | ExecutionStatus::Running)
    }
}

word_enum! {
    /// What started a run.
    Trigger {
        Manual = "manual",
        Schedule = "schedule",
        Api = "api",
        /// A script's trigger URL, `POST /api/hooks/{token}`.
        Webhook = "webhook",
    }
}

word_enum! {
    /// What a schedule does when its time comes while a run it started is still queued or
    /// running (issue #26).
    OverlapPolicy {
        /// Start another beside it (schedules made before policies existed).
        Allow = "allow",
        /// Pass the time over, recorded as skipped (the default of a new schedule).
        Skip = "skip",
        /// Queue one run to start after it; a time that finds one waiting already is skipped.
        Queue = "queue",
        /// Stop the run still going (or waiting) and start the new one.
        CancelPrevious = "cancel_previous",
    }
}

word_enum! {
    /// What a schedule does with the times missed while no instance ran (issue #26).
    CatchUp {
        /// Pass them over, each recorded as skipped; the next time after now fires.
        None = "none",
        /// One run for them all, for the latest of them.
        Last = "last",
        /// A run for each, up to `CATCH_UP_CAP`; the rest recorded as skipped.
        All = "all",
    }
}

/// The most runs `CatchUp::All` starts for one schedule's missed times.
pub const CATCH_UP_CAP: usize = 100;

word_enum! {
    /// What a user may do: `admin` everything, `editor` scripts, runs and schedules, `viewer` read.
    Role {
        Admin = "admin",
        Editor = "editor",
        Viewer = "viewer",
    }
}

impl Role {
    pub fn can_edit(self) -> bool {
        matches!(self, Role::Admin | Role::Editor)
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

word_enum! {
    /// Who wrote a log line: the script, on one of its pipes, or the server itself (making the
    /// environment, why a run ended). A script cannot write `server` lines, whatever it prints.
    LogStream {
        Stdout = "stdout",
        Stderr = "stderr",
        Server = "server",
    }
}

word_enum! {
    /// How a script takes its inputs (`model::inputs`).
    #[derive(Default)]
    InputStyle {
        /// It takes none: it runs as it is.
        #[default]
        None = "none",
        /// `argparse`: the run gets them as command-line arguments.
        Argparse = "argparse",
        /// A top-level `def main(...)`: the run imports the script and calls `main(**inputs)`.
        Main = "main",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_text_and_json() {
        for status in ExecutionStatus::ALL {
            assert_eq!(status.as_str().parse::<ExecutionStatus>(), Ok(*status));
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(ExecutionStatus::TimedOut.as_str(), "timed_out");
    }

    #[test]
    fn unknown_word_names_the_accepted_ones() {
        let err = "done".parse::<ExecutionStatus>().unwrap_err();
        assert!(err.to_string().contains("queued, running, succeeded"));
        assert!("Admin".parse::<Role>().is_err());
    }
}
