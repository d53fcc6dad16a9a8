//! Rule trees to a program: first every string the rules mention is collected and numbered, then each
//! tree is written out in preorder with its leaves specialised to the decoded facts they read.

use super::facts::{bit, Needs};
use super::program::{
    status_bit, Atom, DateTest, Flag, Instant, Leaf, LifecycleLeaf, Node, Operand, ServiceLeaf, SubFilter, TextTest,
};
use super::symbols::{Dict, IdSet, Symbols};
use super::time::{self, add, DAY};
use crate::customer::SubscriptionStatus;
use crate::ids::GroupId;
use crate::rules::money::YEAR_DAYS;
use crate::rules::{
    AttributeTest, CmpOp, Condition, DateOperand, Field, Lifecycle, LifecycleSettings, Rule, ServiceFilter, State,
    StatusSet, TagTest, Test, Timing, TypedTest,
};
use std::collections::{BTreeMap, BTreeSet};

/// The strings of all rules, before numbering.
#[derive(Default)]
struct Collected {
    applications: BTreeSet<String>,
    products: BTreeSet<String>,
    plans: BTreeSet<String>,
    periods: BTreeSet<String>,
    tags: BTreeSet<String>,
    currencies: BTreeSet<String>,
    attributes: BTreeMap<String, BTreeSet<String>>,
    groups: BTreeSet<GroupId>,
}

/// Symbols of the given rules and groups (`groups`: ids whose membership the pass decides).
pub(crate) fn symbols<'a>(rules: impl Iterator<Item = &'a Rule>, groups: impl Iterator<Item = &'a GroupId>) -> Symbols {
    let mut c = Collected::default();
    c.groups.extend(groups.cloned());
    for r in rules {
        collect(r, &mut c);
    }
    let (keys, texts): (BTreeSet<String>, Vec<Dict>) =
        c.attributes.into_iter().map(|(k, v)| (k, Dict::from_set(v))).unzip();
    Symbols {
        applications: Dict::from_set(c.applications),
        products: Dict::from_set(c.products),
        plans: Dict::from_set(c.plans),
        periods: Dict::from_set(c.periods),
        tags: Dict::from_set(c.tags),
        currencies: Dict::from_set(c.currencies),
        attributes: Dict::from_set(keys),
        attribute_texts: texts,
        groups: c.groups.into_iter().collect(),
    }
}

fn collect(r: &Rule, c: &mut Collected) {
    let put = |set: &mut BTreeSet<String>, v: &Option<String>| {
        if let Some(v) = v {
            set.insert(v.clone());
        }
    };
    match r {
        Rule::All(rs) | Rule::Any(rs) => rs.iter().for_each(|r| collect(r, c)),
        Rule::Not(r) => collect(r, c),
        Rule::Cond(cond) => match cond {
            Condition::MemberOf(id) => {
                c.groups.insert(id.clone());
            }
            Condition::HasService(f) | Condition::NoService(f) => {
                put(&mut c.applications, &f.application);
                put(&mut c.products, &f.product);
                put(&mut c.plans, &f.plan);
                put(&mut c.periods, &f.period);
            }
            Condition::ServiceCount(s) | Condition::PaidServiceCount(s) => {
                put(&mut c.applications, &s.application);
                put(&mut c.products, &s.product);
                put(&mut c.plans, &s.plan);
            }
            Condition::PaymentsAmount(m) => {
                c.currencies.insert(m.currency.clone());
            }
            Condition::Tags(TagTest::HasAny(l) | TagTest::HasAll(l) | TagTest::HasNone(l)) => {
                c.tags.extend(l.iter().cloned());
            }
            Condition::Lifecycle(l) => {
                for (set, list) in [
                    (&mut c.applications, &l.applications),
                    (&mut c.products, &l.products),
                    (&mut c.plans, &l.plans),
                ] {
                    set.extend(list.iter().flatten().cloned());
                }
            }
            Condition::Attribute(AttributeTest {
                field: Field::Custom(key),
                test,
            }) => {
                let texts = c.attributes.entry(key.clone()).or_default();
                if let TypedTest::Text(t) = test {
                    match t {
                        Test::Cmp(CmpOp::Eq | CmpOp::Ne, v) => {
                            texts.insert(v.clone());
                        }
                        Test::In(vs) | Test::NotIn(vs) => texts.extend(vs.iter().cloned()),
                        _ => {}
                    }
                }
            }
            _ => {}
        },
    }
}

