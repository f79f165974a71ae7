//! The API's data types, shared by server, database and browser.

pub mod code;
pub mod dependency;
pub mod env;
pub mod event;
pub mod execution;
pub mod health;
pub mod hook;
pub mod inputs;
pub mod sandbox;
pub mod schedule;
pub mod script;
pub mod status;
pub mod user;

pub use code::{CheckReport, Problem, Severity, Source};
pub use dependency::{
    Dependency, DependencyCheck, DependencyState, DependencyUpdate, InlineMetadata, InstallStarted, MetadataWrite, NewDependency,
};
pub use env::{EnvScope, EnvValue, EnvVar};
pub use event::{Event, InstalledPackage};
pub use execution::{ExecuteRequest, Execution, ExecutionPage, ExecutionSort, LogLine, LogPage};
pub use health::Health;
pub use hook::{CreatedHook, Hook, HookFired, NewHook};
pub use inputs::{ArgAction, ArgvSpec, InputError, InputKind, InputNotice, InputSpec, InputsReport};
pub use sandbox::{ResourceUsage, SandboxMode, SandboxStatus};
pub use schedule::{CronDescription, DstShift, FireTime, NewSchedule, Schedule, ScheduleUpdate, ScheduledRun, SkippedTime, UnfitSchedule};
pub use script::{LastExecution, NewScript, Script, ScriptSummary, ScriptUpdate, TagCount};
pub use status::{CatchUp, ExecutionStatus, InputStyle, LogStream, OverlapPolicy, Role, Trigger, CATCH_UP_CAP};
pub use user::{CreatedToken, Credentials, FirstAdmin, NewToken, NewUser, PasswordChange, SetupStatus, TokenInfo, UserInfo, UserUpdate};
