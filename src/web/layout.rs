//! What the base template needs on every page: the signed-in user, navigation, CSRF token, flash.

use super::request::{Flash, RequestContext};
use crate::domain::account::Role;
use crate::service::access::sessions::{SessionUser, Stage};

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    /// A count shown beside the label (payouts awaiting approval).
    pub badge: Option<i64>,
}

pub struct Layout {
    pub user: Option<SessionUser>,
    pub csrf_token: String,
    pub flash: Option<Flash>,
    pub demo: bool,
    pub nav: Vec<NavItem>,
    /// Forms that need a step-up show a code field: the user has an authenticator and has not
    /// given a code in the last five minutes.
    pub ask_code: bool,
    /// The same for a user whose only factors are security keys: a link to the step-up page.
    pub ask_key: bool,
    /// Unread notices (the bell's count).
    pub unread: i64,
}

/// A navigation entry: where it goes, its label, and which roles may use it.
struct NavEntry {
    href: &'static str,
    label: &'static str,
    allowed: fn(Role) -> bool,
}

const NAV: &[NavEntry] = &[
    NavEntry { href: "/", label: "Dashboard", allowed: |_| true },
    NavEntry { href: "/payouts", label: "Payouts", allowed: |_| true },
    NavEntry { href: "/payees", label: "Payees", allowed: |_| true },
    NavEntry { href: "/schedules", label: "Schedules", allowed: |_| true },
    NavEntry { href: "/approvals", label: "Approvals", allowed: Role::can_approve },
    NavEntry { href: "/settings", label: "Settings", allowed: Role::can_administer },
];

impl Layout {
    /// `section` is the href of the navigation entry to mark as current.
    pub fn new(ctx: &RequestContext, section: &str) -> Self {
        let nav = match &ctx.user {
            Some(user) if user.stage == Stage::Full => NAV
                .iter()
                .filter(|e| (e.allowed)(user.role))
                .map(|e| NavItem {
                    href: e.href,
                    label: e.label,
                    current: e.href == section,
                    badge: if e.href == "/approvals" { ctx.pending_approvals.filter(|n| *n > 0) } else { None },
                })
                .collect(),
            _ => Vec::new(),
        };
        let due = ctx.user.as_ref().is_some_and(|u| u.stage == Stage::Full && u.step_up_due(ctx.clock.now()));
        let totp = ctx.user.as_ref().is_some_and(|u| u.totp);
        Self {
            ask_code: due && totp,
            ask_key: due && !totp,
            user: ctx.user.clone(),
            csrf_token: ctx.csrf_token.clone(),
            flash: ctx.flash.clone(),
            demo: ctx.demo,
            unread: ctx.unread_notices,
            nav,
        }
    }
}

impl Layout {
    /// The signed-in user's id, 0 when signed out.
    pub fn user_id(&self) -> i64 {
        self.user.as_ref().map_or(0, |u| u.user_id)
    }

    /// Signed in all the way (not waiting for a second factor or its setup).
    pub fn signed_in(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.stage == Stage::Full)
    }
}
