use sea_orm::entity::prelude::*;

/// Consecutive log lines `first_seq..=last_seq` of one run; `body` is their JSON (see
/// `executions::logs`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "execution_log_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub execution_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub first_seq: i64,
    pub last_seq: i64,
    #[sea_orm(column_type = "Text")]
    pub body: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::execution::Entity",
        from = "Column::ExecutionId",
        to = "super::execution::Column::Id",
        on_delete = "Cascade"
    )]
    Execution,
}

impl ActiveModelBehavior for ActiveModel {}
