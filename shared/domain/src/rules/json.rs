//! Rules serialise as the API writes them, so responses can hold parsed rules instead of JSON values.

use super::{Definition, Rule};
use serde::{Serialize, Serializer};

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// `{"rules": <tree>}` or `{"condition_groups": [[...]]}`, in the form the rules were given.
impl Serialize for Definition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}