/// Writes rule trees out as nodes over `sym`, collecting atoms and what decoding must produce.
pub(crate) struct Compiler<'s> {
    pub sym: &'s Symbols,
    pub nodes: Vec<Node>,
    pub atoms: Vec<Atom>,
    pub needs: Needs,
}

impl Compiler<'_> {
    /// Appends a rule's tree; returns where it starts.
    pub fn rule(&mut self, r: &Rule, settings: &LifecycleSettings) -> u32 {
        let start = self.nodes.len() as u32;
        self.emit(r, settings);
        start
    }

    fn emit(&mut self, r: &Rule, settings: &LifecycleSettings) {
        match r {
            Rule::All(rs) | Rule::Any(rs) => {
                let at = self.nodes.len();
                self.nodes.push(Node::Not);
                for r in rs {
                    self.emit(r, settings);
                }
                let end = self.nodes.len() as u32;
                self.nodes[at] = if matches!(r, Rule::All(_)) {
                    Node::All { end }
                } else {
                    Node::Any { end }
                };
            }
            Rule::Not(r) => {
                self.nodes.push(Node::Not);
                self.emit(r, settings);
            }
            Rule::Cond(c) => {
                let leaf = self
                    .leaf(c, settings)
                    .unwrap_or_else(|| Leaf::Direct(Box::new(c.clone())));
                self.nodes.push(Node::Leaf(leaf));
            }
        }
    }

    fn ledgers(&mut self, l: Leaf) -> Leaf {
        self.needs.ledgers = true;
        l
    }

    fn instant(&mut self, i: Instant) -> Instant {
        self.needs.instants |= bit(i);
        i
    }

    /// The specialised leaf, or `None` where the condition evaluates itself (`Leaf::Direct`).
    fn leaf(&mut self, c: &Condition, settings: &LifecycleSettings) -> Option<Leaf> {
        let sym = self.sym;
        Some(match c {
            Condition::AllCustomers => Leaf::Const(true),
            Condition::MemberOf(id) => Leaf::Member(sym.group_slot(id)?),
            Condition::RegistrationDate(t) => Leaf::Date(self.instant(Instant::RegistrationDate), date_test(t)?),
            Condition::FirstExpenseDate(t) => Leaf::Date(self.instant(Instant::FirstExpenseAt), date_test(t)?),
            Condition::HasService(f) => Leaf::HasService(Box::new(self.service(f)?)),
            Condition::NoService(f) => Leaf::NoService(Box::new(self.service(f)?)),
            Condition::ServiceCount(s) | Condition::PaidServiceCount(s) => {
                self.needs.subscriptions = true;
                Leaf::ServiceCount {
                    filter: SubFilter {
                        application: s.application.as_deref().map(|v| sym.applications.id(v)),
                        product: s.product.as_deref().map(|v| sym.products.id(v)),
                        plan: s.plan.as_deref().map(|v| sym.plans.id(v)),
                        period: None,
                    },
                    paid_only: matches!(c, Condition::PaidServiceCount(_)),
                    test: s.count.clone(),
                }
            }
            Condition::EmailVerified(v) => Leaf::Flag(Flag::EmailVerified, *v),
            Condition::VerifiedPhoneMissing => Leaf::Flag(Flag::VerifiedPhoneMissing, true),
            Condition::ActivationRequired => Leaf::Flag(Flag::ActivationRequired, true),
            Condition::PaymentsAmount(m) => {
                let id = sym.currencies.id(&m.currency);
                Leaf::PaymentsTotal(id.checked_sub(2)?, m.amount.clone())
            }
            Condition::PaymentsOverYear(m) => self.ledgers(Leaf::MoneyWindow {
                expenses: false,
                currency: m.currency.clone(),
                days: YEAR_DAYS,
                test: m.amount.clone(),
            }),
            Condition::ExpensesAmount(e) => self.ledgers(Leaf::MoneyWindow {
                expenses: true,
                currency: e.money.currency.clone(),
                days: e.period.days(),
                test: e.money.amount.clone(),
            }),
            Condition::SelectedCustomers(ids) => Leaf::Selected(ids.clone()),
            Condition::Attribute(a) => self.attribute(a)?,
            Condition::Tags(t) => {
                self.needs.tags = true;
                let bits = |l: &[String]| IdSet::of(l.iter().map(|t| sym.tags.id(t) - 2));
                match t {
                    TagTest::HasAny(l) => Leaf::TagsAny(bits(l)),
                    TagTest::HasAll(l) => Leaf::TagsAll(bits(l)),
                    TagTest::HasNone(l) => Leaf::TagsNone(bits(l)),
                }
            }
            Condition::Bookings(t) => Leaf::Bookings(t.clone()),
            Condition::Lifecycle(l) => Leaf::Lifecycle(Box::new(self.lifecycle(l, settings))),
            // A map lookup on the customer: the condition evaluates itself.
            Condition::Balance(_) => return None,
        })
    }

    fn service(&mut self, f: &ServiceFilter) -> Option<ServiceLeaf> {
        self.needs.subscriptions = true;
        let sym = self.sym;
        let statuses = f.status.unwrap_or(StatusSet::HELD);
        // `None` for a leap-second bound, `Some(None)` for no bound.
        let bound = |o: &Option<DateOperand>| match o {
            None => Some(None),
            Some(d) => operand(d).map(Some),
        };
        Some(ServiceLeaf {
            filter: SubFilter {
                application: f.application.as_deref().map(|v| sym.applications.id(v)),
                product: f.product.as_deref().map(|v| sym.products.id(v)),
                plan: f.plan.as_deref().map(|v| sym.plans.id(v)),
                period: f.period.as_deref().map(|v| sym.periods.id(v)),
            },
            statuses: [
                SubscriptionStatus::Active,
                SubscriptionStatus::Pending,
                SubscriptionStatus::Suspended,
                SubscriptionStatus::Canceled,
                SubscriptionStatus::Expired,
            ]
            .into_iter()
            .filter(|s| statuses.contains(*s))
            .fold(0, |acc, s| acc | status_bit(s)),
            paid: f.paid,
            ordered_from: bound(&f.ordered_from)?,
            ordered_to: bound(&f.ordered_to)?,
        })
    }

    fn attribute(&mut self, a: &AttributeTest) -> Option<Leaf> {
        let date = |me: &mut Self, i: Instant, t: &Test<DateOperand>| Some(Leaf::Date(me.instant(i), date_test(t)?));
        let flag = |f: Flag, t: &Test<bool>| Some(Leaf::FlagTest(f, t.clone()));
        match (&a.field, &a.test) {
            (Field::Custom(key), test) => {
                let slot = self.sym.attributes.id(key) - 2;
                let texts = &self.sym.attribute_texts[slot as usize];
                Some(match test {
                    TypedTest::Presence { exists } => Leaf::AttrPresence(slot, *exists),
                    TypedTest::Number(t) => Leaf::AttrNumber(slot, t.clone()),
                    TypedTest::Boolean(t) => Leaf::AttrBoolean(slot, t.clone()),
                    TypedTest::Date(t) => Leaf::AttrDate(slot, date_test(t)?),
                    TypedTest::Text(t) => Leaf::AttrText(slot, text_test(t, texts)?),
                })
            }
            (Field::SignupDate, TypedTest::Date(t)) => date(self, Instant::SignupDate, t),
            (Field::RegistrationDate, TypedTest::Date(t)) => date(self, Instant::RegistrationDate, t),
            (Field::CreatedAt, TypedTest::Date(t)) => date(self, Instant::CreatedAt, t),
            (Field::LastActiveAt, TypedTest::Date(t)) => date(self, Instant::LastActiveAt, t),
            (Field::FirstBookingAt, TypedTest::Date(t)) => date(self, Instant::FirstBookingAt, t),
            (Field::LastBookingAt, TypedTest::Date(t)) => date(self, Instant::LastBookingAt, t),
            (Field::Bookings, TypedTest::Number(t)) => Some(Leaf::BookingsNumber(t.clone())),
            (Field::EmailVerified, TypedTest::Boolean(t)) => flag(Flag::EmailVerified, t),
            (Field::PhoneVerified, TypedTest::Boolean(t)) => flag(Flag::PhoneVerified, t),
            // Text profile fields: a string comparison either way.
            (_, TypedTest::Text(_)) => None,
            // Parsing pairs each profile field with its own type only (`AttributeTest::check`).
            _ => Some(Leaf::Const(false)),
        }
    }

    fn lifecycle(&mut self, l: &Lifecycle, s: &LifecycleSettings) -> LifecycleLeaf {
        self.needs.subscriptions = true;
        let sym = self.sym;
        let before = |w: u32| match l.timing {
            Some(Timing::BeforeDays(n)) => n,
            _ => w,
        };
        let after = match l.timing {
            Some(Timing::AfterDays(n)) => Some(n),
            _ => None,
        };
        let mut atoms = Vec::new();
        for state in l.states.iter().filter(|s| *s != State::Registered) {
            let atom = match state {
                State::Renewing => Atom {
                    state,
                    days: before(s.renewing_days),
                    after: None,
                },
                State::Expiring => Atom {
                    state,
                    days: before(s.expiring_days),
                    after: None,
                },
                State::Inactive => Atom {
                    state,
                    days: s.inactive_days,
                    after,
                },
                _ => Atom { state, days: 0, after },
            };
            let at = match self.atoms.iter().position(|a| *a == atom) {
                Some(i) => i,
                None => {
                    self.atoms.push(atom);
                    self.atoms.len() - 1
                }
            };
            atoms.push(at as u32);
        }
        let registered = l.states.contains(State::Registered);
        if registered {
            self.instant(Instant::RegistrationDate);
        }
        let inactive = l.states.contains(State::Inactive);
        if inactive {
            self.instant(Instant::LastActiveAt);
            self.instant(Instant::CreatedAt);
        }
        let ids = |d: &Dict, list: &Option<Vec<String>>| list.as_ref().map(|l| IdSet::of(l.iter().map(|v| d.id(v))));
        LifecycleLeaf {
            atoms: atoms.into_boxed_slice(),
            applications: ids(&sym.applications, &l.applications),
            products: ids(&sym.products, &l.products),
            plans: ids(&sym.plans, &l.plans),
            registered,
            inactive_days: inactive.then_some(s.inactive_days),
            after,
        }
    }
}

