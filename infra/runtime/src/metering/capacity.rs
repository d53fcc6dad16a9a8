//! DynamoDB's item size and capacity rules, applied to items in their wire (JSON) form, because moto
//! reports every request as 1.0 units (developerguide/CapacityUnitCalculations.html and
//! read-write-operations.html):
//! - an item's size is the sum over its attributes of the name's UTF-8 bytes plus the value's size:
//!   a string its UTF-8 bytes, a binary its raw bytes, a number 1 byte per two significant digits plus
//!   1, a boolean or null 1 byte, a list or map 3 bytes plus, per element, 1 byte and the element (a
//!   map element also its key), a set the sum of its elements;
//! - a write unit covers 1 KB of the larger of the item before and after the write (at least one
//!   unit), a read unit 4 KB strongly consistent (half a unit eventually consistent); a Query rounds up
//!   the total of the items it read once, a BatchGetItem each item; transactions cost twice;
//! - an index entry is its table and index keys plus 100 bytes of overhead.

use serde_json::{Map, Value};

/// Bytes a DynamoDB index entry (and a stored item) carries beyond its attributes.
pub const INDEX_ENTRY_OVERHEAD: u64 = 100;

/// The significant digits of a DynamoDB number string (sign, point and exponent dropped; leading
/// and trailing zeros trimmed).
fn significant_digits(n: &str) -> u64 {
    let mantissa = n.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let trimmed = digits.trim_start_matches('0').trim_end_matches('0');
    trimmed.len().max(1) as u64
}

/// The size of a number value.
pub fn number_size(n: &str) -> u64 {
    significant_digits(n).div_ceil(2) + 1
}

/// The size of one attribute value in wire form (`{"S": ".."}`, `{"N": ".."}`, `{"M": {..}}`, ...).
pub fn value_size(v: &Value) -> u64 {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    let text_len = |x: &Value| x.as_str().map_or(0, |s| s.len() as u64);
    let binary_len = |x: &Value| {
        x.as_str()
            .map_or(0, |s| (s.len() as u64 / 4) * 3 - s.matches('=').count() as u64)
    };
    let items = || inner.as_array().map(Vec::as_slice).unwrap_or_default();
    match kind.as_str() {
        "S" => text_len(inner),
        "N" => inner.as_str().map_or(1, number_size),
        "B" => binary_len(inner),
        "BOOL" | "NULL" => 1,
        "SS" => items().iter().map(text_len).sum(),
        "NS" => items().iter().map(|x| x.as_str().map_or(1, number_size)).sum(),
        "BS" => items().iter().map(binary_len).sum(),
        "L" => 3 + items().iter().map(|x| 1 + value_size(x)).sum::<u64>(),
        "M" => {
            3 + inner
                .as_object()
                .map_or(0, |m| m.iter().map(|(k, x)| 1 + k.len() as u64 + value_size(x)).sum())
        }
        _ => 0,
    }
}

/// The size of an item (a map of attribute name to wire value).
pub fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter().map(|(k, v)| k.len() as u64 + value_size(v)).sum()
}

/// Write units of one write whose larger item image is `bytes` (a delete of nothing still costs one).
pub fn write_units(bytes: u64) -> u64 {
    bytes.div_ceil(1024).max(1)
}

