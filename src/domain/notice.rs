//! Telling people: the groups a notice belongs to, how each person wants each group, where a
//! message goes and where it stands. Pure names and rules; the notifier lives in `outbound`.

/// Declares a closed set stored by name: `ALL`, `as_str`, `parse`, and the db conversions.
macro_rules! named {
    ($(#[$m:meta])* $t:ident, $what:literal, { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $t { $($(#[$vm])* $v),+ }
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($t::$v => $s),+ }
            }
            pub fn parse(s: &str) -> Option<$t> {
                Self::ALL.iter().copied().find(|x| x.as_str() == s)
            }
        }
        crate::domain::stored::stored_name!($t, $what);
    };
}

named!(
    /// What a notice is about; each person chooses per group how it reaches them.
    Group, "notification group", {
        /// Something waits for this person's approval (and its reminders).
        Approvals => "approvals",
        /// What became of a payout this person created or follows; a scheduled draft ready.
        Outcomes => "outcomes",
        /// Stuck payouts, a wallet short of gas, a failing webhook endpoint (admins).
        Operations => "operations",
        /// The person's own account changed: always by email, whatever the preferences.
        Security => "security",
    }
);

impl Group {
    pub fn label(self) -> &'static str {
        match self {
            Group::Approvals => "Approvals waiting for you",
            Group::Outcomes => "Payouts you created or follow",
            Group::Operations => "Operations (stuck payouts, wallets, webhooks)",
            Group::Security => "Security of your account",
        }
    }

    /// The groups a person may choose for (security is not a choice).
    pub const CHOOSABLE: [Group; 3] = [Group::Approvals, Group::Outcomes, Group::Operations];
}

named!(
    /// How a group reaches a person besides the inbox, which always has everything.
    Mode, "notification mode", {
        Immediate => "immediate",
        Digest => "digest",
        Inbox => "inbox",
    }
);

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Immediate => "Email at once",
            Mode::Digest => "Daily digest email",
            Mode::Inbox => "Inbox only",
        }
    }
}

named!(
    /// What became of a notice's email.
    EmailState, "notification email state", {
        /// Inbox only.
        None => "none",
        Queued => "queued",
        /// Waits for the person's daily digest.
        Digest => "digest",
        /// The hourly bound was reached: waits for the next hourly digest.
        Overflow => "overflow",
        Digested => "digested",
    }
);

named!(
    /// Where an outbox message goes.
    Channel, "outbox channel", {
        Email => "email",
        Slack => "slack",
        Telegram => "telegram",
    }
);

named!(
    OutboxStatus, "outbox status", {
        /// Waiting for its (next) attempt.
        Queued => "queued",
        Sent => "sent",
        /// A permanent refusal, or temporary ones for longer than the retry window.
        Failed => "failed",
    }
);

/// The topics an admin may send to the organization's chat channels.
pub const CHAT_TOPICS: [(&str, &str); 8] = [
    ("approval_needed", "A payout awaits approval"),
    ("payout_finished", "A payout completed, failed or partly completed"),
    ("payout_rejected", "A payout was rejected"),
    ("needs_review", "A row needs review"),
    ("operations", "Stuck payouts, wallet gas low, failing webhooks"),
    ("address_pending", "A payee address awaits approval"),
    ("lookalike_acknowledged", "A payout pays a lookalike address its creator says they checked"),
    ("compliance", "A row held for compliance, a sanctions list out of date"),
];

/// Emails one recipient is sent at most per hour; beyond it notices wait for an hourly digest.
pub const EMAILS_PER_HOUR: i64 = 20;

/// `TXyz12…9abc`: an address as a chat message shows it (whole in email and on pages).
pub fn short_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 14 {
        return address.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_written() {
        for g in Group::ALL {
            assert_eq!(Group::parse(g.as_str()), Some(*g));
        }
        for m in Mode::ALL {
            assert_eq!(Mode::try_from(String::from(*m)).unwrap(), *m);
        }
        assert!(Channel::parse("sms").is_none());
    }

    #[test]
    fn chat_shows_addresses_shortened() {
        assert_eq!(short_address("TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"), "TQn9Y2kh…bLSE");
        assert_eq!(short_address("0xabc"), "0xabc");
    }
}
