//! What one request carries through the layers and into every page: who is signed in, the CSRF
//! token, the flash message, the header's counts. Data only: `context` loads it (the session
//! layer), `layout` and the error pages read it.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};

use crate::service::access::Actor;
use crate::service::access::sessions::SessionUser;

pub const SESSION_COOKIE: &str = "payouts_session";
pub const LOGIN_CSRF_COOKIE: &str = "payouts_csrf";
pub const FLASH_COOKIE: &str = "payouts_flash";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
}

/// A one-time message shown on the page that follows an action.
#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

impl Flash {
    fn encode(&self) -> String {
        let kind = if self.kind == FlashKind::Success { 's' } else { 'e' };
        format!("{kind}{}", hex::encode(self.message.as_bytes()))
    }

    pub(super) fn decode(value: &str) -> Option<Flash> {
        let kind = match value.chars().next()? {
            's' => FlashKind::Success,
            'e' => FlashKind::Error,
            _ => return None,
        };
        let message = String::from_utf8(hex::decode(&value[1..]).ok()?).ok()?;
        Some(Flash { kind, message: message.chars().take(500).collect() })
    }

    pub fn css_class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash flash-success",
            FlashKind::Error => "flash flash-error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub user: Option<SessionUser>,
    pub csrf_token: String,
    pub flash: Option<Flash>,
    pub ip: Option<String>,
    /// Served over https (directly or behind a proxy that says so): cookies get `Secure`.
    pub secure: bool,
    /// The session cookie the browser sent, valid or not (ended at sign-in).
    pub session_token: Option<String>,
    /// The browser sent a session cookie that no longer names a live session.
    pub stale_session: bool,
    /// Payouts awaiting approval, for a manager's navigation badge.
    pub pending_approvals: Option<i64>,
    /// Unread notices of the signed-in user (the bell).
    pub unread_notices: i64,
    pub demo: bool,
    /// The app's clock, which the services judge "now" by.
    pub clock: crate::clock::Clock,
}

impl RequestContext {
    pub fn actor(&self) -> Option<Actor> {
        self.user.as_ref().map(|u| Actor {
            user_id: u.user_id,
            org_id: u.org_id,
            email: u.email.clone(),
            role: u.role,
            ip: self.ip.clone(),
            stepped_up_at: u.stepped_up_at,
            via_api: false,
            clock: self.clock.clone(),
        })
    }

    pub fn cookie<'c>(&self, name: &'c str, value: String) -> Cookie<'c> {
        Cookie::build(name, value).path("/").http_only(true).same_site(SameSite::Lax).secure(self.secure).finish()
    }

    pub fn removal_cookie<'c>(&self, name: &'c str) -> Cookie<'c> {
        let mut c = self.cookie(name, String::new());
        c.make_removal();
        c
    }

    pub fn flash_cookie(&self, flash: &Flash) -> Cookie<'static> {
        let mut c = self.cookie(FLASH_COOKIE, flash.encode());
        c.set_max_age(CookieDuration::minutes(5));
        c
    }
}
