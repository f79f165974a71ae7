//! Who is signed in, known on the server from the request and handed to the browser with the
//! page, so the header and the controls render the same on both sides.

use leptos::prelude::*;
use leptos::server::SharedValue;

use crate::model::UserInfo;

/// The signed-in user of this page (`None` on the sign-in and setup pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser(pub Option<UserInfo>);

impl CurrentUser {
    pub fn can_edit(&self) -> bool {
        self.0.as_ref().is_some_and(|user| user.role.can_edit())
    }

    pub fn is_admin(&self) -> bool {
        self.0.as_ref().is_some_and(|user| user.role.is_admin())
    }
}

/// Reads the user once per page load and provides it as context.
pub fn provide_current_user() {
    let user = SharedValue::new(from_request).into_inner();
    provide_context(CurrentUser(user));
}

pub fn use_current_user() -> CurrentUser {
    use_context::<CurrentUser>().unwrap_or(CurrentUser(None))
}

#[cfg(feature = "ssr")]
fn from_request() -> Option<UserInfo> {
    use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<UserInfo>().cloned())
}

#[cfg(not(feature = "ssr"))]
fn from_request() -> Option<UserInfo> {
    None
}
