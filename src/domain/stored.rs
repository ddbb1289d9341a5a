//! Names stored in the database for closed sets (statuses, kinds): read back into their enum at
//! the database boundary, so a typo in a status cannot compile and a row the program never wrote
//! is an error where it is read.

/// A stored name that is none of its enum's: the database holds what this program never wrote.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown stored {what} {value:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

/// `TryFrom<String>` (reading) and `From<T> for String` (writing) for an enum with `parse` and
/// `as_str`: what the db rows' `deserialize_as` / `serialize_as = String` convert through.
macro_rules! stored_name {
    ($t:ty, $what:literal) => {
        impl TryFrom<String> for $t {
            type Error = $crate::domain::stored::UnknownName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                <$t>::parse(&s).ok_or($crate::domain::stored::UnknownName { what: $what, value: s })
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.as_str().to_owned()
            }
        }
    };
}
pub(crate) use stored_name;

/// A stored name read for checking rather than for use: the enum when it is one of its names,
/// else the text stored (the ledger verifier names such a row as a problem instead of failing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked<T> {
    Known(T),
    Unknown(String),
}

impl<T: TryFrom<String, Error = UnknownName>> From<String> for Checked<T> {
    fn from(s: String) -> Self {
        match T::try_from(s) {
            Ok(v) => Checked::Known(v),
            Err(e) => Checked::Unknown(e.value),
        }
    }
}

impl<T: Copy> Checked<T> {
    /// The enum, when the stored name was one.
    pub fn known(&self) -> Option<T> {
        match self {
            Checked::Known(v) => Some(*v),
            Checked::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::payout::{ItemStatus, PayoutStatus};

    #[test]
    fn a_stored_status_reads_back_as_written_and_an_unknown_one_is_named() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::try_from(String::from(s)).unwrap(), s);
        }
        for s in ItemStatus::ALL {
            assert_eq!(ItemStatus::try_from(String::from(s)).unwrap(), s);
        }
        let e = PayoutStatus::try_from("in_progres".to_owned()).unwrap_err();
        assert_eq!(e.to_string(), "unknown stored payout status \"in_progres\"");
    }
}
