use app::model::{ExecutionStatus, InputStyle, Trigger};
use sea_orm::entity::prelude::*;

// Not `Eq`: `cpu_seconds` is a float.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "executions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub script_id: i64,
    pub status: ExecutionStatus,
    pub trigger: Trigger,
    pub schedule_id: Option<i64>,
    pub queued_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub exit_code: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// The instance that claimed the run (for `lost` detection).
    pub worker_id: Option<String>,
    /// Highest `seq` stored, so a viewer knows where the log ends without counting rows.
    pub log_lines: i64,
    /// A stop was asked for; the instance running it ends it.
    pub cancel_requested: bool,
    /// The script's network setting the run was claimed with; empty until then.
    pub network: Option<bool>,
    /// Whether it ran in a sandbox; empty until it ends (and for runs that never started).
    pub sandboxed: Option<bool>,
    /// The most memory its processes held at once, from its cgroup.
    pub peak_memory_bytes: Option<i64>,
    /// CPU time of all its processes, from its cgroup.
    pub cpu_seconds: Option<f64>,
    /// Secret values replaced by `***` in its output and error.
    pub masked: i64,
    /// How it takes its inputs (`argparse`, `main`); empty: none.
    pub input_style: Option<InputStyle>,
    /// Its inputs as shown (JSON), secret ones as `***`.
    #[sea_orm(column_type = "Text", nullable)]
    pub inputs: Option<String>,
    /// What its process is given, sealed (`executions::inputs`); cleared once it ends.
    pub inputs_sealed: Option<Vec<u8>>,
    /// `main()`'s return value (JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<String>,
    /// The due time a scheduled run was fired for.
    pub due_at: Option<DateTimeUtc>,
    /// Fired late, for a time missed while no instance ran (`CatchUp`).
    pub caught_up: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::script::Entity", from = "Column::ScriptId", to = "super::script::Column::Id", on_delete = "Cascade")]
    Script,
    #[sea_orm(
        belongs_to = "super::schedule::Entity",
        from = "Column::ScheduleId",
        to = "super::schedule::Column::Id",
        on_delete = "SetNull"
    )]
    Schedule,
}

impl Related<super::script::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Script.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
