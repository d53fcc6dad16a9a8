//! DynamoDB's item size rules (developerguide/CapacityUnitCalculations.html): attribute name bytes plus
//! value sizes; a string its UTF-8 bytes, a number one byte per two significant digits plus one, a
//! binary its bytes, a boolean or null one byte, a list or map 3 bytes plus one byte and the element
//! (a map element also its key) per element, a set the sum of its elements. Items over 400 KB are
//! refused by DynamoDB; writes check first so the refusal is a 422, not a store error.

use super::Item;
use aws_sdk_dynamodb::types::AttributeValue;

/// DynamoDB's largest item.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;

fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(xs) => xs.iter().map(String::len).sum(),
        AttributeValue::Ns(xs) => xs.iter().map(|x| number_size(x)).sum(),
        AttributeValue::Bs(xs) => xs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(xs) => 3 + xs.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, x)| 1 + k.len() + value_size(x)).sum::<usize>(),
        _ => 0,
    }
}

/// The size DynamoDB counts for an item.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A customer item DynamoDB would refuse is a 422 that says what to remove.
pub(crate) fn check_customer_size(item: &Item) -> cg_domain::Result<()> {
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(cg_domain::DomainError::validation(
            "customer",
            format!(
                "the customer would take {size} bytes, over DynamoDB's {MAX_ITEM_BYTES}-byte item limit; remove attributes, tags or subscriptions"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item: Item = [
            ("PK".to_owned(), AttributeValue::S("abc".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
            (
                "m".to_owned(),
                AttributeValue::M([("k".to_owned(), AttributeValue::Bool(true))].into()),
            ),
            ("l".to_owned(), AttributeValue::L(vec![AttributeValue::S("xy".into())])),
        ]
        .into();
        // PK 2+3, n 1+(3+1), m 1+(3+1+1+1), l 1+(3+1+2)
        assert_eq!(item_size(&item), 5 + 5 + 7 + 7);
        assert_eq!(number_size("100"), 2, "trailing zeros are not significant");
        let big: Item = [("a".to_owned(), AttributeValue::S("x".repeat(MAX_ITEM_BYTES)))].into();
        assert!(check_customer_size(&big).is_err());
    }
}