/// Read units of reading `bytes` in one rounding (an item, or a Query page's total).
pub fn read_units(bytes: u64, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// The attributes of an index entry: the table's keys and the index's, when the item has the index keys.
pub fn index_entry(item: &Map<String, Value>, table_keys: &[&str], index_keys: &[&str]) -> Option<Map<String, Value>> {
    if !index_keys.iter().all(|k| item.contains_key(*k)) {
        return None;
    }
    Some(
        table_keys
            .iter()
            .chain(index_keys)
            .filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
    )
}

/// Index write units of changing an item from `before` to `after`: nothing if the entry stays, one
/// write to add or remove it, two (delete and put) if its keys change. KEYS_ONLY: other attributes
/// never touch the index.
pub fn index_write_units(before: Option<&Map<String, Value>>, after: Option<&Map<String, Value>>) -> u64 {
    let units = |e: &Map<String, Value>| write_units(item_size(e) + INDEX_ENTRY_OVERHEAD);
    match (before, after) {
        (None, None) => 0,
        (Some(b), Some(a)) if a == b => 0,
        (Some(b), Some(a)) => units(b) + units(a),
        (Some(e), None) | (None, Some(e)) => units(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn strings_and_binaries_count_their_bytes_and_names_count_too() {
        // "PK" (2) + "T#acme" (6) + "name" (4) + "Zoë" (4 bytes in UTF-8).
        assert_eq!(
            item_size(&item(json!({"PK": {"S": "T#acme"}, "name": {"S": "Zoë"}}))),
            16
        );
        // "b" + 5 raw bytes ("aGVsbG8=" is "hello").
        assert_eq!(item_size(&item(json!({"b": {"B": "aGVsbG8="}}))), 6);
    }

    #[test]
    fn a_number_is_one_byte_per_two_significant_digits_plus_one() {
        assert_eq!(number_size("0"), 2);
        assert_eq!(number_size("7"), 2);
        assert_eq!(number_size("12"), 2);
        assert_eq!(number_size("123"), 3);
        // Leading and trailing zeros, sign and point do not count: 1.25 has 3 significant digits.
        assert_eq!(number_size("-001.2500"), 3);
        assert_eq!(number_size("1000000"), 2);
        assert_eq!(number_size("1.5E3"), 2);
    }

    #[test]
    fn lists_and_maps_cost_three_bytes_and_one_per_element() {
        assert_eq!(value_size(&json!({"L": []})), 3);
        assert_eq!(value_size(&json!({"M": {}})), 3);
        // 3 + (1 + "ab") + (1 + true).
        assert_eq!(value_size(&json!({"L": [{"S": "ab"}, {"BOOL": true}]})), 8);
        // 3 + (1 + "k" + 2-byte number).
        assert_eq!(value_size(&json!({"M": {"k": {"N": "5"}}})), 7);
        // Nested: 3 + (1 + "m" + (3 + (1 + "x" + "yz"))).
        assert_eq!(value_size(&json!({"M": {"m": {"M": {"x": {"S": "yz"}}}}})), 12);
    }

    #[test]
    fn sets_are_the_sum_of_their_elements() {
        assert_eq!(value_size(&json!({"SS": ["a", "bcd"]})), 4);
        assert_eq!(value_size(&json!({"NS": ["1", "123"]})), 5);
        assert_eq!(value_size(&json!({"NULL": true})), 1);
    }

    #[test]
    fn write_units_round_up_per_kilobyte_and_never_below_one() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(write_units(3 * 1024 + 1), 4);
    }

    #[test]
    fn read_units_round_up_per_four_kilobytes_and_halve_when_eventually_consistent() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(3500, true), 1.0);
        assert_eq!(read_units(3500, false), 0.5);
        assert_eq!(read_units(10 * 1024, true), 3.0);
        assert_eq!(read_units(10 * 1024, false), 1.5);
    }

    #[test]
    fn an_index_is_written_only_when_its_entry_appears_changes_or_goes() {
        let keys = ["PK", "SK"];
        let index = ["wake_pk", "wake_sk"];
        let base = json!({"PK": {"S": "p"}, "SK": {"S": "s"}, "name": {"S": "x"}});
        let mut due = base.clone();
        due["wake_pk"] = json!({"S": "WAKE#01"});
        due["wake_sk"] = json!({"S": "2026-12-01T00:00:00Z#t#c"});
        let mut later = due.clone();
        later["wake_sk"] = json!({"S": "2026-12-08T00:00:00Z#t#c"});
        let mut renamed = due.clone();
        renamed["name"] = json!({"S": "y"});
        let e = |v: &Value| index_entry(v.as_object().unwrap(), &keys, &index);
        assert_eq!(e(&base), None);
        assert_eq!(index_write_units(e(&base).as_ref(), e(&due).as_ref()), 1);
        assert_eq!(index_write_units(e(&due).as_ref(), e(&renamed).as_ref()), 0);
        assert_eq!(index_write_units(e(&due).as_ref(), e(&later).as_ref()), 2);
        assert_eq!(index_write_units(e(&due).as_ref(), None), 1);
    }
}
