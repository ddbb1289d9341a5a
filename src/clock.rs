//! The app's clock: every "now" the services and rails judge by (pay days, leases, sessions,
//! step-ups, cooling-off, retries) comes from the `Clock` in the app state, the processor's
//! context or the actor. Real in the server; fixed and moved by hand in tests, so "not sent
//! before its time, sent after it" is shown without waiting. Only this file reads the system's
//! time (`tests/architecture.rs` holds it to that).

use std::sync::{Arc, Mutex};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The system's UTC time at microsecond precision, which both databases store exactly: what a
/// real `Clock` reads, and what tools and tests stand on. The server's code asks its `Clock`.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<NaiveDateTime>>>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::real"),
            Some(_) => write!(f, "Clock::fixed({})", self.now()),
        }
    }
}

impl Clock {
    /// The system's clock (UTC, microseconds).
    pub fn real() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `at` until moved.
    pub fn fixed(at: NaiveDateTime) -> Clock {
        Clock(Some(Arc::new(Mutex::new(at))))
    }

    pub fn now(&self) -> NaiveDateTime {
        match &self.0 {
            None => now(),
            Some(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a fixed clock; a real one cannot be moved.
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(t) = &self.0 {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            *t += by;
        }
    }
}
