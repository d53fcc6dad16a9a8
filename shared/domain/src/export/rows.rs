//! The row encoder of an export run: the basic columns (`encode`) or the profile columns (`profile`),
//! fed member rows or customers.

use super::encode::{Encoder, ExportRow};
use super::profile::ProfileEncoder;
use crate::customer::Customer;

/// One row to encode: a member row (basic columns only) or a customer.
pub enum Row<'a> {
    /// A member row's basic columns.
    Basic(ExportRow<'a>),
    /// A customer, in the export's columns.
    Customer(&'a Customer),
}

/// The encoder of the export's columns.
pub enum Rows {
    /// Order Number, Email, Signup Date.
    Basic(Encoder),
    /// The profile columns.
    Profile(ProfileEncoder),
}

impl Rows {
    /// Appends what precedes the rows.
    pub fn header(&mut self, out: &mut Vec<u8>) {
        match self {
            Rows::Basic(e) => e.header(out),
            Rows::Profile(e) => e.header(out),
        }
    }

    /// Appends one row.
    pub fn row(&mut self, row: Row<'_>, out: &mut Vec<u8>) {
        match (self, row) {
            (Rows::Basic(e), Row::Basic(r)) => e.row(&r, out),
            (Rows::Basic(e), Row::Customer(c)) => e.row(&customer_row(c), out),
            (Rows::Profile(e), Row::Customer(c)) => e.row(c, out),
            // Group exports never take the profile columns (refused when requested).
            (Rows::Profile(_), Row::Basic(_)) => {}
        }
    }

    /// Appends what follows the rows.
    pub fn footer(&mut self, out: &mut Vec<u8>) {
        match self {
            Rows::Basic(e) => e.footer(out),
            Rows::Profile(e) => e.footer(out),
        }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        match self {
            Rows::Basic(e) => e.rows(),
            Rows::Profile(e) => e.rows(),
        }
    }
}

/// The basic columns of a customer.
pub fn customer_row(c: &Customer) -> ExportRow<'_> {
    ExportRow {
        id: c.id.as_str(),
        order_number: c.order_number.as_deref(),
        email: c.email.as_ref().map(|e| e.as_str()),
        signup_date: c.signup_date,
    }
}
