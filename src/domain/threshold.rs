//! Per-asset amount thresholds (approval and step-up policies): as stored and as typed in a form.

use crate::domain::asset::{self, ASSETS, Asset};
use crate::domain::{Amount, FieldErrors};

/// Per-asset thresholds as stored (asset code, amount); unknown assets are left out.
pub fn stored(rows: Vec<(String, String)>) -> Vec<(&'static Asset, Amount)> {
    rows.into_iter()
        .filter_map(|(code, value)| {
            let a = asset::find(&code)?;
            Some((a, Amount::parse_non_negative(a, &value).ok()?))
        })
        .collect()
}

/// The `threshold_<ASSET>` fields of a settings form that are filled in; each wrong one is named.
pub fn typed(fields: &[(String, String)], errors: &mut FieldErrors) -> Vec<(&'static Asset, Amount)> {
    let mut thresholds = Vec::new();
    for a in ASSETS.iter() {
        let name = format!("threshold_{}", a.code);
        let value = fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.trim()).unwrap_or("");
        if value.is_empty() {
            continue;
        }
        match Amount::parse(a, value) {
            Ok(t) => thresholds.push((a, t)),
            Err(e) => errors.add(name, e),
        }
    }
    thresholds
}
