//! The topics of the event stream: what changed, as webhooks (and people) are told.

pub const PAYOUT_CREATED: &str = "payout.created";
pub const PAYOUT_STATUS_CHANGED: &str = "payout.status_changed";
pub const ITEM_STATUS_CHANGED: &str = "payout.item_status_changed";
/// A payee's address entered (pending), approved or rejected.
pub const PAYEE_ADDRESS_CHANGED: &str = "payee.address_changed";
/// A payee gave an address on their own page (pending a manager), with its proof of control or
/// none.
pub const PAYEE_ADDRESS_SUBMITTED: &str = "payee.address_submitted";
/// A schedule made the draft of its next pay day, ready for review and confirmation.
pub const DRAFT_READY: &str = "payout.draft_ready";
/// A hot wallet's coin cannot pay the gas of the payouts in progress (with the rows it pays in
/// that coin): the organization's payouts on that network will wait until it is funded.
pub const WALLET_GAS_LOW: &str = "wallet.gas_low";
/// Whoever confirmed a payout acknowledged rows whose address looks like a known one (address
/// poisoning): who, and which lines with the address each resembles.
pub const LOOKALIKE_ACKNOWLEDGED: &str = "payout.lookalike_acknowledged";
/// A row's address was on a sanctions list when it was about to be sent: held, nothing sent (the
/// row, the list and the entity it names).
pub const ITEM_HELD: &str = "payout.item_held";
/// A sanctions list in force is older than the organization allows (the list, its age, the limit).
pub const SANCTIONS_LIST_STALE: &str = "compliance.list_stale";
/// A claim was answered: the payee's address became payable and the row is queued to be sent
/// there (the row, and the address with whether its ownership was proven).
pub const ITEM_CLAIMED: &str = "payout.item_claimed";
pub const EVENT_TYPES: [&str; 11] = [
    PAYOUT_CREATED,
    PAYOUT_STATUS_CHANGED,
    ITEM_STATUS_CHANGED,
    PAYEE_ADDRESS_CHANGED,
    PAYEE_ADDRESS_SUBMITTED,
    DRAFT_READY,
    WALLET_GAS_LOW,
    LOOKALIKE_ACKNOWLEDGED,
    ITEM_HELD,
    SANCTIONS_LIST_STALE,
    ITEM_CLAIMED,
];
/// Something changed about a person's own account (a factor, a key, the password, a lockout):
/// told to that person only, never to webhooks.
pub const SECURITY_NOTICE: &str = "security.notice";
