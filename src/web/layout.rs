//! What the base template needs on every page: the signed-in user, navigation, CSRF token, flash.

use super::context::{Flash, RequestContext};
use crate::domain::account::Role;
use crate::service::sessions::SessionUser;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub struct Layout {
    pub user: Option<SessionUser>,
    pub csrf_token: String,
    pub flash: Option<Flash>,
    pub demo: bool,
    pub nav: Vec<NavItem>,
}

/// Navigation entries and who may use them.
const NAV: &[(&str, &str, fn(Role) -> bool)] = &[
    ("/", "Dashboard", |_| true),
    ("/settings", "Settings", Role::can_administer),
];

impl Layout {
    /// `section` is the href of the navigation entry to mark as current.
    pub fn new(ctx: &RequestContext, section: &str) -> Self {
        let nav = match &ctx.user {
            Some(user) => NAV
                .iter()
                .filter(|(_, _, allowed)| allowed(user.role))
                .map(|(href, label, _)| NavItem { href, label, current: *href == section })
                .collect(),
            None => Vec::new(),
        };
        Self {
            user: ctx.user.clone(),
            csrf_token: ctx.csrf_token.clone(),
            flash: ctx.flash.clone(),
            demo: ctx.demo,
            nav,
        }
    }
}
