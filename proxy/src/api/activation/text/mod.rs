//! What the activation pages say, in each language they are written in. Every language
//! fills the same `Text`, so a sentence missing from one does not compile.
//!
//! The sentences are HTML: their own words need no escaping (no `<` or `&`), and what they
//! are given (a service's or device's name, a code) is already escaped, and may be marked
//! up (`<strong>`).

mod en;
mod es;
mod fr;

pub(super) use en::ENGLISH;
pub(super) use es::SPANISH;
pub(super) use fr::FRENCH;

/// A sentence with the pieces it is given.
type Say1 = fn(&str) -> String;
type Say2 = fn(&str, &str) -> String;

pub(in crate::api) struct Text {
    /// "Activate {service}": the code page's heading and title.
    pub activate: Say1,
    pub code_label: &'static str,
    pub code_hint: &'static str,
    pub continue_button: &'static str,
    pub code_not_valid: &'static str,
    pub languages: &'static str,

    pub confirm_title: &'static str,
    /// You are activating {service} on {device}, which asked for {code} {when}.
    pub activating: fn(&str, &str, &str, &str) -> String,
    /// When the code was asked for, in minutes ago.
    pub asked: fn(u64) -> String,
    /// It asked from {network}, the one this browser is on.
    pub from_here: Say1,
    /// It asked from {network}, not the one this browser is on.
    pub from_elsewhere: Say1,
    pub stop_if_sent: &'static str,
    /// Yes, {device} is in front of me and shows {code}.
    pub confirm_label: Say2,
    pub providers: &'static str,
    /// Sign in with {provider}.
    pub sign_in_with: Say1,
    pub tick_the_box: &'static str,
    /// your {kind} ({id})
    pub device_of_kind: Say2,
    /// your device {id}
    pub device: Say1,
    pub some_device: &'static str,

    pub all_set_title: &'static str,
    /// {device} is activated.
    pub all_set: Say1,
    pub almost_title: &'static str,
    /// {device} waits for {service}'s approval.
    pub almost: Say2,
    pub another_device: &'static str,
    pub wrong_title: &'static str,
    pub too_many_title: &'static str,
    /// Too many attempts on {service}: wait {seconds}.
    pub too_many: Say2,

    pub session_gone: &'static str,
    pub no_public_url: &'static str,
    pub from_another_site: &'static str,
    pub not_sent_back: &'static str,
    pub provider_unusable: &'static str,
    pub provider_unreachable: &'static str,
    /// The provider did not sign the person in ({its error}).
    pub provider_refused: Say1,
    pub answer_unusable: &'static str,
    pub answer_refused: &'static str,
    pub identity_unusable: &'static str,
    pub code_gone: &'static str,
    pub not_activated: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(t: &Text) -> Vec<String> {
        let fixed = [
            t.code_label,
            t.code_hint,
            t.continue_button,
            t.code_not_valid,
            t.languages,
            t.confirm_title,
            t.stop_if_sent,
            t.providers,
            t.tick_the_box,
            t.some_device,
            t.all_set_title,
            t.almost_title,
            t.another_device,
            t.wrong_title,
            t.too_many_title,
            t.session_gone,
            t.no_public_url,
            t.from_another_site,
            t.not_sent_back,
            t.provider_unusable,
            t.provider_unreachable,
            t.answer_unusable,
            t.answer_refused,
            t.identity_unusable,
            t.code_gone,
            t.not_activated,
        ];
        let mut all: Vec<String> = fixed.iter().map(|s| (*s).to_owned()).collect();
        all.extend([
            (t.activate)("S"),
            (t.activating)("S", "D", "C", "W"),
            (t.asked)(0),
            (t.asked)(1),
            (t.asked)(7),
            (t.from_here)("N"),
            (t.from_elsewhere)("N"),
            (t.confirm_label)("D", "C"),
            (t.sign_in_with)("P"),
            (t.device_of_kind)("K", "I"),
            (t.device)("I"),
            (t.all_set)("D"),
            (t.almost)("D", "S"),
            (t.too_many)("S", "30"),
            (t.provider_refused)("E"),
        ]);
        all
    }

    #[test]
    fn every_sentence_is_safe_html_and_says_what_it_is_given() {
        for t in [&ENGLISH, &SPANISH, &FRENCH] {
            for sentence in sentences(t) {
                assert!(!sentence.trim().is_empty());
                assert!(!sentence.contains(['<', '>', '&', '"']), "{sentence}");
            }
            let given = [
                (
                    (t.activating)("Svc", "Dev", "Cde", "Wh"),
                    &["Svc", "Dev", "Cde", "Wh"][..],
                ),
                ((t.confirm_label)("Dev", "Cde"), &["Dev", "Cde"]),
                ((t.almost)("Dev", "Svc"), &["Dev", "Svc"]),
                ((t.too_many)("Svc", "30"), &["Svc", "30"]),
                ((t.asked)(7), &["7"]),
                ((t.from_here)("Net"), &["Net"]),
                ((t.from_elsewhere)("Net"), &["Net"]),
                ((t.device_of_kind)("Kind", "Id"), &["Kind", "Id"]),
            ];
            for (said, pieces) in given {
                for piece in pieces {
                    assert!(said.contains(piece), "{said:?} leaves out {piece}");
                }
            }
        }
    }

    #[test]
    fn each_language_says_its_own_words() {
        let english = sentences(&ENGLISH);
        for other in [&SPANISH, &FRENCH] {
            let same: Vec<_> = sentences(other)
                .into_iter()
                .zip(&english)
                .filter(|(a, b)| a == *b)
                .map(|(a, _)| a)
                .collect();
            assert!(same.is_empty(), "left in English: {same:?}");
        }
    }
}
