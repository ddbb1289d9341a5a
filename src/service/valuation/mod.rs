//! Valuation owns what a payout is worth in the organization's reporting currency: the reporting
//! currency and exchange rates (typed, imported, provider-fed; staleness, pins, the outlier guard),
//! the values recorded at confirmation and payment, and the accounting journal built from them.
//! Its pure parts are `domain::fiat` and `domain::journal`. It may use `access` (settings, audit).

pub mod journal;
pub mod rates;
pub mod values;
