//! The compiled form of rule trees: one flat array of nodes in preorder, where a combinator knows where
//! its subtree ends (so a decided AND / OR skips the rest), and leaves that read decoded facts by index.

use super::symbols::IdSet;
use super::time::Ns;
use crate::customer::SubscriptionStatus;
use crate::ids::CustomerId;
use crate::rules::{CmpOp, Condition, State, Test};
use std::collections::HashSet;

/// One node of the preorder array.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// AND of the nodes up to `end` (exclusive), each a subtree.
    All {
        end: u32,
    },
    /// OR of the nodes up to `end`.
    Any {
        end: u32,
    },
    /// The negation of the next subtree.
    Not,
    Leaf(Leaf),
}

/// The instants decoded for every customer a program needs them for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instant {
    CreatedAt = 0,
    SignupDate,
    RegistrationDate,
    LastActiveAt,
    FirstBookingAt,
    LastBookingAt,
    FirstExpenseAt,
}

pub(crate) const INSTANTS: usize = 7;

/// A customer flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    EmailVerified,
    PhoneVerified,
    /// No phone, or not verified.
    VerifiedPhoneMissing,
    ActivationRequired,
}

/// A date operand with what comparisons need precomputed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operand {
    /// A whole UTC day `[start, end)`.
    Day { start: Ns, end: Ns },
    /// An instant and its UTC day.
    At { t: Ns, day: i128 },
    /// `now + offset`.
    Relative { offset: Ns },
}

/// `Test<DateOperand>` over decoded instants.
#[derive(Debug, Clone)]
pub(crate) enum DateTest {
    Cmp(CmpOp, Operand),
    Between(Operand, Operand),
    In(Box<[Operand]>),
    NotIn(Box<[Operand]>),
    Exists,
    Missing,
    /// Text operators on a date: never true.
    Never,
}

/// A text attribute test whose operands are interned: equality only.
#[derive(Debug, Clone)]
pub(crate) enum TextTest {
    Eq(u32),
    Ne(u32),
    In(IdSet),
    NotIn(IdSet),
    Exists,
    Missing,
}

/// The subscription filters of `has_service` and the service counts (ids of `Symbols`; `None`: any).
#[derive(Debug, Clone)]
pub(crate) struct SubFilter {
    pub application: Option<u32>,
    pub product: Option<u32>,
    pub plan: Option<u32>,
    pub period: Option<u32>,
}

/// `has_service` / `no_service`.
#[derive(Debug, Clone)]
pub(crate) struct ServiceLeaf {
    pub filter: SubFilter,
    /// Status bits (`status_bit`).
    pub statuses: u8,
    pub paid: Option<bool>,
    pub ordered_from: Option<Operand>,
    pub ordered_to: Option<Operand>,
}

/// One lifecycle state with its timing and the group's settings resolved: computed once per customer
/// and subscription, and shared by every lifecycle condition (of any group) that asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Atom {
    pub state: State,
    /// Renewing / expiring: the window in days (`before_days` or the settings); inactive: the settings'
    /// inactive days.
    pub days: u32,
    /// `after_days`, for the states that hold after the fact.
    pub after: Option<u32>,
}

/// A `lifecycle` condition.
#[derive(Debug, Clone)]
pub(crate) struct LifecycleLeaf {
    /// Indices into the program's atoms, one per per-subscription state of the condition.
    pub atoms: Box<[u32]>,
    pub applications: Option<IdSet>,
    pub products: Option<IdSet>,
    pub plans: Option<IdSet>,
    /// `registered` is among the states.
    pub registered: bool,
    /// `inactive` is among the states: customer-level when there is no subscription and no filter.
    pub inactive_days: Option<u32>,
    pub after: Option<u32>,
}

impl LifecycleLeaf {
    pub fn filtered(&self) -> bool {
        self.applications.is_some() || self.products.is_some() || self.plans.is_some()
    }
}

/// A condition over decoded facts.
#[derive(Debug, Clone)]
pub(crate) enum Leaf {
    Const(bool),
    /// `member_of`: a membership slot.
    Member(u32),
    /// Tag bits that must be partly (`any`), wholly (`all`) or not at all present.
    TagsAny(IdSet),
    TagsAll(IdSet),
    TagsNone(IdSet),
    Date(Instant, DateTest),
    AttrDate(u32, DateTest),
    AttrNumber(u32, Test<f64>),
    AttrBoolean(u32, Test<bool>),
    AttrText(u32, TextTest),
    /// `exists` / `missing` of a custom attribute of any type.
    AttrPresence(u32, bool),
    /// A flag equal to the given value.
    Flag(Flag, bool),
    /// A boolean profile field compared by an `attribute` test.
    FlagTest(Flag, Test<bool>),
    Bookings(Test<i64>),
    /// The `bookings` profile field, compared as a number.
    BookingsNumber(Test<f64>),
    HasService(Box<ServiceLeaf>),
    NoService(Box<ServiceLeaf>),
    ServiceCount {
        filter: SubFilter,
        paid_only: bool,
        test: Test<i64>,
    },
    /// Lifetime payments in a currency (index into the decoded totals).
    PaymentsTotal(u32, Test<i64>),
    /// A sum over the last `days` days of the payments or expenses ledger.
    MoneyWindow {
        expenses: bool,
        currency: String,
        days: i64,
        test: Test<i64>,
    },
    Selected(HashSet<CustomerId>),
    Lifecycle(Box<LifecycleLeaf>),
    /// Evaluated by the condition itself (text comparisons of profile fields and ordered text tests):
    /// string work either way, and its answer never depends on time or memberships.
    Direct(Box<Condition>),
}

/// The bit of a status in `ServiceLeaf::statuses`.
pub(crate) fn status_bit(s: SubscriptionStatus) -> u8 {
    1 << (s as u8)
}
