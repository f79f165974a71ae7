//! Schedules: cron expressions of scripts (`cron`), kept by `service`, fired by `scheduler`,
//! brought in line with changed cron rules at start (`realign`), served by `routes`.

pub mod cron;
pub mod error;
pub mod realign;
pub mod routes;
pub mod scheduler;
pub mod service;

pub use error::ScheduleError;
pub use scheduler::Scheduler;
