//! Access owns who may act: users, sessions, second factors and security keys, step-up, API keys,
//! organizations and their settings (fees, enabled assets), and the audit log. It uses only `db` and `domain`.

pub mod api_keys;
pub mod audit;
pub mod idempotency;
pub mod invitations;
pub mod org_settings;
pub mod password_reset;
pub mod second_factor;
pub mod security_keys;
pub mod security_notice;
pub mod sessions;
pub mod users;

use chrono::NaiveDateTime;

use crate::clock::Clock;
use crate::domain::account::Role;
use crate::error::AppError;

/// Who is acting, as the services see it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub org_id: i64,
    pub email: String,
    pub role: Role,
    pub ip: Option<String>,
    /// When this person last proved a second factor (signing in with it, a step-up, an `X-OTP`
    /// header); what step-up asks of approvals, confirms and settings changes is judged by it.
    pub stepped_up_at: Option<NaiveDateTime>,
    /// Acting through an API key rather than a signed-in browser.
    pub via_api: bool,
    /// The app's clock: what every rule judged at "now" reads.
    pub clock: Clock,
}

impl Actor {
    /// `user` acting as `role` from no particular address, with no second factor given yet.
    pub fn of_user(user: crate::db::models::UserRow, role: Role) -> Actor {
        Actor {
            user_id: user.id,
            org_id: user.org_id,
            email: user.email,
            role,
            ip: None,
            stepped_up_at: None,
            via_api: false,
            clock: Clock::real(),
        }
    }

    /// The same person, judged by `clock` (the app's).
    pub fn with_clock(mut self, clock: Clock) -> Actor {
        self.clock = clock;
        self
    }

    /// Now, by the app's clock.
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now()
    }

    pub fn require(&self, allowed: fn(Role) -> bool) -> Result<(), AppError> {
        if allowed(self.role) {
            Ok(())
        } else {
            Err(AppError::RoleRequired(Role::ALL.into_iter().filter(|r| allowed(*r)).collect()))
        }
    }
}
