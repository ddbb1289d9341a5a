//! OpenAPI schemas the derives cannot infer: the closed sets of values (assets, kinds,
//! statuses) taken from the domain's own lists, so the document cannot drift from the code.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use crate::domain::asset::ASSETS;
use crate::domain::payout::{ItemStatus, PayoutStatus};

fn one_of(values: impl IntoIterator<Item = &'static str>, description: &str) -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).description(Some(description)).build()
}

pub fn asset() -> Object {
    one_of(ASSETS.iter().map(|a| a.code), "An asset code; GET /api/v1/assets lists those enabled for you.")
}

pub fn kind() -> Object {
    one_of(["single", "mass"], "A single payout has one item; a mass payout up to the registry limit.")
}

pub fn payout_status() -> Object {
    one_of(PayoutStatus::ALL.iter().map(|s| s.as_str()), "The payout's status.")
}

pub fn item_status() -> Object {
    one_of(ItemStatus::ALL.iter().map(|s| s.as_str()), "The item's status.")
}

/// An amount as a decimal string.
pub fn amount() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[0-9]{1,15}(\.[0-9]{1,18})?$"))
        .description(Some("A decimal string, e.g. \"1250.5\"; at most the asset's decimals."))
        .build()
}
