//! Payee rules without I/O: tags, and where an address under change control stands.

use chrono::NaiveDateTime;

pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 40;

/// Tags as typed → their stored form (lowercase, deduplicated, between commas), or what is wrong.
pub fn normalize_tags(input: &str) -> Result<String, String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in input.split(',').map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()) {
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(format!("A tag has at most {MAX_TAG_CHARS} characters."));
        }
        if !tag.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' ' | '.')) {
            return Err(format!(
                "Tag {tag:?}: use letters, digits, spaces, '-', '_' or '.'; separate tags with commas."
            ));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("A payee has at most {MAX_TAGS} tags."));
    }
    Ok(if tags.is_empty() { String::new() } else { format!(",{},", tags.join(",")) })
}

/// A stored tag list as people read it: `employees, berlin`.
pub fn tag_list(stored: &str) -> Vec<&str> {
    stored.split(',').filter(|t| !t.is_empty()).collect()
}

/// An address's stored status under change control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressStatus {
    /// Entered, waiting for a manager other than the person who entered it.
    Pending,
    /// Approved; payable once `payable_from` has passed.
    Approved,
    Rejected,
    /// Superseded by a later address on the same network.
    Replaced,
}

impl AddressStatus {
    pub const ALL: [AddressStatus; 4] =
        [AddressStatus::Pending, AddressStatus::Approved, AddressStatus::Rejected, AddressStatus::Replaced];

    pub fn as_str(self) -> &'static str {
        match self {
            AddressStatus::Pending => "pending",
            AddressStatus::Approved => "approved",
            AddressStatus::Rejected => "rejected",
            AddressStatus::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<AddressStatus> {
        AddressStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

crate::domain::stored::stored_name!(AddressStatus, "payee address status");

/// Where an address stands, as people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressState {
    /// Entered, waiting for a manager other than the person who entered it.
    Pending,
    /// Approved, waiting out the cooling-off period.
    CoolingOff,
    Payable,
    Rejected,
    Replaced,
}

impl AddressState {
    /// An address stored with `status` and `payable_from`, at `at`.
    pub fn of(status: AddressStatus, payable_from: Option<NaiveDateTime>, at: NaiveDateTime) -> AddressState {
        match status {
            AddressStatus::Pending => AddressState::Pending,
            AddressStatus::Approved if payable_from.is_some_and(|t| t > at) => AddressState::CoolingOff,
            AddressStatus::Approved => AddressState::Payable,
            AddressStatus::Rejected => AddressState::Rejected,
            AddressStatus::Replaced => AddressState::Replaced,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AddressState::Pending => "Awaiting approval",
            AddressState::CoolingOff => "Approved, cooling off",
            AddressState::Payable => "Payable",
            AddressState::Rejected => "Rejected",
            AddressState::Replaced => "Replaced",
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            AddressState::Pending | AddressState::CoolingOff => "badge badge-pending",
            AddressState::Payable => "badge badge-completed",
            AddressState::Rejected => "badge badge-failed",
            AddressState::Replaced => "badge badge-cancelled",
        }
    }
}
