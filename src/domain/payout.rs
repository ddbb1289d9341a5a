//! Payout and item statuses, and the only transitions between them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayoutKind {
    Single,
    Mass,
}

impl PayoutKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutKind::Single => "single",
            PayoutKind::Mass => "mass",
        }
    }

    pub fn parse(s: &str) -> Option<PayoutKind> {
        match s {
            "single" => Some(PayoutKind::Single),
            "mass" => Some(PayoutKind::Mass),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PayoutKind::Single => "Single",
            PayoutKind::Mass => "Mass",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayoutStatus {
    /// Awaiting a manager's approval (only when the organization requires it).
    Pending,
    InProgress,
    Completed,
    /// A mass payout some of whose rows failed.
    PartiallyCompleted,
    Cancelled,
    Failed,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 6] = [
        PayoutStatus::Pending,
        PayoutStatus::InProgress,
        PayoutStatus::Completed,
        PayoutStatus::PartiallyCompleted,
        PayoutStatus::Cancelled,
        PayoutStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::InProgress => "in_progress",
            PayoutStatus::Completed => "completed",
            PayoutStatus::PartiallyCompleted => "partially_completed",
            PayoutStatus::Cancelled => "cancelled",
            PayoutStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<PayoutStatus> {
        PayoutStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "Pending",
            PayoutStatus::InProgress => "In progress",
            PayoutStatus::Completed => "Completed",
            PayoutStatus::PartiallyCompleted => "Partially completed",
            PayoutStatus::Cancelled => "Cancelled",
            PayoutStatus::Failed => "Failed",
        }
    }

    /// The CSS class of its badge: one colour per status, the same everywhere.
    pub fn badge(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "badge badge-pending",
            PayoutStatus::InProgress => "badge badge-in-progress",
            PayoutStatus::Completed => "badge badge-completed",
            PayoutStatus::PartiallyCompleted => "badge badge-partial",
            PayoutStatus::Cancelled => "badge badge-cancelled",
            PayoutStatus::Failed => "badge badge-failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, PayoutStatus::Pending | PayoutStatus::InProgress)
    }

    /// Whether the state machine allows `self → to`.
    pub fn can_become(self, to: PayoutStatus) -> bool {
        use PayoutStatus::*;
        matches!(
            (self, to),
            (Pending, InProgress)
                | (Pending, Cancelled)
                | (InProgress, Completed)
                | (InProgress, PartiallyCompleted)
                | (InProgress, Failed)
                | (InProgress, Cancelled)
        )
    }

    /// The final status once every item has ended: None while some item has not. Rows cancelled
    /// while the payout was in progress are claims nobody claimed in time: unpaid, not failed.
    pub fn settle(
        kind: PayoutKind,
        completed: usize,
        failed: usize,
        cancelled: usize,
        total: usize,
    ) -> Option<PayoutStatus> {
        if completed + failed + cancelled < total || total == 0 {
            return None;
        }
        Some(match (completed, failed) {
            (0, 0) => PayoutStatus::Cancelled,
            (_, 0) if cancelled == 0 => PayoutStatus::Completed,
            (0, _) => PayoutStatus::Failed,
            _ if kind == PayoutKind::Mass => PayoutStatus::PartiallyCompleted,
            _ => PayoutStatus::Failed,
        })
    }
}

impl fmt::Display for PayoutStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One recipient's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemStatus {
    /// The payout awaits approval.
    Waiting,
    /// Ready for the processor.
    Queued,
    /// Claimed by a processor, which is handing it to the rail (under a lease).
    Submitting,
    /// On the network, awaiting confirmations.
    Submitted,
    /// A claim: funds reserved, waiting for the payee to give an address that becomes payable.
    AwaitingAddress,
    /// The rail cannot say what became of it: a manager decides, with evidence.
    NeedsReview,
    Completed,
    Failed,
    Cancelled,
}

