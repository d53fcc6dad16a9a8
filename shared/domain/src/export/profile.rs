//! The `profile` columns of a customer export (issue 14, item 6): every profile field, the identities,
//! the tags and the typed custom attributes. CSV has one column per field ([`PROFILE_COLUMNS`]) and
//! then one `attributes.<key>` column per attribute key the exported customers have, sorted; the export
//! job learns those keys in a first pass over the same customers (reads only) so the header can come
//! first in a streamed file. JSON and JSON Lines write one object per customer with `attributes` typed
//! as the API returns them (`{"type":"number","value":3}`) and `tags` as an array, in one pass.

use super::encode::{json_footer, json_framed, write_csv_cell, write_iso_date, UTF8_BOM};
use super::ExportFormat;
use crate::customer::{AttributeValue, Customer};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The fixed CSV columns of the profile layout, before the `attributes.<key>` columns.
pub const PROFILE_COLUMNS: [&str; 14] = [
    "id",
    "external_id",
    "email",
    "email_verified",
    "phone",
    "phone_verified",
    "name",
    "order_number",
    "signup_date",
    "registration_date",
    "activation_required",
    "tags",
    "created_at",
    "updated_at",
];

/// What the rows of an export hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportColumns {
    /// Order Number, Email, Signup Date (seed 000; the JSON formats add the id).
    #[default]
    Basic,
    /// Every profile field, identities, tags and typed attributes (customer exports only).
    Profile,
}

/// The attribute keys of the customers an export writes: the CSV header's `attributes.<key>` columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeKeys(BTreeSet<String>);

impl AttributeKeys {
    /// Adds the keys of one customer.
    pub fn add(&mut self, c: &Customer) {
        for k in c.attributes.keys() {
            if !self.0.contains(k) {
                self.0.insert(k.clone());
            }
        }
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// Encodes customers in the profile layout.
#[derive(Debug, Clone)]
pub struct ProfileEncoder {
    format: ExportFormat,
    bom: bool,
    keys: Vec<String>,
    rows: u64,
}

#[derive(Serialize)]
struct ProfileObject<'a> {
    id: &'a str,
    external_id: Option<&'a str>,
    email: Option<&'a str>,
    email_verified: bool,
    phone: Option<&'a str>,
    phone_verified: bool,
    name: Option<&'a str>,
    order_number: Option<&'a str>,
    signup_date: Option<chrono::NaiveDate>,
    registration_date: Option<chrono::NaiveDate>,
    activation_required: bool,
    tags: &'a BTreeSet<String>,
    attributes: &'a BTreeMap<String, AttributeValue>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl ProfileEncoder {
    /// `keys`: the attribute columns of a CSV file (ignored by the JSON formats).
    pub fn new(format: ExportFormat, bom: bool, keys: &AttributeKeys) -> Self {
        ProfileEncoder {
            format,
            bom: bom && format == ExportFormat::Csv,
            keys: keys.keys().map(str::to_owned).collect(),
            rows: 0,
        }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends the optional BOM and the CSV header, or JSON's `[`.
    pub fn header(&mut self, out: &mut Vec<u8>) {
        match self.format {
            ExportFormat::Csv => {
                if self.bom {
                    out.extend_from_slice(UTF8_BOM);
                }
                let attrs = self.keys.iter().map(|k| format!("attributes.{k}"));
                let cells: Vec<String> = PROFILE_COLUMNS.iter().map(|c| c.to_string()).chain(attrs).collect();
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_csv_cell(cell, out);
                }
                out.extend_from_slice(b"\r\n");
            }
            ExportFormat::Json => out.push(b'['),
            ExportFormat::Jsonl => {}
        }
    }

    /// Appends one customer.
    pub fn row(&mut self, c: &Customer, out: &mut Vec<u8>) {
        match self.format {
            ExportFormat::Csv => self.csv_row(c, out),
            ExportFormat::Json | ExportFormat::Jsonl => json_framed(self.format, self.rows, out, |o| json_row(c, o)),
        }
        self.rows += 1;
    }

    /// Appends JSON's closing `]`.
    pub fn footer(&mut self, out: &mut Vec<u8>) {
        json_footer(self.format, self.rows, out);
    }

    fn csv_row(&self, c: &Customer, out: &mut Vec<u8>) {
        let flag = |b: bool| if b { "true" } else { "false" };
        let text = |s: Option<&str>, out: &mut Vec<u8>| write_csv_cell(s.unwrap_or(""), out);
        text(Some(c.id.as_str()), out);
        out.push(b',');
        text(c.external_id.as_deref(), out);
        out.push(b',');
        text(c.email.as_ref().map(|e| e.as_str()), out);
        out.push(b',');
        text(Some(flag(c.email_verified)), out);
        out.push(b',');
        text(c.phone.as_ref().map(|p| p.as_str()), out);
        out.push(b',');
        text(Some(flag(c.phone_verified)), out);
        out.push(b',');
        text(c.name.as_deref(), out);
        out.push(b',');
        text(c.order_number.as_deref(), out);
        out.push(b',');
        date_cell(c.signup_date, out);
        out.push(b',');
        date_cell(c.registration_date, out);
        out.push(b',');
        text(Some(flag(c.activation_required)), out);
        out.push(b',');
        // Tags as a JSON array: unambiguous whatever characters a tag holds.
        let tags = serde_json::to_string(&c.tags).unwrap_or_default();
        text(Some(&tags), out);
        out.push(b',');
        text(Some(&c.created_at.to_rfc3339()), out);
        out.push(b',');
        text(Some(&c.updated_at.to_rfc3339()), out);
        for k in &self.keys {
            out.push(b',');
            match c.attributes.get(k) {
                None => {}
                Some(AttributeValue::String(s)) => write_csv_cell(s, out),
                Some(AttributeValue::Number(n)) => write_csv_cell(&n.to_string(), out),
                Some(AttributeValue::Boolean(b)) => text(Some(flag(*b)), out),
                Some(AttributeValue::Date(d)) => date_cell(Some(*d), out),
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

fn date_cell(d: Option<chrono::NaiveDate>, out: &mut Vec<u8>) {
    match d {
        Some(d) if (0..=9999).contains(&chrono::Datelike::year(&d)) => write_iso_date(d, out),
        Some(d) => write_csv_cell(&d.to_string(), out),
        None => {}
    }
}

fn json_row(c: &Customer, out: &mut Vec<u8>) {
    let obj = ProfileObject {
        id: c.id.as_str(),
        external_id: c.external_id.as_deref(),
        email: c.email.as_ref().map(|e| e.as_str()),
        email_verified: c.email_verified,
        phone: c.phone.as_ref().map(|p| p.as_str()),
        phone_verified: c.phone_verified,
        name: c.name.as_deref(),
        order_number: c.order_number.as_deref(),
        signup_date: c.signup_date,
        registration_date: c.registration_date,
        activation_required: c.activation_required,
        tags: &c.tags,
        attributes: &c.attributes,
        created_at: c.created_at,
        updated_at: c.updated_at,
    };
    // Serialising plain fields into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &obj);
}
