//! One row of an import file: its cells as read, and the values the mapping takes from them, parsed
//! and normalised the API's own way (`Email::parse`, `Phone::parse`, `CustomerId::parse`); a value that
//! does not parse fails the row with a code and a message naming the column.

use super::mapping::{AttributeKind, Mapping, Target};
use crate::contact::{Email, Phone};
use crate::customer::{AttributeValue, Identity};
use crate::ids::CustomerId;
use chrono::{NaiveDate, NaiveDateTime};
use std::collections::BTreeMap;

/// A cell as the file holds it: CSV cells are text, XLSX cells keep their type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Empty,
    /// Text.
    Text(String),
    /// A number (XLSX).
    Number(f64),
    /// A boolean (XLSX).
    Bool(bool),
    /// A date (XLSX date-formatted cell at midnight).
    Date(NaiveDate),
    /// A date and time (XLSX).
    DateTime(NaiveDateTime),
    /// A spreadsheet error value such as `#N/A` (XLSX).
    Error(String),
}

impl Cell {
    /// The cell as text, as the sample and the failure report show it.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(n) => number_text(*n),
            Cell::Bool(b) => b.to_string(),
            Cell::Date(d) => d.to_string(),
            Cell::DateTime(dt) => dt.format("%Y-%m-%dT%H:%M:%S").to_string(),
            Cell::Error(e) => e.clone(),
        }
    }

    /// Whether the cell holds nothing but spaces.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

/// A whole number without a fraction (`380671112233`, not `380671112233.0`): spreadsheets store phone
/// numbers and ids typed as numbers this way.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Why a row failed: a stable code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFailure {
    /// A stable code (`invalid_email`, `identity_conflict`, ...).
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl RowFailure {
    /// A failure with a code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> RowFailure {
        RowFailure {
            code,
            message: message.into(),
        }
    }
}

/// The values a row gives, parsed; blank cells give nothing (they never clear a field).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowValues {
    /// The customer id.
    pub id: Option<CustomerId>,
    /// The external id (trimmed).
    pub external_id: Option<String>,
    /// The email, normalised.
    pub email: Option<Email>,
    /// The phone, as E.164.
    pub phone: Option<Phone>,
    /// The display name.
    pub name: Option<String>,
    /// The order number.
    pub order_number: Option<String>,
    /// The signup date.
    pub signup_date: Option<NaiveDate>,
    /// The registration date.
    pub registration_date: Option<NaiveDate>,
    /// Typed attributes.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Tags, trimmed, in cell order.
    pub tags: Vec<String>,
}

impl RowValues {
    /// The unique identities the row gives (email, phone, external id).
    pub fn identities(&self) -> Vec<Identity> {
        let mut out = Vec::with_capacity(3);
        if let Some(e) = &self.email {
            out.push(Identity::Email(e.clone()));
        }
        if let Some(p) = &self.phone {
            out.push(Identity::Phone(p.clone()));
        }
        if let Some(x) = &self.external_id {
            out.push(Identity::External(x.clone()));
        }
        out
    }
}

/// The column a field came from, for messages.
fn column_of(mapping: &Mapping, pred: impl Fn(&Target) -> bool) -> &str {
    mapping
        .columns
        .iter()
        .find(|(_, _, t)| pred(t))
        .map(|(_, name, _)| name.as_str())
        .unwrap_or("?")
}

/// The column name of the profile field a validation error names (`email`, `tags`, ...).
pub fn column_for_field<'a>(mapping: &'a Mapping, field: &str) -> &'a str {
    column_of(mapping, |t| {
        matches!(
            (t, field),
            (Target::Id, "id")
                | (Target::ExternalId, "external_id")
                | (Target::Email, "email")
                | (Target::Phone, "phone")
                | (Target::Name, "name")
                | (Target::OrderNumber, "order_number")
                | (Target::Tags(_), "tags")
                | (Target::Attribute(..), "attributes")
        )
    })
}

