//! This instance's own life: registered with a heartbeat, the runs of dead instances swept to
//! `lost`, the interpreters of recent scripts warmed at start, and a shutdown that lets runs
//! finish for a grace period before it stops them.

use std::sync::atomic::Ordering;
use std::sync::PoisonError;
use std::time::Duration;

use app::model::{Event, ExecutionStatus};
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend};

use super::{EndRequest, Runner};
use crate::executions::queue;
use crate::telemetry::metrics;

impl Runner {
    /// Registers the instance, marks the runs of dead instances `lost`, and starts the
    /// heartbeat; with `work`, also the workers.
    pub async fn start(&self, role: &str, work: bool) -> Result<(), sea_orm::DbErr> {
        queue::register_instance(&self.db, &self.instance, role).await?;
        // SQLite is one instance's database: whatever was running belonged to a dead process.
        let single = self.db.get_database_backend() == DatabaseBackend::Sqlite;
        self.sweep(single).await;
        let this = self.clone();
        tokio::spawn(async move { this.heartbeat_loop().await });
        if work {
            self.works.store(true, Ordering::Release);
            let this = self.clone();
            tokio::spawn(async move { this.dispatch().await });
            let this = self.clone();
            tokio::spawn(async move { this.warm_recent().await });
        }
        Ok(())
    }

    /// Warms the interpreters of the scripts run last, so their first runs after a restart
    /// start warm too; the most recent is kept longest.
    async fn warm_recent(&self) {
        let Ok(limit) = u64::try_from(self.settings.warm_interpreters) else { return };
        if limit == 0 {
            return;
        }
        let recent = match queue::recent_scripts(&self.db, limit).await {
            Ok(recent) => recent,
            Err(err) => return tracing::warn!(%err, "the scripts run last could not be read; no interpreter is warmed at start"),
        };
        let (warm, settings) = (self.warm.clone(), self.settings.clone());
        let _ =
            tokio::task::spawn_blocking(move || recent.into_iter().rev().for_each(|script_id| warm.fill(&settings, script_id, true))).await;
    }

    async fn sweep(&self, everyone_else: bool) {
        let cutoff = queue::now() - chrono::Duration::from_std(self.settings.lost_after).unwrap_or_default();
        match queue::sweep_lost(&self.db, &self.instance, cutoff, everyone_else).await {
            Ok(lost) => {
                for (execution_id, script_id) in lost {
                    tracing::warn!(execution_id, "run marked lost: its instance stopped without finishing it");
                    metrics::run_finished(ExecutionStatus::Lost, None);
                    self.events.publish(Event::ExecutionFinished {
                        execution_id,
                        script_id,
                        status: ExecutionStatus::Lost,
                        exit_code: None,
                        at: Utc::now(),
                    });
                }
            }
            Err(err) => tracing::error!(%err, "the sweep for lost runs failed"),
        }
    }

    async fn heartbeat_loop(&self) {
        let mut closing = self.closing.subscribe();
        let every = (self.settings.lost_after / 3).max(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = closing.wait_for(|c| *c) => return,
            }
            if let Err(err) = queue::heartbeat(&self.db, &self.instance).await {
                tracing::error!(%err, "heartbeat failed");
            }
            self.sweep(false).await;
            self.warm.expire();
        }
    }

    /// Stops taking runs, lets the running ones finish for up to `grace`, then stops them
    /// (status `stopped`, the log says why) and leaves the instance table.
    pub async fn shutdown(&self, grace: Duration) {
        self.closing.send_replace(true);
        self.warm.clear();
        let idle = async {
            while !self.running.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(grace, idle).await.is_err() {
            let ids: Vec<i64> = self.running.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect();
            for id in ids {
                self.end_locally(id, EndRequest::Shutdown);
            }
            while !self.running.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if let Err(err) = queue::unregister_instance(&self.db, &self.instance).await {
            tracing::warn!(%err, "could not remove this instance's heartbeat row");
        }
    }
}
