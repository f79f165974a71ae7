use app::model::{CatchUp, OverlapPolicy};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub script_id: i64,
    pub cron_expression: String,
    /// IANA zone name the expression is evaluated in.
    pub timezone: String,
    pub is_active: bool,
    pub description: String,
    pub next_run_at: Option<DateTimeUtc>,
    /// The inputs each fire gives (JSON), secret values as `***`.
    #[sea_orm(column_type = "Text", nullable)]
    pub inputs: Option<String>,
    /// The inputs as given, sealed (`executions::inputs::seal_for_schedule`).
    pub inputs_sealed: Option<Vec<u8>>,
    /// What its time does while a run it started is still going.
    pub overlap: OverlapPolicy,
    /// What it does with times missed while no instance ran.
    pub catch_up: CatchUp,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::script::Entity", from = "Column::ScriptId", to = "super::script::Column::Id", on_delete = "Cascade")]
    Script,
}

impl Related<super::script::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Script.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