impl ItemStatus {
    pub const ALL: [ItemStatus; 9] = [
        ItemStatus::Waiting,
        ItemStatus::Queued,
        ItemStatus::Submitting,
        ItemStatus::Submitted,
        ItemStatus::AwaitingAddress,
        ItemStatus::NeedsReview,
        ItemStatus::Completed,
        ItemStatus::Failed,
        ItemStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Waiting => "waiting",
            ItemStatus::Queued => "queued",
            ItemStatus::Submitting => "submitting",
            ItemStatus::Submitted => "submitted",
            ItemStatus::AwaitingAddress => "awaiting_address",
            ItemStatus::NeedsReview => "needs_review",
            ItemStatus::Completed => "completed",
            ItemStatus::Failed => "failed",
            ItemStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ItemStatus> {
        ItemStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ItemStatus::Waiting => "Waiting for approval",
            ItemStatus::Queued => "Queued",
            ItemStatus::Submitting => "Sending",
            ItemStatus::Submitted => "Confirming",
            ItemStatus::AwaitingAddress => "Awaiting the payee's address",
            ItemStatus::NeedsReview => "Needs review",
            ItemStatus::Completed => "Paid",
            ItemStatus::Failed => "Failed",
            ItemStatus::Cancelled => "Cancelled",
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            ItemStatus::Waiting | ItemStatus::NeedsReview | ItemStatus::AwaitingAddress => "badge badge-pending",
            ItemStatus::Queued | ItemStatus::Submitting | ItemStatus::Submitted => "badge badge-in-progress",
            ItemStatus::Completed => "badge badge-completed",
            ItemStatus::Failed => "badge badge-failed",
            ItemStatus::Cancelled => "badge badge-cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, ItemStatus::Completed | ItemStatus::Failed | ItemStatus::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowed_transitions_exist() {
        let allowed: Vec<(PayoutStatus, PayoutStatus)> = PayoutStatus::ALL
            .into_iter()
            .flat_map(|a| PayoutStatus::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(allowed.len(), 6);
        for terminal in PayoutStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(PayoutStatus::ALL.iter().all(|to| !terminal.can_become(*to)), "{terminal:?} is final");
        }
        assert!(!PayoutStatus::Cancelled.can_become(PayoutStatus::InProgress), "never back to payable");
    }

    #[test]
    fn final_status_follows_the_items() {
        use PayoutKind::*;
        assert_eq!(PayoutStatus::settle(Mass, 3, 0, 0, 3), Some(PayoutStatus::Completed));
        assert_eq!(PayoutStatus::settle(Mass, 2, 1, 0, 3), Some(PayoutStatus::PartiallyCompleted));
        assert_eq!(PayoutStatus::settle(Mass, 0, 3, 0, 3), Some(PayoutStatus::Failed));
        assert_eq!(PayoutStatus::settle(Single, 0, 1, 0, 1), Some(PayoutStatus::Failed));
        assert_eq!(PayoutStatus::settle(Mass, 1, 1, 0, 3), None);
        // Unclaimed claims: cancelled rows are unpaid, never "failed".
        assert_eq!(PayoutStatus::settle(Single, 0, 0, 1, 1), Some(PayoutStatus::Cancelled));
        assert_eq!(PayoutStatus::settle(Mass, 2, 0, 1, 3), Some(PayoutStatus::PartiallyCompleted));
        assert_eq!(PayoutStatus::settle(Mass, 0, 1, 1, 2), Some(PayoutStatus::Failed));
        assert_eq!(PayoutStatus::settle(Mass, 1, 0, 1, 3), None);
    }

    #[test]
    fn names_round_trip() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(s.as_str()), Some(s));
        }
        for s in ItemStatus::ALL {
            assert_eq!(ItemStatus::parse(s.as_str()), Some(s));
        }
    }
}

/// Where a mass payout's draft stands: being edited, confirmed into a payout, or thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftStatus {
    Open,
    Confirmed,
    Discarded,
}

impl DraftStatus {
    pub const ALL: [DraftStatus; 3] = [DraftStatus::Open, DraftStatus::Confirmed, DraftStatus::Discarded];

    pub fn as_str(self) -> &'static str {
        match self {
            DraftStatus::Open => "open",
            DraftStatus::Confirmed => "confirmed",
            DraftStatus::Discarded => "discarded",
        }
    }

    pub fn parse(s: &str) -> Option<DraftStatus> {
        DraftStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

crate::domain::stored::stored_name!(DraftStatus, "draft status");
crate::domain::stored::stored_name!(PayoutKind, "payout kind");
crate::domain::stored::stored_name!(PayoutStatus, "payout status");
crate::domain::stored::stored_name!(ItemStatus, "item status");
