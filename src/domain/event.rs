//! The topics of the event stream: what changed, as webhooks (and people) are told.

pub const PAYOUT_CREATED: &str = "payout.created";
pub const PAYOUT_STATUS_CHANGED: &str = "payout.status_changed";
pub const ITEM_STATUS_CHANGED: &str = "payout.item_status_changed";
/// A payee's address entered (pending), approved or rejected.
pub const PAYEE_ADDRESS_CHANGED: &str = "payee.address_changed";
/// A schedule made the draft of its next pay day, ready for review and confirmation.
pub const DRAFT_READY: &str = "payout.draft_ready";
/// A hot wallet's coin cannot pay the gas of the payouts in progress (with the rows it pays in
/// that coin): the organization's payouts on that network will wait until it is funded.
pub const WALLET_GAS_LOW: &str = "wallet.gas_low";
/// Whoever confirmed a payout acknowledged rows whose address looks like a known one (address
/// poisoning): who, and which lines with the address each resembles.
pub const LOOKALIKE_ACKNOWLEDGED: &str = "payout.lookalike_acknowledged";
pub const EVENT_TYPES: [&str; 7] = [
    PAYOUT_CREATED,
    PAYOUT_STATUS_CHANGED,
    ITEM_STATUS_CHANGED,
    PAYEE_ADDRESS_CHANGED,
    DRAFT_READY,
    WALLET_GAS_LOW,
    LOOKALIKE_ACKNOWLEDGED,
];
/// Something changed about a person's own account (a factor, a key, the password, a lockout):
/// told to that person only, never to webhooks.
pub const SECURITY_NOTICE: &str = "security.notice";
