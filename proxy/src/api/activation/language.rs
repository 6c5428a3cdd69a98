//! The language of the activation pages: the one the person switched to (kept in a
//! cookie), else the first of the browser's `Accept-Language` the pages are written in.

use http::{HeaderMap, header};

use super::text::{self, Text};

/// The cookie keeping the language a person switched to.
pub(super) const COOKIE: &str = "linkgate_lang";

/// The languages the pages are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Language {
    English,
    Spanish,
    French,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::English, Language::Spanish, Language::French];

    /// The BCP 47 tag, as `lang` attributes and the switch's links carry it.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Spanish => "es",
            Language::French => "fr",
        }
    }

    /// The language's name in itself, as the switch shows it.
    pub fn name(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::Spanish => "Español",
            Language::French => "Français",
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Language::English => &text::ENGLISH,
            Language::Spanish => &text::SPANISH,
            Language::French => &text::FRENCH,
        }
    }

    /// A language the pages are written in, by a tag's primary subtag (`es-MX` is Spanish).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next()?;
        Self::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The page's language: `chosen` (the switch's link), else the cookie the switch set,
    /// else the browser's most preferred language the pages have (a weight of 0 refuses a
    /// language), else English.
    pub fn of(headers: &HeaderMap, chosen: Option<&str>, cookie: Option<&str>) -> Self {
        let picked = |tag: Option<&str>| tag.and_then(Self::from_tag);
        if let Some(language) = picked(chosen).or_else(|| picked(cookie)) {
            return language;
        }
        headers
            .get_all(header::ACCEPT_LANGUAGE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(accept_language::parse_with_quality)
            .filter(|(_, quality)| *quality > 0.0)
            .find_map(|(tag, _)| Self::from_tag(&tag))
            .unwrap_or(Language::English)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accepting(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_browser_s_preference_picks_among_the_pages_languages() {
        let of = |value| Language::of(&accepting(value), None, None);
        assert_eq!(of("es-MX,es;q=0.9,en;q=0.8"), Language::Spanish);
        assert_eq!(of("de-DE, fr-CA;q=0.7, en;q=0.5"), Language::French);
        assert_eq!(of("en;q=0.2, fr;q=0.9"), Language::French);
        assert_eq!(of("fr;q=0, es;q=0.1"), Language::Spanish);
        assert_eq!(of("de, ja"), Language::English);
        assert_eq!(
            Language::of(&HeaderMap::new(), None, None),
            Language::English
        );
    }

    #[test]
    fn a_switch_outranks_the_browser() {
        let headers = accepting("fr");
        assert_eq!(Language::of(&headers, None, Some("es")), Language::Spanish);
        assert_eq!(
            Language::of(&headers, Some("en"), Some("es")),
            Language::English
        );
        assert_eq!(
            Language::of(&headers, Some("xx"), None),
            Language::French,
            "an unknown choice is ignored"
        );
    }
}
