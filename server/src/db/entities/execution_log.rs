use app::model::LogStream;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "execution_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub execution_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub stream: LogStream,
    #[sea_orm(column_type = "Text")]
    pub line: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::execution::Entity", from = "Column::ExecutionId", to = "super::execution::Column::Id", on_delete = "Cascade")]
    Execution,
}

impl ActiveModelBehavior for ActiveModel {}
