use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "env_vars")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `global`, `script:<id>` or `pytask:key` (`env::store::Scope`).
    pub scope: String,
    pub script_id: Option<i64>,
    pub name: String,
    pub secret: bool,
    /// Nonce and ciphertext of the value (`env::crypto`), never the value.
    pub sealed: Vec<u8>,
    pub set_by: String,
    pub set_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
