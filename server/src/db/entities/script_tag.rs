use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "script_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub script_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::script::Entity", from = "Column::ScriptId", to = "super::script::Column::Id", on_delete = "Cascade")]
    Script,
    #[sea_orm(belongs_to = "super::tag::Entity", from = "Column::TagId", to = "super::tag::Column::Id", on_delete = "Cascade")]
    Tag,
}

impl ActiveModelBehavior for ActiveModel {}