/// Parses the mapped cells of one row.
pub fn parse_row(mapping: &Mapping, cells: &[Cell]) -> Result<RowValues, RowFailure> {
    let mut v = RowValues::default();
    for (index, column, target) in &mapping.columns {
        let cell = cells.get(*index).unwrap_or(&Cell::Empty);
        if cell.is_blank() {
            continue;
        }
        if let Cell::Error(e) = cell {
            return Err(RowFailure::new(
                "invalid_value",
                format!("column {column:?} holds the spreadsheet error {e}; put a value there or leave it empty"),
            ));
        }
        let text = cell.text();
        let text = text.trim();
        let bad = |code: &'static str, why: String| RowFailure::new(code, format!("column {column:?}: {why}"));
        match target {
            Target::Id => {
                v.id = Some(CustomerId::parse(text).map_err(|e| bad("invalid_id", e.to_string()))?);
            }
            Target::ExternalId => v.external_id = Some(text.to_owned()),
            Target::Email => v.email = Some(Email::parse(text).map_err(|e| bad("invalid_email", e.to_string()))?),
            Target::Phone => v.phone = Some(Phone::parse(text).map_err(|e| bad("invalid_phone", e.to_string()))?),
            Target::Name => v.name = Some(text.to_owned()),
            Target::OrderNumber => v.order_number = Some(text.to_owned()),
            Target::SignupDate => v.signup_date = Some(date(cell, text).map_err(|w| bad("invalid_date", w))?),
            Target::RegistrationDate => {
                v.registration_date = Some(date(cell, text).map_err(|w| bad("invalid_date", w))?)
            }
            Target::Attribute(key, kind) => {
                let value = match kind {
                    AttributeKind::String => AttributeValue::String(text.to_owned()),
                    AttributeKind::Number => {
                        AttributeValue::Number(number(cell, text).map_err(|w| bad("invalid_number", w))?)
                    }
                    AttributeKind::Boolean => {
                        AttributeValue::Boolean(boolean(cell, text).map_err(|w| bad("invalid_boolean", w))?)
                    }
                    AttributeKind::Date => AttributeValue::Date(date(cell, text).map_err(|w| bad("invalid_date", w))?),
                };
                v.attributes.insert(key.clone(), value);
            }
            Target::Tags(sep) => {
                v.tags.extend(
                    text.split(sep.as_str())
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                );
            }
        }
    }
    Ok(v)
}

fn date(cell: &Cell, text: &str) -> Result<NaiveDate, String> {
    match cell {
        Cell::Date(d) => Ok(*d),
        Cell::DateTime(dt) => Ok(dt.date()),
        _ => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(text, "%Y/%m/%d"))
            .or_else(|_| chrono::DateTime::parse_from_rfc3339(text).map(|d| d.date_naive()))
            .map_err(|_| {
                format!("{text:?} is not a date; write it as YYYY-MM-DD (e.g. 2026-03-01) or as a spreadsheet date")
            }),
    }
}

fn number(cell: &Cell, text: &str) -> Result<f64, String> {
    let n = match cell {
        Cell::Number(n) => *n,
        _ => text
            .parse::<f64>()
            .map_err(|_| format!("{text:?} is not a number; write it with digits and an optional '.' (e.g. 1250.5)"))?,
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err(format!("{text:?} is not a finite number"))
    }
}

fn boolean(cell: &Cell, text: &str) -> Result<bool, String> {
    if let Cell::Bool(b) = cell {
        return Ok(*b);
    }
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "y" => Ok(true),
        "false" | "no" | "0" | "n" => Ok(false),
        _ => Err(format!("{text:?} is not a yes/no value; write true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::mapping::{suggest, MappingRequest};

    fn mapping(header: &[&str]) -> Mapping {
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        let req: MappingRequest = suggest(&header);
        Mapping::parse(&req, &header).unwrap()
    }

    #[test]
    fn values_are_normalised_like_the_api_and_numbers_from_sheets_keep_their_digits() {
        let m = mapping(&["Email", "Phone", "Tags"]);
        let cells = [
            Cell::Text(" Ana@Example.COM ".into()),
            Cell::Number(380671112233.0),
            Cell::Text("vip, new ,,".into()),
        ];
        let v = parse_row(&m, &cells).unwrap();
        assert_eq!(v.email.unwrap().as_str(), "ana@example.com");
        assert_eq!(v.phone.unwrap().as_str(), "+380671112233");
        assert_eq!(v.tags, ["vip", "new"]);
    }

    #[test]
    fn a_bad_value_fails_the_row_with_its_code_and_column() {
        let m = mapping(&["Email", "Signup date"]);
        let e = parse_row(&m, &[Cell::Text("nope".into())]).unwrap_err();
        assert_eq!(e.code, "invalid_email");
        assert!(e.message.starts_with("column \"Email\""), "{}", e.message);
        let e = parse_row(&m, &[Cell::Empty, Cell::Text("31.02.2026".into())]).unwrap_err();
        assert_eq!(e.code, "invalid_date");
        assert!(parse_row(&m, &[Cell::Empty, Cell::Empty])
            .unwrap()
            .identities()
            .is_empty());
    }
}
