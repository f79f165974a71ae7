use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scripts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub is_active: bool,
    pub timeout_seconds: Option<i32>,
    /// Whether its runs may reach the network (their sandbox keeps the host's network, or none).
    pub network: bool,
    /// The inputs its code takes (`app::model::InputsReport` as JSON); empty if unread.
    #[sea_orm(column_type = "Text", nullable)]
    pub inputs: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::dependency::Entity")]
    Dependencies,
    #[sea_orm(has_many = "super::schedule::Entity")]
    Schedules,
    #[sea_orm(has_many = "super::execution::Entity")]
    Executions,
}

impl Related<super::tag::Entity> for Entity {
    fn to() -> RelationDef {
        super::script_tag::Relation::Tag.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::script_tag::Relation::Script.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
