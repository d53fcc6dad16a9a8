//! Tests of group names and member lists.

mod unit {
    use super::super::*;

    #[test]
    fn phone_lists_report_bad_lines_with_their_numbers_and_skip_blank_lines() {
        let list = MemberList {
            phones: Some("380980000000\n\n12\n+44 20 7946 0958\r\n".into()),
            ..Default::default()
        };
        let ParsedMembers { keys, rejected } = ParsedMembers::try_from(list).unwrap();
        assert_eq!(keys.iter().map(|k| k.0).collect::<Vec<_>>(), vec![1, 4]);
        assert_eq!(rejected.len(), 1);
        assert_eq!((rejected[0].line, rejected[0].reason), (3, RejectReason::InvalidPhone));
    }

    #[test]
    fn exactly_one_kind_of_list_is_required() {
        assert!(ParsedMembers::try_from(MemberList::default()).is_err());
        let two = MemberList {
            emails: Some(vec![]),
            phones: Some("1".into()),
            ..Default::default()
        };
        assert!(ParsedMembers::try_from(two).is_err());
        let empty = MemberList {
            emails: Some(vec![]),
            ..Default::default()
        };
        assert!(ParsedMembers::try_from(empty).is_err());
    }

    #[test]
    fn group_names_are_trimmed_and_bounded() {
        assert_eq!(group_name("  VIP ").unwrap(), "VIP");
        assert!(group_name("   ").is_err());
        assert!(group_name(&"x".repeat(201)).is_err());
    }
}

mod properties {
    use super::super::*;
    use crate::contact::{Email, Phone};
    use proptest::prelude::*;

    proptest! {
        /// Every non-blank line of a phone list is accounted for exactly once, as a key or a rejection,
        /// under its own 1-based line number (oracle: counting the lines directly).
        #[test]
        fn every_phone_line_is_added_or_rejected_once(lines in proptest::collection::vec("[0-9 +a-z]{0,16}", 1..40)) {
            let text = lines.join("\n");
            let expected: Vec<usize> = text.lines().enumerate()
                .filter(|(_, l)| !l.trim().is_empty()).map(|(i, _)| i + 1).collect();
            match ParsedMembers::try_from(MemberList { phones: Some(text.clone()), ..Default::default() }) {
                Ok(ParsedMembers { keys, rejected }) => {
                    let mut seen: Vec<usize> = keys.iter().map(|k| k.0).chain(rejected.iter().map(|r| r.line)).collect();
                    seen.sort_unstable();
                    prop_assert_eq!(seen, expected);
                    for r in &rejected {
                        prop_assert_eq!(r.reason, RejectReason::InvalidPhone);
                    }
                }
                Err(_) => prop_assert!(expected.is_empty(), "only an all-blank list is refused"),
            }
        }

        /// Normalised contacts are fixed points: normalising again changes nothing.
        #[test]
        fn normalisation_is_idempotent(local in "[A-Za-z0-9._]{1,20}", domain in "[A-Za-z]{1,10}", tld in "[A-Za-z]{2,4}",
                                        digits in "[0-9]{9,12}") {
            let email = Email::parse(&format!(" {local}@{domain}.{tld} ")).unwrap();
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(email.as_str(), email.as_str().to_lowercase());
            if let Ok(phone) = Phone::parse(&digits) {
                prop_assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone.clone());
                prop_assert!(phone.as_str().starts_with('+'));
            }
        }
    }
}