/// A date operand, or `None` for a leap second.
fn operand(o: &DateOperand) -> Option<Operand> {
    Some(match o {
        DateOperand::Day(d) => {
            let start = time::midnight(*d);
            Operand::Day {
                start,
                end: add(start, DAY),
            }
        }
        DateOperand::At(t) => {
            let t = time::ns(*t)?;
            Operand::At {
                t,
                day: time::day_of(t),
            }
        }
        DateOperand::Relative { offset, .. } => Operand::Relative {
            offset: i128::from(offset.num_seconds()) * time::SECOND + i128::from(offset.subsec_nanos()),
        },
    })
}

fn date_test(t: &Test<DateOperand>) -> Option<DateTest> {
    let all = |os: &[DateOperand]| os.iter().map(operand).collect::<Option<Box<[Operand]>>>();
    Some(match t {
        Test::Cmp(op, o) => DateTest::Cmp(*op, operand(o)?),
        Test::Between(a, b) => DateTest::Between(operand(a)?, operand(b)?),
        Test::In(os) => DateTest::In(all(os)?),
        Test::NotIn(os) => DateTest::NotIn(all(os)?),
        Test::Exists => DateTest::Exists,
        Test::Missing => DateTest::Missing,
        Test::Contains(_) | Test::StartsWith(_) => DateTest::Never,
    })
}

/// Equality tests on interned text; ordered and substring tests stay with the condition.
fn text_test(t: &Test<String>, texts: &Dict) -> Option<TextTest> {
    let ids = |vs: &[String]| IdSet::of(vs.iter().map(|v| texts.id(v)));
    Some(match t {
        Test::Cmp(CmpOp::Eq, v) => TextTest::Eq(texts.id(v)),
        Test::Cmp(CmpOp::Ne, v) => TextTest::Ne(texts.id(v)),
        Test::In(vs) => TextTest::In(ids(vs)),
        Test::NotIn(vs) => TextTest::NotIn(ids(vs)),
        Test::Exists => TextTest::Exists,
        Test::Missing => TextTest::Missing,
        _ => return None,
    })
}
