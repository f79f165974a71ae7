use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dependencies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub script_id: i64,
    /// Normalised per PEP 503.
    pub package_name: String,
    /// PEP 440 specifier set, empty for "any version".
    pub version_spec: String,
    pub installed_version: Option<String>,
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
