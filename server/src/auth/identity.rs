//! `Identity`: who made the request, put in the request's extensions by the middleware and
//! taken by handlers; its role checks are the one place permissions are decided.

use app::model::{Role, UserInfo};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::http::error::ApiError;

#[derive(Debug, Clone)]
pub struct Identity {
    pub user: UserInfo,
    pub via: AuthVia,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVia {
    /// A browser session; the digest of its cookie.
    Session(String),
    /// An API token, by id.
    Token(i64),
}

impl Identity {
    /// Editors and admins change scripts, runs and schedules; viewers only read.
    pub fn require_editor(&self) -> Result<(), ApiError> {
        if self.user.role.can_edit() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("your role `{}` may only read; ask an admin for the editor role", self.user.role)))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "only admins may do this (users, global variables and secrets); your role is `{}`",
                self.user.role
            )))
        }
    }
}

/// An identity that may change scripts, runs and schedules. As an extractor it refuses viewers
/// with 403 before the body is read, so a viewer learns about the role, not a body mistake.
#[derive(Debug, Clone)]
pub struct Editor(pub Identity);

/// An identity with the admin role; refuses others with 403 before the body is read.
#[derive(Debug, Clone)]
pub struct Admin(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Editor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_request_parts(parts, state).await?;
        identity.require_editor()?;
        Ok(Editor(identity))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_request_parts(parts, state).await?;
        identity.require_admin()?;
        Ok(Admin(identity))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Identity>().cloned().ok_or(ApiError::Unauthorized)
    }
}
